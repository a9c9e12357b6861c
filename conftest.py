"""Suite-wide fixtures: the test database gets Haikou's divisions once per session.
Every test runs in the default language (Chinese).

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


@pytest.fixture(autouse=True)
def _default_language():
    """Every test starts and ends in the default language (Chinese): a request through
    ``LocaleMiddleware`` with an English cookie leaves English active in the thread, which
    would otherwise leak into the next test's messages."""
    from django.conf import settings
    from django.utils import translation

    translation.activate(settings.LANGUAGE_CODE)
    yield
    translation.activate(settings.LANGUAGE_CODE)
