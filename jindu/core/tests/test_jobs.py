"""Background jobs on the database backend, the job reporter's guarantees, and the job pages."""

from __future__ import annotations

import signal
from unittest import mock

import pytest
from django.core.management import call_command
from django.urls import reverse
from django_tasks import task

from jindu.accounts.models import Role, RoleAssignment, User
from jindu.core.jobs import JobReporter, start_job, sync_with_backend
from jindu.core.models import AccessLog, Job
from jindu.core.tasks import count_rows
from jindu.geo.models import Division

DIVISION_COUNT = {"model": "geo.Division", "group_by": "level"}


@task()
def crash_outside_job(job_id: int) -> None:
    """A task that dies without a reporter, like a worker killed mid-task."""
    raise RuntimeError("worker lost")


def make_user(username: str, division: Division, role: str = "town_office") -> User:
    user = User.objects.create_user(username=username, password="pw-not-used-123")
    RoleAssignment.objects.create(user=user, role=Role.objects.get(code=role), division=division)
    return user


@pytest.fixture
def town(db) -> Division:
    return Division.objects.filter(level="town", code__startswith="460105").order_by("code").first()


@pytest.fixture
def owner(town) -> User:
    return make_user("job_owner", town)


@pytest.fixture
def stranger(town) -> User:
    return make_user("job_stranger", town)


def expected_counts(town: Division) -> dict[str, int]:
    villages = Division.objects.filter(path__startswith=town.path, level="village").count()
    return {"town": 1, "village": villages}


def run_db_worker() -> None:
    """One pass of the database worker (``manage.py db_worker --batch``) in this process.

    The worker closes "old" connections between tasks; inside the test's transaction that
    would close the connection holding it (PostgreSQL), so that call is a no-op here, as
    Django's test client disconnects it from request signals.
    """
    saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGQUIT)}
    try:
        with mock.patch("django_tasks_db.management.commands.db_worker.close_old_connections"):
            call_command("db_worker", "--batch", "--no-startup-delay", "--queue-name", "*", "--no-reload", verbosity=0)
    finally:
        for s, handler in saved.items():
            signal.signal(s, handler)


def start_count_job(user, django_capture_on_commit_callbacks, params=None, task_=count_rows) -> Job:
    with django_capture_on_commit_callbacks(execute=True):
        job = start_job(user=user, kind="core.count_rows", title="统计", task=task_, params=params or DIVISION_COUNT)
    job.refresh_from_db()
    return job


def assert_counted(job: Job, town: Division) -> None:
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED, job.message
    expected = expected_counts(town)
    assert {g["value"]: g["count"] for g in job.result["groups"]} == expected
    assert job.result["total"] == sum(expected.values())
    assert job.progress_done == job.progress_total == sum(expected.values())
    assert job.percent == 100
    assert job.started_at and job.finished_at and job.started_at <= job.finished_at
    assert job.result_file.name.startswith("jobs/")
    with job.result_file.open("rb") as fh:
        text = fh.read().decode("utf-8-sig")
    assert f"合计,,{sum(expected.values())}" in text


# -- the database backend -------------------------------------------------------------


def test_job_runs_on_database_worker(owner, town, django_capture_on_commit_callbacks):
    job = start_count_job(owner, django_capture_on_commit_callbacks)
    assert job.status == Job.Status.QUEUED
    assert job.task_id  # the backend's id, stored after enqueue

    run_db_worker()

    assert_counted(job, town)
    from django_tasks import default_task_backend

    assert default_task_backend.get_result(job.task_id).status == "SUCCESSFUL"


def test_job_counts_only_owner_scope(owner, town, django_capture_on_commit_callbacks):
    other_town = Division.objects.filter(level="town").exclude(pk=town.pk).order_by("-code").first()
    job = start_count_job(make_user("other_town", other_town), django_capture_on_commit_callbacks)
    run_db_worker()
    job.refresh_from_db()
    assert {g["value"]: g["count"] for g in job.result["groups"]} == expected_counts(other_town)


def test_job_error_message_is_shown_as_is(owner, django_capture_on_commit_callbacks):
    job = start_count_job(owner, django_capture_on_commit_callbacks, params={"model": "geo.Division", "group_by": "name"})
    run_db_worker()
    job.refresh_from_db()
    assert job.status == Job.Status.FAILED
    assert job.message == "参数“group_by”：只能按有固定选项的字段分组（name 不是）"
    assert job.result == {} and not job.result_file


def test_unexpected_exception_fails_job_with_type(owner, django_capture_on_commit_callbacks):
    job = start_count_job(owner, django_capture_on_commit_callbacks, params={"model": "geo.Division"})
    run_db_worker()
    job.refresh_from_db()
    assert job.status == Job.Status.FAILED
    assert job.message.startswith("内部错误（TypeError）")


def test_enqueue_refused_marks_job_failed(owner, settings, django_capture_on_commit_callbacks):
    settings.JINDU_JOBS_QUEUE = "no-such-queue"  # the backend only serves "default"
    job = start_count_job(owner, django_capture_on_commit_callbacks)
    assert job.status == Job.Status.FAILED
    assert job.message.startswith("无法提交后台任务")
    assert job.finished_at is not None


def test_job_not_enqueued_when_transaction_rolls_back(owner, django_capture_on_commit_callbacks):
    from django_tasks_db.models import DBTaskResult

    before = DBTaskResult.objects.count()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        start_job(user=owner, kind="core.count_rows", title="统计", task=count_rows, params=DIVISION_COUNT)
    assert len(callbacks) == 1  # enqueue waits for the commit that a rollback never makes
    assert DBTaskResult.objects.count() == before


def test_task_dying_outside_wrapper_is_reported(owner, django_capture_on_commit_callbacks):
    job = start_count_job(owner, django_capture_on_commit_callbacks, task_=crash_outside_job)
    run_db_worker()
    job.refresh_from_db()
    assert job.status == Job.Status.QUEUED  # nobody told the job row
    job = sync_with_backend(job)
    assert job.status == Job.Status.FAILED
    assert job.message == "后台任务异常终止，请重新发起。"


def test_job_runs_once_even_if_enqueued_twice(owner, town, django_capture_on_commit_callbacks):
    job = start_count_job(owner, django_capture_on_commit_callbacks)
    count_rows.enqueue(job.pk)  # a duplicate delivery
    run_db_worker()
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED
    assert_counted(job, town)


# -- the reporter ---------------------------------------------------------------------


def test_reporter_progress_never_goes_back_and_is_flushed(owner):
    job = Job.objects.create(kind="t", title="t", created_by=owner)
    reporter = JobReporter(job.pk)
    reporter.start()
    reporter.min_interval = 3600  # throttle everything after the first write
    reporter.progress(10, 100, "第一批")
    reporter.progress(50)
    job.refresh_from_db()
    assert (job.progress_done, job.progress_total, job.message) == (10, 100, "第一批")
    reporter.flush()
    job.refresh_from_db()
    assert job.progress_done == 50

    late = JobReporter(job.pk)  # e.g. a slower writer reporting older numbers
    late.progress(20)
    job.refresh_from_db()
    assert job.progress_done == 50

    reporter.progress(70)  # throttled, but success writes it
    assert reporter.succeed(result={"n": 70})
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED
    assert job.progress_done == 70 and job.result == {"n": 70}


def test_finished_job_is_not_revived_or_overwritten(owner):
    job = Job.objects.create(kind="t", title="t", created_by=owner)
    reporter = JobReporter(job.pk)
    reporter.start()
    assert reporter.fail("第 3 行“单位名称”：不能为空")
    assert not reporter.succeed(result={"n": 1})
    assert not reporter.start()
    reporter.progress(99, 100)
    job.refresh_from_db()
    assert job.status == Job.Status.FAILED
    assert job.message == "第 3 行“单位名称”：不能为空"
    assert job.result == {} and job.progress_done == 0


def test_running_context_records_failure(owner):
    job = Job.objects.create(kind="t", title="t", created_by=owner)
    reporter = JobReporter(job.pk)
    with pytest.raises(ValueError):
        with reporter.running():
            raise ValueError("身份证号 460105199001011234 无效")
    job.refresh_from_db()
    assert job.status == Job.Status.FAILED
    assert "460105199001011234" not in job.message  # identity numbers never reach the page
    assert job.message.startswith("内部错误（ValueError）")


def test_job_audit_context_is_the_owner(owner, django_capture_on_commit_callbacks):
    from jindu.core.audit import current_context
    from jindu.core.jobs import run_job

    seen = {}

    def fn(reporter):
        seen["user"] = current_context().user
        seen["reporter_user"] = reporter.user
        return {}

    job = Job.objects.create(kind="t", title="t", created_by=owner)
    run_job(job.pk, fn)
    assert seen == {"user": owner, "reporter_user": owner}
    assert current_context().user is None


# -- pages ----------------------------------------------------------------------------


@pytest.fixture
def finished_job(owner, django_capture_on_commit_callbacks):
    job = start_count_job(owner, django_capture_on_commit_callbacks)
    run_db_worker()
    job.refresh_from_db()
    return job


def test_status_page_polls_while_active(client, owner, django_capture_on_commit_callbacks):
    job = start_count_job(owner, django_capture_on_commit_callbacks)
    client.force_login(owner)
    page = client.get(reverse("job_detail", args=[job.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert 'hx-trigger="every 2s"' in html
    assert reverse("job_status", args=[job.pk]) in html
    assert "排队中" in html

    fragment = client.get(reverse("job_status", args=[job.pk]))
    assert fragment.status_code == 200
    assert 'hx-trigger="every 2s"' in fragment.content.decode()
    assert "<html" not in fragment.content.decode()


def test_status_fragment_stops_polling_when_finished(client, owner, finished_job, town):
    client.force_login(owner)
    html = client.get(reverse("job_status", args=[finished_job.pk])).content.decode()
    assert "hx-trigger" not in html
    assert "已完成" in html and "100%" in html
    assert reverse("job_download", args=[finished_job.pk]) in html
    villages = expected_counts(town)["village"]
    assert f"<td class=\"text-end\">{villages}</td>" in html


def test_failed_job_shows_message(client, owner, django_capture_on_commit_callbacks):
    job = start_count_job(owner, django_capture_on_commit_callbacks, params={"model": "geo.Nope", "group_by": "x"})
    run_db_worker()
    client.force_login(owner)
    html = client.get(reverse("job_detail", args=[job.pk])).content.decode()
    assert "失败" in html
    assert "参数“model”：未知的数据类型 geo.Nope" in html
    assert reverse("job_download", args=[job.pk]) not in html


def test_download_is_logged(client, owner, finished_job):
    client.force_login(owner)
    response = client.get(reverse("job_download", args=[finished_job.pk]))
    assert response.status_code == 200
    assert "attachment" in response["Content-Disposition"]
    assert b"".join(response.streaming_content).decode("utf-8-sig").startswith("层级,代码,数量")
    log = AccessLog.objects.get(kind=AccessLog.Kind.DOWNLOAD)
    assert log.user == owner and log.model == "core.Job" and log.object_ids == [str(finished_job.pk)]


@pytest.mark.parametrize("name", ["job_detail", "job_status", "job_download"])
def test_other_users_get_404(client, stranger, finished_job, name):
    client.force_login(stranger)
    assert client.get(reverse(name, args=[finished_job.pk])).status_code == 404
    assert not AccessLog.objects.filter(kind=AccessLog.Kind.DOWNLOAD).exists()


@pytest.mark.parametrize("name", ["job_detail", "job_status", "job_download"])
def test_anonymous_is_sent_to_login(client, finished_job, name):
    response = client.get(reverse(name, args=[finished_job.pk]))
    assert response.status_code == 302
    assert reverse("login") in response["Location"]


def test_missing_job_is_404(client, owner):
    client.force_login(owner)
    assert client.get(reverse("job_detail", args=[999999])).status_code == 404


def test_list_shows_only_my_jobs(client, owner, stranger, finished_job):
    Job.objects.create(kind="t", title="别人的任务", created_by=stranger)
    client.force_login(owner)
    html = client.get(reverse("job_list")).content.decode()
    assert finished_job.title in html
    assert "别人的任务" not in html


def test_start_demo_job_from_page(client, owner, town, django_capture_on_commit_callbacks):
    client.force_login(owner)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("job_count_divisions"))
    job = Job.objects.get(created_by=owner)
    assert response.status_code == 302 and response["Location"] == reverse("job_detail", args=[job.pk])
    run_db_worker()
    assert_counted(job, town)
    assert client.get(reverse("job_count_divisions")).status_code == 405
