import pytest


@pytest.fixture(autouse=True)
def _catalogue(db):
    """The shipped chemical catalogue (post_migrate loads it; tests that flush tables may
    lose it, so make sure it is there)."""
    from jindu.precursors.loaders import load_catalogue

    load_catalogue()
