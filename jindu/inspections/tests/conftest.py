import pytest


@pytest.fixture(autouse=True)
def _checklists(db):
    """The shipped checklist profiles (post_migrate loads them; tests that flush tables
    may lose them, so make sure they are there)."""
    from jindu.inspections.loaders import shipped_profiles
    from jindu.inspections.services import ensure_checklist_profiles

    ensure_checklist_profiles(shipped_profiles())
