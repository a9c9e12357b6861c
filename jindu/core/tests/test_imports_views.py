"""Generic import pages: upload, batch page, commit/cancel, who may see a batch, and large
files handled by background jobs (database worker)."""

from __future__ import annotations

import io
import signal
from unittest import mock

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from jindu.core.imports.testing import make_csv
from jindu.core.models import ImportBatch, Job
from jindu.core.testing import division, grant, permissions_for, user_with
from jindu.core.tests.test_imports import ID_A, ID_B, SpecimenImporter  # noqa: F401 (registers it)
from jindu.core.tests.testapp.models import Specimen

GOOD = make_csv([["身份证号", "姓名"], [ID_A, "甲"], [ID_B, "乙"]])


def perms():
    return permissions_for(Specimen, ["view", "add", "change"]) + ["geo.view_division"]


@pytest.fixture
def owner(db):
    return user_with(perms(), division("4601"))


def post_file(client, data: bytes, name: str, importer: str = "testapp.specimen"):
    f = io.BytesIO(data)
    f.name = name
    return client.post(reverse("import_upload", args=[importer]), {"file": f})


def run_db_worker() -> None:
    """One pass of the database worker in this process (see test_jobs.run_db_worker)."""
    saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGQUIT)}
    try:
        with mock.patch("django_tasks_db.management.commands.db_worker.close_old_connections"):
            call_command("db_worker", "--batch", "--no-startup-delay", "--queue-name", "*", "--no-reload", verbosity=0)
    finally:
        for s, handler in saved.items():
            signal.signal(s, handler)


def test_upload_page_and_unknown_importer(client, owner):
    client.force_login(owner)
    page = client.get(reverse("import_upload", args=["testapp.specimen"]))
    assert page.status_code == 200
    html = page.content.decode()
    assert "身份证号" in html and reverse("import_template", args=["testapp.specimen"]) in html
    assert client.get(reverse("import_upload", args=["nope.nothing"])).status_code == 404


def test_anonymous_and_unpermitted_users(client, db):
    url = reverse("import_upload", args=["testapp.specimen"])
    assert client.get(url).status_code == 302  # to the login page
    client.force_login(user_with(["geo.view_division"], division("4601")))
    assert client.get(url).status_code == 403


def test_upload_preview_commit_pages(client, owner):
    client.force_login(owner)
    resp = post_file(client, GOOD, "名单.csv")
    batch = ImportBatch.objects.get()
    assert resp["Location"] == reverse("import_batch", args=[batch.pk])
    assert batch.status == ImportBatch.Status.PREVIEWED and batch.created_by == owner
    html = client.get(resp["Location"]).content.decode()
    assert "名单.csv" in html and 'data-testid="commit"' in html and "110101********1233" in html
    assert ID_A not in html  # identity numbers masked in the preview
    assert Specimen.objects.count() == 0

    resp = client.post(reverse("import_commit", args=[batch.pk]), follow=True)
    assert "导入完成：新增 2 条" in resp.content.decode()
    batch.refresh_from_db()
    assert batch.status == ImportBatch.Status.COMMITTED
    assert Specimen.objects.count() == 2
    # committing twice does nothing more
    client.post(reverse("import_commit", args=[batch.pk]))
    assert Specimen.objects.count() == 2
    assert client.get(reverse("import_commit", args=[batch.pk])).status_code == 405


def test_rejected_file_shows_errors_and_cannot_commit(client, owner):
    client.force_login(owner)
    post_file(client, make_csv([["身份证号", "姓名"], [ID_A, "甲"], [ID_A, "甲二"]]), "dup.csv")
    batch = ImportBatch.objects.get()
    assert batch.status == ImportBatch.Status.REJECTED
    html = client.get(reverse("import_batch", args=[batch.pk])).content.decode()
    assert "第 2 行" in html and "第 3 行" in html and 'data-testid="commit"' not in html
    client.post(reverse("import_commit", args=[batch.pk]))
    assert Specimen.objects.count() == 0


def test_unreadable_files_refused_on_the_form(client, owner):
    client.force_login(owner)
    resp = post_file(client, b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 64, "old.xls")
    assert resp.status_code == 200 and "xlsx" in resp.content.decode()
    assert ImportBatch.objects.count() == 0
    # a csv in an unknown encoding becomes a rejected batch with the encoding error
    post_file(client, b"\xff\xfe" + "身份证号".encode("utf-16-le"), "u16.csv")
    batch = ImportBatch.objects.get()
    assert batch.status == ImportBatch.Status.REJECTED and "UTF-16" in batch.errors[0]["message"]


def test_cancel(client, owner):
    client.force_login(owner)
    post_file(client, GOOD, "a.csv")
    batch = ImportBatch.objects.get()
    client.post(reverse("import_cancel", args=[batch.pk]))
    batch.refresh_from_db()
    assert batch.status == ImportBatch.Status.CANCELLED
    client.post(reverse("import_commit", args=[batch.pk]))
    assert Specimen.objects.count() == 0


def test_batch_visible_only_to_uploader_and_ncc_admin(client, owner):
    client.force_login(owner)
    post_file(client, GOOD, "a.csv")
    batch = ImportBatch.objects.get()
    stranger = user_with(perms(), division("4601"))
    client.force_login(stranger)
    assert client.get(reverse("import_batch", args=[batch.pk])).status_code == 404
    assert client.post(reverse("import_commit", args=[batch.pk])).status_code == 404
    assert client.post(reverse("import_cancel", args=[batch.pk])).status_code == 404
    assert "a.csv" not in client.get(reverse("import_batches")).content.decode()

    admin = user_with([], division("4601"))
    grant(admin, "ncc_admin", "4601")
    client.force_login(admin)
    html = client.get(reverse("import_batch", args=[batch.pk])).content.decode()
    assert "a.csv" in html and 'data-testid="commit"' not in html  # may look, not commit
    client.post(reverse("import_commit", args=[batch.pk]))
    batch.refresh_from_db()
    assert batch.status == ImportBatch.Status.PREVIEWED
    assert "a.csv" in client.get(reverse("import_batches")).content.decode()


def test_same_file_again_is_noted(client, owner):
    client.force_login(owner)
    post_file(client, GOOD, "a.csv")
    first = ImportBatch.objects.get()
    client.post(reverse("import_commit", args=[first.pk]))
    post_file(client, GOOD, "a-again.csv")
    second = ImportBatch.objects.latest("pk")
    assert second.summary["same_file_committed"]["batch"] == first.pk
    assert second.summary["counts"] == {"created": 0, "updated": 0, "unchanged": 2}
    html = client.get(reverse("import_batch", args=[second.pk])).content.decode()
    first.refresh_from_db()
    # The earlier commit's time as a local date and time, not the stored ISO text.
    local = timezone.localtime(first.committed_at).strftime("%Y-%m-%d %H:%M")
    assert f"同一文件已于 {local} 导入过" in html and first.committed_at.isoformat() not in html


def test_large_file_previewed_and_committed_by_background_jobs(
    client, owner, settings, django_capture_on_commit_callbacks
):
    settings.JINDU_IMPORT_BACKGROUND_ROWS = 1
    client.force_login(owner)
    with django_capture_on_commit_callbacks(execute=True):
        post_file(client, GOOD, "big.csv")
    batch = ImportBatch.objects.get()
    assert batch.status == ImportBatch.Status.UPLOADED and batch.total_rows == 2
    job = Job.objects.get(pk=batch.summary["job"])
    assert job.kind == "core.import_preview" and job.created_by == owner
    html = client.get(reverse("import_batch", args=[batch.pk])).content.decode()
    assert "后台任务处理中" in html and 'data-testid="commit"' not in html

    run_db_worker()
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED, job.message
    batch.refresh_from_db()
    assert batch.status == ImportBatch.Status.PREVIEWED
    assert Specimen.objects.count() == 0

    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("import_commit", args=[batch.pk]))
    batch.refresh_from_db()
    commit_job = Job.objects.get(pk=batch.summary["job"])
    assert commit_job.kind == "core.import_commit"
    run_db_worker()
    commit_job.refresh_from_db()
    assert commit_job.status == Job.Status.SUCCEEDED, commit_job.message
    assert commit_job.progress_done == 2
    batch.refresh_from_db()
    assert batch.status == ImportBatch.Status.COMMITTED
    assert Specimen.objects.count() == 2


def test_large_file_with_errors_fails_its_job_and_writes_nothing(
    client, owner, settings, django_capture_on_commit_callbacks
):
    settings.JINDU_IMPORT_BACKGROUND_ROWS = 1
    client.force_login(owner)
    with django_capture_on_commit_callbacks(execute=True):
        post_file(client, make_csv([["身份证号", "姓名"], [ID_A, "甲"], ["123", "乙"]]), "big.csv")
    run_db_worker()
    batch = ImportBatch.objects.get()
    assert batch.status == ImportBatch.Status.REJECTED
    assert [e["row"] for e in batch.errors] == [3]
    assert Specimen.objects.count() == 0
