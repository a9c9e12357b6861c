"""Background jobs: start a task for a user, report its progress, keep its result.

A *job* is the user-facing record (:class:`jindu.core.models.Job`: owner, progress,
message, result, result file); the *task* is the unit the task backend runs (Django's
tasks API through ``django_tasks``: the database worker by default, RQ when ``REDIS_URL``
is set). The same job page works with either backend because progress lives on the
``Job`` row, never in the backend.

Writing a job (the usual way)::

    from jindu.core.jobs import JobError, JobReporter, job_task, start_job

    @job_task()
    def export_units(reporter: JobReporter, *, year: int) -> dict:
        rows = ...
        for i, row in enumerate(rows, 1):
            ...
            reporter.progress(i, len(rows))
        reporter.attach_file("单位.xlsx", content_bytes)
        # stored as Job.result; "summary" rows are shown on the job page
        return {"rows": len(rows), "summary": [["导出行数", len(rows)]]}

    job = start_job(user=request.user, kind="org.export_units", title="导出单位",
                    task=export_units, params={"year": 2024})
    return redirect("job_detail", pk=job.pk)  # the owner's status page polls it

``@job_task()`` turns the function into a module-level task taking one argument, the job
id. When it runs it marks the job running, sets the audit context to the job's owner (so
audit events and row history written by the job name the user who started it), calls the
function with a :class:`JobReporter` and the job's ``params`` as keyword arguments, and
then records success (the return value, a JSON object, becomes ``Job.result``; its
optional ``"summary"``, a list of ``[label, value]`` pairs, is what the job page shows) or
failure. :class:`JobError` carries a message meant for the user (Chinese, naming row,
field and reason) and is shown as is; any other exception is shown as "内部错误" with its
type and a scrubbed message, and re-raised so the backend records the traceback.

Rules that keep updates from being lost:

- Every write is a single-row ``UPDATE`` of only the fields it sets, guarded by status
  (a finished job is never revived or overwritten, progress never goes backwards), so the
  worker, a second worker and the status page can all write without clobbering each other.
- Progress is throttled (at most one write per :attr:`JobReporter.min_interval` seconds)
  and flushed on success or failure, so the final numbers are always stored.
- Progress reported while the job is inside a ``transaction.atomic()`` block it opened
  itself (an all-or-nothing import commit) is written through a second connection to the
  same database (alias :data:`PROGRESS_DB_ALIAS`, created at runtime from the default
  database's settings, autocommit), so the owner watches it move on PostgreSQL. On SQLite
  the open transaction holds the database's only write lock, so such intermediate writes
  are skipped (they would wait for the lock and then fail); the bar jumps when the block
  ends and the final numbers are written then. A progress write that fails for any other
  reason is logged and dropped: it never fails the job. Failure is recorded after the
  block has rolled back, so it is never lost with the rollback.
- If the task dies outside the wrapper (worker killed, task module missing), the status
  page asks the backend (:func:`sync_with_backend`) and marks the job failed.
- If the backend refuses the task at enqueue time (Redis down), the job is marked failed
  at once instead of waiting forever.

Older tasks written as ``@task() def t(job_id)`` using ``with JobReporter(job_id).running():``
keep working.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import logging
import time
from types import SimpleNamespace
from typing import Any, Callable

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import F
from django.db.models.functions import Greatest
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from jindu.core.audit import AuditContext, reset_context, scrub, set_context
from jindu.core.models import Job

logger = logging.getLogger(__name__)

ACTIVE = (Job.Status.QUEUED, Job.Status.RUNNING)
FINISHED = (Job.Status.SUCCEEDED, Job.Status.FAILED)

#: Connection alias progress is written through while the job's connection is in a transaction.
PROGRESS_DB_ALIAS = "jindu_progress"


def _progress_connection():
    """The side connection for progress writes, or ``None`` where there is none (SQLite:
    one writer at a time; other backends are not used by Jindu). Registered on first use as a copy of the default
    database's settings (the test database's name included), autocommit."""
    from django.db import DEFAULT_DB_ALIAS, connections

    default = connections[DEFAULT_DB_ALIAS]
    if default.vendor != "postgresql":
        return None
    if PROGRESS_DB_ALIAS not in connections.settings:
        conf = copy.deepcopy(default.settings_dict)
        conf.update(AUTOCOMMIT=True, ATOMIC_REQUESTS=False, CONN_MAX_AGE=0)
        connections.settings[PROGRESS_DB_ALIAS] = conf
    return connections[PROGRESS_DB_ALIAS]


def close_progress_connection() -> None:
    """Close this thread's progress connection, if one was opened (end of a job)."""
    from django.db import connections

    if PROGRESS_DB_ALIAS in connections.settings:
        conn = getattr(connections._connections, PROGRESS_DB_ALIAS, None)
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.close()


class JobError(Exception):
    """A job failure whose message is meant for the job's owner, shown as is.

    Raise it from a job with a clear Chinese message naming the row, field and reason
    (``JobError("第 12 行“身份证号”：校验位错误")``).
    """


_KIND_LABELS: dict[str, Any] = {}


def register_job_kind(kind: str, label: Any) -> None:
    """Name a job kind for the job pages (``register_job_kind("org.export_units",
    gettext_lazy("导出单位"))``). ``kind`` may end in ``.*`` to name every kind with that
    prefix (``"export.*"``). Register at import time of the module that starts the job."""
    _KIND_LABELS[kind] = label


def job_kind_label(job: Job) -> str:
    """The Chinese label of ``job.kind`` (exact kind first, then the longest ``prefix.*``);
    the job's title for kinds nobody registered — never the internal dotted name."""
    label = _KIND_LABELS.get(job.kind)
    if label is None:
        prefixes = [k for k in _KIND_LABELS if k.endswith(".*") and job.kind.startswith(k[:-1])]
        if prefixes:
            label = _KIND_LABELS[max(prefixes, key=len)]
    return str(label) if label is not None else job.title


register_job_kind("core.import_preview", gettext_lazy("校验导入文件"))
register_job_kind("core.import_commit", gettext_lazy("导入数据"))
register_job_kind("core.count_rows", gettext_lazy("统计数据"))
register_job_kind("export.*", gettext_lazy("导出数据"))


def jobs_of(user: Any):
    """The jobs ``user`` may see: only their own (jobs are owned, not division-scoped).

    Anonymous users get an empty queryset; callers turn a miss into 404.
    """
    if user is None or not getattr(user, "is_authenticated", False):
        return Job.objects.none()
    return Job.objects.filter(created_by=user)


def job_queue_name() -> str:
    """The task queue jobs are sent to: ``settings.JINDU_JOBS_QUEUE`` or ``"default"``.

    Several Jindu instances sharing one Redis give each its own queue name; the tests use
    a unique name per run so parallel runs never pick up each other's tasks.
    """
    return getattr(settings, "JINDU_JOBS_QUEUE", "") or "default"


def start_job(
    *, user: Any, kind: str, title: str, task: Any, params: dict | None = None, queue_name: str | None = None
) -> Job:
    """Create the :class:`Job` row for ``user`` and enqueue ``task(job_id)`` after commit.

    ``kind`` is a dotted name (``"org.import_units"``), ``title`` the Chinese label shown
    to the user, ``params`` a JSON object passed to a :func:`job_task` as keyword
    arguments. The task is enqueued when the surrounding transaction commits (at once in
    autocommit), so a worker never looks for a job row that is not committed yet. If the
    backend refuses it, the job is marked failed with a message; nothing is raised.
    """
    job = Job.objects.create(kind=kind, title=title, created_by=user, params=params or {})
    queue = queue_name or job_queue_name()

    def _enqueue() -> None:
        try:
            configured = task.using(queue_name=queue) if task.queue_name != queue else task
            result = configured.enqueue(job.pk)
        except Exception as exc:  # the owner sees why; the log keeps the detail
            logger.exception("enqueueing job %s (%s) failed", job.pk, kind)
            _finish(job.pk, Job.Status.FAILED, message=_("无法提交后台任务：%(error)s") % {"error": scrub(str(exc))})
            return
        Job.objects.filter(pk=job.pk).update(task_id=str(result.id))

    transaction.on_commit(_enqueue)
    return job


def _finish(job_id: int, status: str, **fields: Any) -> bool:
    """Move an active job to ``status`` (succeeded/failed); ``False`` if it had already finished."""
    updated = Job.objects.filter(pk=job_id, status__in=ACTIVE).update(
        status=status, finished_at=timezone.now(), **fields
    )
    return bool(updated)


class JobReporter:
    """Progress and outcome of one job, written so the owner's page can poll it.

    ``min_interval`` (seconds) throttles progress writes; the last reported numbers are
    always written by :meth:`succeed`, :meth:`fail` or :meth:`flush`.
    """

    min_interval: float = 0.5

    def __init__(self, job_id: int, *, user: Any = None):
        self.job_id = job_id
        #: The job's owner (set by :func:`run_job`): scope the job's reads with
        #: ``.restrict(reporter.user, ...)`` exactly as the page that started it would.
        self.user = user
        self._done: int | None = None
        self._total: int | None = None
        self._message: str | None = None
        self._dirty = False
        self._last_write = float("-inf")  # the first report is always written
        self._file_name = ""
        # Transactions already open when the job started (a caller's, a test's) are the
        # job's normal context; only blocks opened by the job itself hide its writes.
        self._base_depth = len(transaction.get_connection().atomic_blocks)

    # -- progress ---------------------------------------------------------------------

    def progress(self, done: int, total: int | None = None, message: str = "") -> None:
        """Report ``done`` of ``total`` items (rows, divisions…) and an optional message."""
        self._done = done
        if total is not None:
            self._total = total
        if message:
            self._message = message
        self._dirty = True
        now = time.monotonic()
        if now - self._last_write >= self.min_interval or (self._total is not None and done >= self._total):
            self.flush()

    def flush(self, *, final: bool = False) -> None:
        """Write pending progress now (only to an active job; ``progress_done`` never decreases).

        ``final``: the job's own work is over, so write through the job's connection even
        inside a transaction (the outcome is written the same way right after)."""
        if not self._dirty:
            return
        fields: dict[str, Any] = {}
        if self._done is not None:
            fields["progress_done"] = Greatest(F("progress_done"), self._done)
        if self._total is not None:
            fields["progress_total"] = self._total
        if self._message is not None:
            fields["message"] = self._message
        if fields and final:
            Job.objects.filter(pk=self.job_id, status__in=ACTIVE).update(**fields)
        elif fields and not self._write_progress(fields):
            return  # stays dirty: written by the next flush outside the transaction
        self._dirty = False
        self._last_write = time.monotonic()

    def _write_progress(self, fields: dict[str, Any]) -> bool:
        """Write ``fields`` where the owner can see them now; ``False`` if skipped."""
        if len(transaction.get_connection().atomic_blocks) <= self._base_depth:
            Job.objects.filter(pk=self.job_id, status__in=ACTIVE).update(**fields)
            return True
        try:
            side = _progress_connection()
            if side is None:
                self._last_write = time.monotonic()
                return False
            if side.connection is None:
                side.ensure_connection()
                with side.cursor() as cursor:
                    # The job's own transaction may hold the job row's lock: give up, don't wait.
                    cursor.execute("SET lock_timeout = '1s'")
            Job.objects.using(side.alias).filter(pk=self.job_id, status__in=ACTIVE).update(**fields)
        except Exception:  # progress is a courtesy: never fail the job over it
            logger.warning("progress of job %s not written", self.job_id, exc_info=True)
            self._last_write = time.monotonic()
            return False
        return True

    # -- outcome ----------------------------------------------------------------------

    def attach_file(self, name: str, content: bytes | ContentFile) -> str:
        """Store the job's result file (an export, an error report) under ``MEDIA_ROOT/jobs/…/<job id>/``.

        Returns the stored name. The file is downloadable only by the job's owner, through
        the logged download view. Call it before :meth:`succeed` (or return from the job).
        """
        if isinstance(content, bytes):
            content = ContentFile(content)
        field = Job._meta.get_field("result_file")
        job = Job(pk=self.job_id)
        # One folder per job, so the download keeps the name the job gave it.
        stored = field.generate_filename(job, f"{self.job_id}/{name}")
        stored = field.storage.save(stored, content)
        Job.objects.filter(pk=self.job_id).update(result_file=stored)
        self._file_name = stored
        return stored

    def succeed(self, *, result: dict | None = None, message: str = "") -> bool:
        """Mark the job succeeded with ``result`` (a JSON object). ``False`` if already finished.

        ``message`` replaces the last progress message ("正在校验…" would be stale now).
        """
        self.flush_final()
        close_progress_connection()
        fields: dict[str, Any] = {"result": result or {}, "message": message}
        return _finish(self.job_id, Job.Status.SUCCEEDED, **fields)

    def fail(self, message: str) -> bool:
        """Mark the job failed with ``message`` (shown to the owner). ``False`` if already finished."""
        self.flush_final()
        close_progress_connection()
        return _finish(self.job_id, Job.Status.FAILED, message=message)

    def flush_final(self) -> None:
        self._dirty = self._dirty or self._done is not None
        self.flush(final=True)

    # -- lifecycle --------------------------------------------------------------------

    def start(self) -> bool:
        """Mark the job running; ``False`` if it is no longer queued (finished, or already taken)."""
        updated = Job.objects.filter(pk=self.job_id, status=Job.Status.QUEUED).update(
            status=Job.Status.RUNNING, started_at=timezone.now()
        )
        return bool(updated)

    @contextlib.contextmanager
    def running(self):
        """Run the block as the job: running on entry, failed (with the reason) on an exception.

        Does not mark success: call :meth:`succeed` at the end of the block.
        """
        self.start()
        try:
            yield self
        except JobError as exc:
            self.fail(str(exc))
            raise
        except Exception as exc:
            self.fail(_internal_error_message(exc))
            raise


def _internal_error_message(exc: BaseException) -> str:
    return _("内部错误（%(type)s）：%(error)s") % {"type": type(exc).__name__, "error": scrub(str(exc))[:500]}


@contextlib.contextmanager
def _acting_as(job: Job):
    """Attribute audit events and row history written by the job to its owner."""
    from simple_history.models import HistoricalRecords

    token = set_context(AuditContext(user=job.created_by, request_id=f"job-{job.pk}"))
    previous = getattr(HistoricalRecords.context, "request", None)
    HistoricalRecords.context.request = SimpleNamespace(user=job.created_by)
    try:
        yield
    finally:
        reset_context(token)
        if previous is None:
            with contextlib.suppress(AttributeError):
                del HistoricalRecords.context.request
        else:
            HistoricalRecords.context.request = previous


def run_job(job_id: int, fn: Callable[..., dict | None]) -> dict:
    """Run ``fn(reporter, **job.params)`` as job ``job_id`` and record its outcome.

    Returns the result dict (also the task's return value). A job that is no longer
    queued (already run by another worker, or failed at enqueue) is skipped. Raises
    :class:`JobError` or the job's own exception after recording the failure, so the
    backend marks the task failed too.
    """
    job = Job.objects.select_related("created_by").filter(pk=job_id).first()
    if job is None:
        logger.warning("job %s does not exist; task skipped", job_id)
        return {}
    reporter = JobReporter(job_id, user=job.created_by)
    if not reporter.start():
        logger.warning("job %s is %s, not queued; task skipped", job_id, job.status)
        return {}
    with _acting_as(job):
        try:
            result = fn(reporter, **(job.params or {}))
        except JobError as exc:
            reporter.fail(str(exc))
            raise
        except Exception as exc:
            reporter.fail(_internal_error_message(exc))
            raise
    result = dict(result or {})
    reporter.succeed(result=result)
    return result


def job_task(**task_options: Any) -> Callable[[Callable[..., dict | None]], Any]:
    """Decorator: a module-level function ``fn(reporter, **params) -> dict`` becomes a job task.

    ``task_options`` go to ``django_tasks.task`` (``priority``, ``backend``). The task
    takes one argument, the job id, and is started with :func:`start_job`.
    """
    from django_tasks import task

    def decorator(fn: Callable[..., dict | None]):
        @functools.wraps(fn)
        def run(job_id: int) -> dict:
            return run_job(job_id, fn)

        return task(**task_options)(run)

    return decorator


def sync_with_backend(job: Job) -> Job:
    """Mark ``job`` failed if the backend says its task failed but the job never finished.

    Covers tasks that died outside :func:`run_job` (worker killed, import error). Called
    by the status page for active jobs; backend errors (Redis unreachable) are ignored.
    Returns the (possibly refreshed) job.
    """
    if job.status not in ACTIVE or not job.task_id:
        return job
    from django_tasks import TaskResultStatus, default_task_backend

    try:
        result = default_task_backend.get_result(job.task_id)
    except Exception:  # missing result (pruned, other backend) or backend down: leave as is
        return job
    if result.status == TaskResultStatus.FAILED:
        _finish(job.pk, Job.Status.FAILED, message=_("后台任务异常终止，请重新发起。"))
        job.refresh_from_db()
    return job


__all__ = [
    "ACTIVE",
    "FINISHED",
    "JobError",
    "JobReporter",
    "PROGRESS_DB_ALIAS",
    "close_progress_connection",
    "job_kind_label",
    "job_queue_name",
    "job_task",
    "jobs_of",
    "register_job_kind",
    "run_job",
    "start_job",
    "sync_with_backend",
]
