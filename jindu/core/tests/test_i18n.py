"""The English catalogue is complete and compiled, and English pages show no Chinese chrome.

Msgids are the Simplified Chinese UI strings (DESIGN.md "Language"); ``jindu/locale/en``
holds the English catalogue. Regenerate it with::

    .venv/bin/python manage.py makemessages -l en --ignore=.venv --ignore=node_modules --no-obsolete
    # translate every new or fuzzy entry, then
    .venv/bin/python manage.py compilemessages -l en --ignore=.venv
"""

from __future__ import annotations

import gettext
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse

LOCALE_DIR = Path(settings.BASE_DIR) / "jindu" / "locale" / "en" / "LC_MESSAGES"
PO = LOCALE_DIR / "django.po"
MO = LOCALE_DIR / "django.mo"
CJK = re.compile(r"[\u3400-\u9fff\U00020000-\U0003134f\uf900-\ufaff]")

needs_msgfmt = pytest.mark.skipif(shutil.which("msgfmt") is None, reason="GNU gettext's msgfmt is not installed")


def msgfmt(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["msgfmt", *args], capture_output=True, text=True, check=False)


@needs_msgfmt
def test_compiled_catalogue_matches_po(tmp_path):
    """``django.mo`` is ``django.po`` compiled: the same messages and translations."""
    fresh = tmp_path / "django.mo"
    done = msgfmt("--check-format", "-o", str(fresh), str(PO))
    assert done.returncode == 0, done.stderr
    with fresh.open("rb") as fh:
        expected = gettext.GNUTranslations(fh)._catalog
    with MO.open("rb") as fh:
        committed = gettext.GNUTranslations(fh)._catalog
    stale = sorted(str(k) for k in set(expected) ^ set(committed)) + sorted(
        str(k) for k in set(expected) & set(committed) if expected[k] != committed[k]
    )
    assert not stale, "django.mo is out of date; run compilemessages. Differences: " + "; ".join(stale[:10])


@needs_msgfmt
def test_po_has_no_untranslated_or_fuzzy_entries():
    """Every msgid has an English translation that a translator has confirmed, and the
    catalog's header is complete (``--check`` includes the plural-forms header)."""
    done = msgfmt("--statistics", "--check", "-o", "/dev/null", str(PO))
    assert done.returncode == 0, done.stderr
    # e.g. "443 translated messages, 11 fuzzy translations, 36 untranslated messages."
    stats = done.stderr.strip()
    assert "fuzzy" not in stats and "untranslated" not in stats, stats
    assert re.match(r"^\d+ translated messages?\.$", stats), stats


def test_po_placeholders_survive_translation():
    """``%(name)s`` and ``{}`` placeholders in every msgstr match its msgid (msgfmt only
    checks python-format entries that are flagged as such)."""
    text = PO.read_text(encoding="utf-8")
    placeholder = re.compile(r"%\(\w+\)[sdif]|\{\w*\}")
    problems = []
    for block in re.split(r"\n\n", text):
        ids = re.search(r'(?m)^msgid ((?:"[^\n]*"\n?)+)', block)
        strs = re.findall(r'(?m)^msgstr(?:\[\d\])? ((?:"[^\n]*"\n?)+)', block)
        if not ids or not strs:
            continue
        msgid = "".join(re.findall(r'"([^\n]*)"', ids.group(1)))
        if not msgid:
            continue
        wanted = sorted(placeholder.findall(msgid))
        for s in strs:
            msgstr = "".join(re.findall(r'"([^\n]*)"', s))
            if msgstr and sorted(placeholder.findall(msgstr)) != wanted:
                problems.append(f"{msgid!r} → {msgstr!r}")
    assert not problems, problems[:10]


# -- English pages ------------------------------------------------------------------------


class _VisibleText(HTMLParser):
    """Collects what a reader sees or hears: text outside ``<script>``/``<style>`` (the
    navigation, headings, tables, forms, buttons) and the ``aria-label``, ``title`` and
    ``placeholder`` attributes. Text marked with another language (the language
    switcher's "简体中文") is skipped: it is meant to be in that language."""

    HIDDEN = {"script", "style"}

    def __init__(self):
        super().__init__()
        self.hidden = 0
        self.foreign: list[str] = []  # tags opened with lang="…" other than English
        self.texts: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in self.HIDDEN:
            self.hidden += 1
        if tag != "html" and attrs.get("lang") not in (None, "en"):
            self.foreign.append(tag)
        if not self.foreign:
            self.texts += [attrs[n] for n in ("aria-label", "title", "placeholder") if attrs.get(n)]

    def handle_endtag(self, tag):
        if tag in self.HIDDEN:
            self.hidden -= 1
        if self.foreign and self.foreign[-1] == tag:
            self.foreign.pop()

    def handle_data(self, data):
        if not self.hidden and not self.foreign and data.strip():
            self.texts.append(data.strip())


def data_names() -> list[str]:
    """Names that are data, not UI: divisions, units, role names (stored per installation)."""
    from jindu.accounts.models import Role
    from jindu.geo.models import Division
    from jindu.org.models import Unit

    names = set(Division.objects.values_list("name", flat=True))
    names |= set(Unit.objects.values_list("name", flat=True))
    names |= set(Role.objects.values_list("name", flat=True))
    return sorted((n for n in names if n), key=len, reverse=True)


def chinese_text(html: str) -> list[str]:
    """Visible texts of ``html`` that still hold Chinese once data names are removed."""
    parser = _VisibleText()
    parser.feed(html)
    names = data_names()
    leftovers = []
    for text in parser.texts:
        if not CJK.search(text):
            continue
        stripped = text
        for name in names:
            if name in stripped:
                stripped = stripped.replace(name, "")
        if CJK.search(stripped):
            leftovers.append(text)
    return leftovers


@pytest.fixture
def english_client(client, db):
    from jindu.accounts.models import Role, RoleAssignment, User
    from jindu.geo.models import Division

    user = User.objects.create_user(username="english_reader", password="pw-not-used-123")
    district = Division.objects.get(code="460106000000")
    RoleAssignment.objects.create(user=user, role=Role.objects.get(code="district_office"), division=district)
    client.force_login(user)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


@pytest.mark.parametrize("url_name", [
        "home", "org:unit_list", "org:pairing_list", "org:membership_list", "org:unit_import", "geo:division_tree", "job_list", "import_batches",
        "accounts:user_list", "accounts:token",
    ])
def test_english_pages_have_no_chinese_text(english_client, url_name):
    response = english_client.get(reverse(url_name))
    assert response.status_code == 200
    html = response.content.decode()
    assert '<html lang="en"' in html
    assert chinese_text(html) == []


def test_english_job_page_has_no_chinese_text(english_client, django_capture_on_commit_callbacks):
    from jindu.core.models import Job
    from jindu.core.tests.test_jobs import run_db_worker

    with django_capture_on_commit_callbacks(execute=True):
        response = english_client.post(reverse("job_count_divisions"))
    job = Job.objects.get()
    run_db_worker()
    html = english_client.get(response["Location"]).content.decode()
    assert job.title in html or "divisions" in html.lower()
    # The job's title and summary were written in the owner's language at the time; the
    # page around them must be English.
    job.refresh_from_db()
    data = {job.title, *(str(row[0]) for row in (job.result or {}).get("summary", []))}
    assert [t for t in chinese_text(html) if t not in data] == []


def test_chinese_is_the_default(client, db):
    html = client.get(reverse("login")).content.decode()
    assert '<html lang="zh-CN"' in html and "登录" in html
