"""Test settings: the production settings plus a test-only app and a fast password hasher."""

from jindu.settings import *  # noqa: F401,F403
from jindu.settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "jindu.core.tests.testapp"]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Most tests sign in privileged users with force_login; the OTP tests switch enforcement on.
JINDU_ENFORCE_OTP = False
# The precursors demo world at its full size (409 + 5 enterprises, ~100k ledger entries)
# takes ~15–30 s to seed; tests that run seed_demo get a small world of the same shape
# (jindu/precursors/tests/test_demo.py checks the full plan's counts without writing it).
JINDU_DEMO_PRECURSORS_SIZE = 40
