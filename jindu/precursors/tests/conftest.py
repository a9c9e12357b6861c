import pytest


@pytest.fixture(autouse=True)
def _catalogue(db):
    """The shipped chemical catalogue (post_migrate loads it; tests that flush tables may
    lose it, so make sure it is there)."""
    from jindu.precursors.loaders import load_catalogue

    load_catalogue()


@pytest.fixture
def seller(db):
    """A trader (the selling side of the reconciliation tests)."""
    from jindu.precursors.choices import EnterpriseKind
    from jindu.precursors.tests.factories import EnterpriseFactory

    return EnterpriseFactory(kind=EnterpriseKind.TRADER)


@pytest.fixture
def buyer(db):
    """A user enterprise (the buying side of the reconciliation tests)."""
    from jindu.precursors.choices import EnterpriseKind
    from jindu.precursors.tests.factories import EnterpriseFactory

    return EnterpriseFactory(kind=EnterpriseKind.USER)
