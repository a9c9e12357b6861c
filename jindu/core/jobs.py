"""Background jobs: start a task for a user and report its progress.

Usage from a domain app::

    from django_tasks import task
    from jindu.core.jobs import start_job, JobReporter

    @task()
    def export_units(job_id: int) -> None:
        reporter = JobReporter(job_id)
        with reporter.running():
            ...
            reporter.progress(done, total)
            reporter.succeed(result={...})

    job = start_job(user=request.user, kind="org.export_units", title="导出单位", task=export_units)

The task runs on the configured backend (database worker by default, RQ with REDIS_URL).
"""

from __future__ import annotations

import contextlib
from typing import Any

from django.db import transaction
from django.utils import timezone

from jindu.core.models import Job


def start_job(*, user: Any, kind: str, title: str, task: Any, params: dict | None = None) -> Job:
    """Create the :class:`Job` row and enqueue ``task(job_id)`` after the transaction commits."""
    job = Job.objects.create(kind=kind, title=title, created_by=user, params=params or {})

    def _enqueue():
        result = task.enqueue(job.pk)
        Job.objects.filter(pk=job.pk).update(task_id=str(result.id))

    transaction.on_commit(_enqueue)
    return job


class JobReporter:
    """Progress and outcome of one job, written so the owner's page can poll it."""

    def __init__(self, job_id: int):
        self.job_id = job_id

    def _update(self, **fields: Any) -> None:
        Job.objects.filter(pk=self.job_id).update(**fields)

    def progress(self, done: int, total: int | None = None, message: str = "") -> None:
        fields: dict[str, Any] = {"progress_done": done}
        if total is not None:
            fields["progress_total"] = total
        if message:
            fields["message"] = message
        self._update(**fields)

    def succeed(self, *, result: dict | None = None, message: str = "") -> None:
        self._update(status=Job.Status.SUCCEEDED, finished_at=timezone.now(), result=result or {}, message=message)

    def fail(self, message: str) -> None:
        self._update(status=Job.Status.FAILED, finished_at=timezone.now(), message=message)

    @contextlib.contextmanager
    def running(self):
        self._update(status=Job.Status.RUNNING, started_at=timezone.now())
        try:
            yield self
        except Exception as exc:  # the job's owner sees why; the worker logs the traceback
            self.fail(f"{type(exc).__name__}: {exc}")
            raise
