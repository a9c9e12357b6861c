"""Suite-wide fixtures: the test database gets Haikou's divisions once per session.

Uploaded and generated files (import batches, job results) go to a per-test temporary
``MEDIA_ROOT``, never into the working tree's ``var/``.
"""

import pytest


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    from jindu.geo.services import load_city

    with django_db_blocker.unblock():
        load_city("460100")


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
