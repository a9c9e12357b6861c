"""Suite-wide fixtures: the test database gets Haikou's divisions once per session."""

import pytest


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    from jindu.geo.services import load_city

    with django_db_blocker.unblock():
        load_city("460100")
