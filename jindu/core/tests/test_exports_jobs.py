"""Large exports run as background jobs (issue 2), and peer case 21 (export performance).

The export page answers small exports at once; above ``JINDU_EXPORT_BACKGROUND_ROWS`` it
starts a job that re-applies the owner's scope and the page's filters when it runs,
writes the file with progress, and keeps it for the owner's logged download. The worker
runs in-process on the database backend, as in ``test_jobs.py``.
"""

from __future__ import annotations

import io
from unittest import mock

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import path, reverse
from openpyxl import load_workbook

from jindu.core.exports import CODE, IDENTITY, ExportColumn, Exporter, export_to_file
from jindu.core.jobs import JobReporter
from jindu.core.models import AccessLog, Job
from jindu.core.testing import division, permissions_for, user_with
from jindu.core.tests.test_imports import ID_A, ID_B
from jindu.core.tests.test_jobs import run_db_worker
from jindu.core.tests.testapp.models import Specimen
from jindu.core.views.imports import ExportView
from jindu.urls import urlpatterns as site_urlpatterns

ID_C = "110101197508123415"
TOWN = "460106001"  # 龙华区 中山街道: the owner's jurisdiction
OTHER_TOWN = "460105001"  # 秀英区: out of the owner's scope

pytestmark = pytest.mark.urls(__name__)


class FilteredSpecimenExporter(Exporter):
    """Test-only exporter with one list filter (``?q=`` part of the name)."""

    name = "testapp.specimen_filtered"
    label = "样本"
    model = Specimen
    select_related = ("division",)
    personal_data = True
    columns = [
        ExportColumn("身份证号", "id_number", kind=IDENTITY),
        ExportColumn("姓名", "name"),
        ExportColumn("所属区划", "division.code", kind=CODE),
    ]

    def get_queryset(self, user, params=None):
        qs = super().get_queryset(user, params).order_by("pk")
        q = (params or {}).get("q")
        return qs.filter(name__contains=q) if q else qs


class PeerCase21Exporter(Exporter):
    """Rows with two foreign keys (division with its parent, assignee), as peer case 21."""

    name = "testapp.specimen_fk"
    label = "样本"
    model = Specimen
    select_related = ("division__parent", "assignee")
    columns = [
        ExportColumn("姓名", "name"),
        ExportColumn("所属区划", "division.code", kind=CODE),
        ExportColumn("村居", "division.name"),
        ExportColumn("镇街", "division.parent.name"),
        ExportColumn("社工", "assignee.username"),
        ExportColumn("身份证号", "id_number", kind=IDENTITY),
    ]

    def get_queryset(self, user, params=None):
        qs = super().get_queryset(user, params).order_by("pk")
        code = (params or {}).get("division")
        return qs.filter(division__code=code) if code else qs


urlpatterns = [
    *site_urlpatterns,
    path("test-exports/specimens/", ExportView.as_view(exporter=FilteredSpecimenExporter), name="test_specimen_export"),
    path("test-exports/peer21/", ExportView.as_view(exporter=PeerCase21Exporter), name="test_peer21_export"),
]


def owner_with(*extra: str):
    return user_with(permissions_for(Specimen, ["view"]) + list(extra), division(TOWN))


@pytest.fixture
def owner(db):
    return owner_with()


@pytest.fixture
def rows(db):
    """Three matching rows in scope, one non-matching in scope, one matching out of scope."""
    town, other = division(TOWN), division(OTHER_TOWN)
    Specimen.objects.create(name="甲一", division=town, id_number=ID_A)
    Specimen.objects.create(name="甲二", division=town, id_number=ID_B)
    Specimen.objects.create(name="甲三", division=town)
    Specimen.objects.create(name="乙一", division=town)
    Specimen.objects.create(name="甲外", division=other, id_number=ID_C)


def read_xlsx(content: bytes) -> list[tuple]:
    ws = load_workbook(io.BytesIO(content)).active
    return [tuple(r) for r in ws.iter_rows(min_row=2, values_only=True)]


def start_export(client, user, django_capture_on_commit_callbacks, query: str = "q=甲") -> Job:
    client.force_login(user)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.get(reverse("test_specimen_export") + "?" + query)
    job = Job.objects.get(created_by=user)
    assert response.status_code == 302
    assert response["Location"] == reverse("job_detail", args=[job.pk])
    return job


def download(client, job: Job) -> bytes:
    response = client.get(reverse("job_download", args=[job.pk]))
    assert response.status_code == 200
    return b"".join(response.streaming_content)


def test_small_export_is_immediate(client, owner, rows, settings):
    settings.JINDU_EXPORT_BACKGROUND_ROWS = 3
    client.force_login(owner)
    response = client.get(reverse("test_specimen_export") + "?q=甲")  # exactly 3 rows: not more
    assert response.status_code == 200
    assert "attachment" in response["Content-Disposition"]
    assert [r[1] for r in read_xlsx(b"".join(response.streaming_content))] == ["甲一", "甲二", "甲三"]
    assert not Job.objects.exists()


def test_large_export_runs_as_job_with_scope_filters_and_masking(
    client, owner, rows, settings, django_capture_on_commit_callbacks
):
    settings.JINDU_EXPORT_BACKGROUND_ROWS = 2
    job = start_export(client, owner, django_capture_on_commit_callbacks)
    assert job.status == Job.Status.QUEUED
    assert job.params["params"] == {"q": ["甲"]}  # filters travel, never a list of ids
    assert "样本" in job.title

    # Data as of when the job runs: a row added after the request is exported too.
    Specimen.objects.create(name="甲四", division=division(TOWN))
    run_db_worker()

    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED, job.message
    assert job.result["rows"] == 4
    assert job.progress_done == job.progress_total == 4
    exported = read_xlsx(download(client, job))
    assert [r[1] for r in exported] == ["甲一", "甲二", "甲三", "甲四"]  # no 乙一, no 甲外
    # The owner may not see full identity numbers: masked as on every page.
    assert exported[0][0] == ID_A[:6] + "********" + ID_A[-4:]
    assert exported[1][0] == ID_B[:6] + "********" + ID_B[-4:]
    assert exported[2][0] is None
    assert all(ID_A not in str(r) and ID_B not in str(r) for r in exported)

    export_log = AccessLog.objects.get(kind=AccessLog.Kind.EXPORT)
    assert export_log.user == owner and export_log.result_count == 4
    download_log = AccessLog.objects.get(kind=AccessLog.Kind.DOWNLOAD)
    assert download_log.user == owner and download_log.object_ids == [str(job.pk)]


def test_job_export_shows_numbers_to_owner_who_may_see_them(
    client, rows, settings, django_capture_on_commit_callbacks
):
    settings.JINDU_EXPORT_BACKGROUND_ROWS = 1
    owner = owner_with("accounts.view_identity_number")
    job = start_export(client, owner, django_capture_on_commit_callbacks, query="q=甲&format=csv")
    run_db_worker()
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED, job.message
    assert job.result_file.name.endswith(".csv")
    text = download(client, job).decode("utf-8-sig")
    assert ID_A in text and ID_B in text and ID_C not in text and "乙一" not in text


def test_unmasking_held_elsewhere_does_not_unmask(rows):
    """The permission must be held over the row's division (another district's grant
    does not count), the same rule as pages and API."""
    from jindu.core.testing import grant, make_role

    owner = owner_with()
    grant(owner, make_role(["accounts.view_identity_number"]), division(OTHER_TOWN))
    fh, count = export_to_file(FilteredSpecimenExporter(), user=owner, fmt="csv", params={"q": "甲"})
    text = fh.read().decode("utf-8-sig")
    assert count == 3 and ID_A not in text and ID_A[:6] + "********" + ID_A[-4:] in text


def test_download_by_another_user_is_404(client, owner, rows, settings, django_capture_on_commit_callbacks):
    settings.JINDU_EXPORT_BACKGROUND_ROWS = 1
    job = start_export(client, owner, django_capture_on_commit_callbacks)
    run_db_worker()
    stranger = owner_with("accounts.view_identity_number")  # same scope, more rights: still not theirs
    client.force_login(stranger)
    assert client.get(reverse("job_download", args=[job.pk])).status_code == 404
    assert client.get(reverse("job_detail", args=[job.pk])).status_code == 404
    assert not AccessLog.objects.filter(kind=AccessLog.Kind.DOWNLOAD).exists()


def test_job_uses_owner_grants_when_it_runs(client, owner, rows, settings, django_capture_on_commit_callbacks):
    settings.JINDU_EXPORT_BACKGROUND_ROWS = 1
    job = start_export(client, owner, django_capture_on_commit_callbacks)
    owner.role_assignments.all().delete()  # revoked before the worker picks the job up
    run_db_worker()
    job.refresh_from_db()
    assert job.status == Job.Status.FAILED
    assert "没有查看样本的权限" in job.message
    assert not job.result_file


# -- peer case 21: 20,000 rows with foreign keys ---------------------------------------


@pytest.fixture
def twenty_thousand(db):
    villages = list(division(TOWN).children.order_by("code")[:3])
    assert len(villages) == 3
    worker = owner_with()
    sizes = [(villages[0], 100), (villages[1], 1000), (villages[2], 18900)]
    Specimen.objects.bulk_create(
        [
            Specimen(name=f"样本{v.code[-3:]}-{i}", division=v, assignee=worker)
            for v, n in sizes
            for i in range(n)
        ],
        batch_size=2000,
    )
    return {"worker": worker, **{n: v for v, n in sizes}}


def test_peer_case_21_query_count_flat_and_full_export_is_job(
    client, twenty_thousand, settings, django_assert_num_queries, django_capture_on_commit_callbacks
):
    owner = owner_with()
    owner.get_scope_grants()  # grants are loaded once per user object: keep them out of the count
    exporter = PeerCase21Exporter()
    with CaptureQueriesContext(connection) as small:
        _fh, count = export_to_file(exporter, user=owner, params={"division": twenty_thousand[100].code})
    assert count == 100
    with django_assert_num_queries(len(small.captured_queries)):
        fh, count = export_to_file(exporter, user=owner, params={"division": twenty_thousand[1000].code})
    assert count == 1000
    first = read_xlsx(fh.read())[0]
    assert first[1] == twenty_thousand[1000].code and first[2] == twenty_thousand[1000].name
    assert first[3] == division(TOWN).name and first[4] == twenty_thousand["worker"].username

    # The full export: 20,000 rows > the default threshold of 2,000 → a job with progress.
    settings.JINDU_EXPORT_BACKGROUND_ROWS = 2000
    client.force_login(owner)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.get(reverse("test_peer21_export"))
    job = Job.objects.get(created_by=owner)
    assert response.status_code == 302 and response["Location"] == reverse("job_detail", args=[job.pk])

    reported = []
    original = JobReporter.progress

    def spy(self, done, total=None, message=""):
        reported.append((done, total))
        return original(self, done, total, message)

    with mock.patch.object(JobReporter, "progress", spy):
        run_db_worker()
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED, job.message
    assert job.result["rows"] == 20000
    assert job.progress_done == job.progress_total == 20000
    assert job.percent == 100
    steps = [done for done, _total in reported]
    assert steps[0] == 0 and steps[-1] == 20000
    assert {2000, 10000, 18000} <= set(steps)  # once per chunk, not only at the end
    assert len(read_xlsx(download(client, job))) == 20000
