"""The same jobs on RQ (``REDIS_URL`` set): enqueue on Redis, run a burst worker, check the job.

Needs the local Redis (``REDIS_URL`` or 127.0.0.1:6379). Each test uses its own queue name
(``JINDU_JOBS_QUEUE``), so parallel runs on one Redis never take each other's tasks. The
worker is RQ's ``SimpleWorker`` in burst mode: it runs the task in this process, on the
test's database connection, which sees the test's uncommitted rows.
"""

from __future__ import annotations

import os
import signal
import uuid

import pytest
from django.urls import reverse

from jindu.core.models import Job
from jindu.core.tests.test_jobs import (  # noqa: F401 - fixtures
    assert_counted,
    crash_outside_job,
    owner,
    start_count_job,
    town,
)

pytestmark = pytest.mark.redis

REDIS_URL = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"


@pytest.fixture
def rq_queue(settings):
    """Point the tasks API at RQ on a queue of this test's own; delete it afterwards."""
    import django_rq
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.exceptions.ConnectionError as exc:
        pytest.fail(f"Redis at {REDIS_URL} is not reachable ({exc}); start it or set REDIS_URL")
    name = f"jindu-test-{uuid.uuid4().hex[:12]}"
    # "default" too: django-tasks-rq looks results up through the default connection.
    # Nothing is enqueued on it and the test's worker does not listen to it.
    settings.RQ_QUEUES = {name: {"URL": REDIS_URL, "DEFAULT_TIMEOUT": 120}, "default": {"URL": REDIS_URL}}
    settings.RQ = {"JOB_CLASS": "django_tasks_rq.backend.Job"}
    settings.TASKS = {"default": {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": [name]}}
    settings.JINDU_JOBS_QUEUE = name
    yield name
    _delete_queue(django_rq.get_queue(name))


def _delete_queue(queue) -> None:
    """Remove the queue, its registries and its jobs' keys (failed jobs would stay a year)."""
    conn = queue.connection
    registries = [queue.finished_job_registry, queue.failed_job_registry, queue.started_job_registry,
                  queue.deferred_job_registry, queue.scheduled_job_registry, queue.canceled_job_registry]
    job_ids = set(queue.job_ids)
    for registry in registries:
        job_ids.update(registry.get_job_ids())
    for job_id in job_ids:
        conn.delete(f"rq:job:{job_id}", f"rq:results:{job_id}", f"rq:job:{job_id}:dependents")
    queue.delete(delete_jobs=True)
    for key in conn.scan_iter(match=f"rq:*:{queue.name}*"):
        conn.delete(key)


def run_rq_worker(queue_name: str) -> None:
    """``rqworker --burst`` in this process: run every queued task, then return."""
    import django_rq
    from django_tasks_rq.backend import Job as TaskJob
    from rq.worker import SimpleWorker

    saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        worker = django_rq.get_worker(queue_name, job_class=TaskJob, worker_class=SimpleWorker)
        worker.work(burst=True, logging_level="WARNING")
    finally:
        for s, handler in saved.items():
            signal.signal(s, handler)


def test_job_runs_on_rq_worker(rq_queue, owner, town, client, django_capture_on_commit_callbacks):  # noqa: F811
    import django_rq

    job = start_count_job(owner, django_capture_on_commit_callbacks)
    assert job.status == Job.Status.QUEUED
    assert django_rq.get_queue(rq_queue).count == 1  # it sits on Redis, not in the database

    run_rq_worker(rq_queue)

    assert_counted(job, town)
    from django_tasks import default_task_backend

    assert default_task_backend.get_result(job.task_id).status == "SUCCESSFUL"
    client.force_login(owner)
    html = client.get(reverse("job_status", args=[job.pk])).content.decode()
    assert "已完成" in html and "hx-trigger" not in html


def test_failure_on_rq_is_recorded(rq_queue, owner, django_capture_on_commit_callbacks):  # noqa: F811
    job = start_count_job(owner, django_capture_on_commit_callbacks, params={"model": "geo.Division", "group_by": "code"})
    run_rq_worker(rq_queue)
    job.refresh_from_db()
    assert job.status == Job.Status.FAILED
    assert job.message == "参数“group_by”：只能按有固定选项的字段分组（code 不是）"


def test_task_dying_on_rq_is_reported_by_status_page(rq_queue, owner, client, django_capture_on_commit_callbacks):  # noqa: F811
    job = start_count_job(owner, django_capture_on_commit_callbacks, task_=crash_outside_job)
    run_rq_worker(rq_queue)
    client.force_login(owner)
    html = client.get(reverse("job_status", args=[job.pk])).content.decode()
    job.refresh_from_db()
    assert job.status == Job.Status.FAILED
    assert "后台任务异常终止" in html
