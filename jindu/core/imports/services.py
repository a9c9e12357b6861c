"""Import batches: upload → preview → commit (or cancel), each step one service call.

Lifecycle of an :class:`~jindu.core.models.ImportBatch`:

``uploaded`` → :func:`preview_batch` → ``previewed`` (no errors) or ``rejected`` (errors;
nothing can be committed) → :func:`commit_batch` → ``committed`` — or ``rejected`` if the
database changed since the preview and a row now fails (nothing written). Any batch not
committed may be :func:`cancel_batch`-ed.

Files with more rows than ``settings.JINDU_IMPORT_BACKGROUND_ROWS`` (default 2000; at
upload an estimate from the file's structure, after the preview the real count) are
previewed and committed by background jobs (:mod:`jindu.core.imports.tasks`); the batch's
``summary["job"]`` holds the id of the job currently working on it.

A batch is visible to its uploader only, and to city NCC office administrators
(:func:`batches_for`); only the uploader may commit it, because the rows are written
within the uploader's scope.
"""

from __future__ import annotations

import hashlib
import tempfile
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.core.files.base import ContentFile, File
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from jindu.core.audit import log_access, record_event
from jindu.core.imports.base import Importer, get_importer
from jindu.core.imports.engine import ImportResult, Progress, apply_import, prepare_import, run_import
from jindu.core.imports.readers import (  # noqa: F401 (read_table: re-exported, patched by tests)
    FileRejected, detect_type, estimate_rows, open_spool, open_table, read_table, record_rows, spool,
)
from jindu.core.models import AccessLog, ImportBatch

#: Role code whose holders may see every user's batches.
ADMIN_ROLE = "ncc_admin"


def background_threshold() -> int:
    """Rows above which preview and commit run as background jobs."""
    return int(getattr(settings, "JINDU_IMPORT_BACKGROUND_ROWS", 2000))


def max_upload_bytes() -> int:
    return int(getattr(settings, "JINDU_IMPORT_MAX_BYTES", 20 * 1024 * 1024))


def batches_for(user: Any):
    """The batches ``user`` may see: their own; every batch for superusers and ncc_admin."""
    if user is None or not getattr(user, "is_authenticated", False):
        return ImportBatch.objects.none()
    if user.is_superuser or ADMIN_ROLE in getattr(user, "role_codes", lambda: set())():
        return ImportBatch.objects.all()
    return ImportBatch.objects.filter(created_by=user)


def create_batch(*, importer: Importer, user: Any, name: str, content: bytes) -> ImportBatch:
    """Keep an uploaded file as a new batch (status ``uploaded``) with its sha256 and an
    estimated row count (:func:`~jindu.core.imports.readers.estimate_rows`: no cell is
    parsed here, so a large upload returns at once; the preview stores the real count).

    Raises :class:`~jindu.core.imports.readers.FileRejected` for an unsupported file type
    or a file over the size limit; files that are readable as a type but hold bad content
    still become batches, rejected at preview with their errors.
    """
    if len(content) > max_upload_bytes():
        raise FileRejected(
            _("文件过大（%(size)s MB），上限为 %(limit)s MB。")
            % {"size": round(len(content) / 1048576, 1), "limit": max_upload_bytes() // 1048576}
        )
    detect_type(content, name)
    digest = hashlib.sha256(content).hexdigest()
    batch = ImportBatch(
        importer=importer.name, created_by=user, original_name=name[:255], sha256=digest,
    )
    batch.file.save(name, ContentFile(content), save=False)
    batch.total_rows = estimate_rows(content, name)
    earlier = (
        ImportBatch.objects.filter(importer=importer.name, sha256=digest, status=ImportBatch.Status.COMMITTED)
        .order_by("-committed_at").first()
    )
    if earlier is not None:
        batch.summary = {"same_file_committed": {"batch": earlier.pk, "at": earlier.committed_at.isoformat()}}
    batch.save()
    return batch


def is_large(batch: ImportBatch) -> bool:
    return batch.total_rows > background_threshold()


def _file_bytes(batch: ImportBatch) -> bytes:
    with batch.file.open("rb") as fh:
        return fh.read()


def _store(batch: ImportBatch, result: ImportResult, status: str) -> None:
    summary = {k: v for k, v in (batch.summary or {}).items() if k in ("same_file_committed", "job")}
    summary.update(result.summary())
    batch.status = status
    batch.total_rows = result.total_rows
    batch.valid_rows = result.valid_rows
    batch.errors = result.errors
    batch.summary = summary


def preview_batch(batch: ImportBatch, *, user: Any, progress: Progress | None = None) -> ImportResult:
    """Validate every row and dry-run the writes (rolled back); store counts, the first
    rows and all errors on the batch: ``previewed`` without errors, else ``rejected``.

    While the rows are read, their cells are copied to a spool (:func:`record_rows`); a
    preview without errors keeps it as the batch's ``rows_file`` (its HMAC in
    ``summary["rows_mac"]``) for the commit, which then reads the rows from it instead of
    parsing the workbook again. An earlier preview's spool is removed."""
    if batch.status not in (ImportBatch.Status.UPLOADED, ImportBatch.Status.PREVIEWED):
        raise PermissionDenied(_("该批次当前状态不能预览。"))
    importer = get_importer(batch.importer)
    with tempfile.TemporaryFile(prefix="jindu-import-rows-") as fh:
        recording = None
        try:
            table = open_table(_file_bytes(batch), batch.original_name)
        except FileRejected as exc:
            result = run_import(importer, None, user=user, commit=False, file_error=str(exc))
        else:
            recording = record_rows(table, fh)
            result = run_import(importer, recording, user=user, commit=False, progress=progress)
        _store(batch, result, ImportBatch.Status.PREVIEWED if result.ok else ImportBatch.Status.REJECTED)
        _forget_rows(batch)
        if result.ok and recording is not None and recording.complete:
            fh.seek(0)
            batch.rows_file.save(f"batch-{batch.pk}.rows", File(fh), save=False)
            batch.summary["rows_mac"] = recording.mac
    batch.save(update_fields=["status", "total_rows", "valid_rows", "errors", "summary", "rows_file"])
    return result


def _forget_rows(batch: ImportBatch, *, after_commit: bool = False) -> None:
    """Remove the batch's spool (``rows_file``), now or once the current transaction commits
    (a rolled-back commit leaves the batch ``previewed`` and still needing it). The caller
    saves the field."""
    name = batch.rows_file.name
    if not name:
        return
    storage = batch.rows_file.storage
    batch.rows_file = ""
    if after_commit:
        transaction.on_commit(lambda: storage.delete(name))
    else:
        storage.delete(name)


def _stored_rows(batch: ImportBatch) -> Any:
    """The rows the preview recorded, as a table (``None`` when there is no intact spool:
    a batch previewed before spools were kept, or a spool whose HMAC fails)."""
    mac = (batch.summary or {}).get("rows_mac")
    if not batch.rows_file.name or not mac:
        return None
    try:
        fh = batch.rows_file.storage.open(batch.rows_file.name, "rb")
    except OSError:
        return None
    return open_spool(fh, mac=mac, estimated_rows=batch.total_rows)


def commit_batch(batch: ImportBatch, *, user: Any, progress: Progress | None = None) -> ImportResult:
    """Write all rows of a previewed batch in one transaction, or none.

    The rows are read from the spool the preview recorded (:func:`preview_batch`: the
    cells as the file holds them, streamed, never all in memory; every cell is parsed and
    every row validated again). Without an intact spool the stored file is read again: on
    SQLite, whose write transaction locks the whole database, its rows are first copied to
    a temporary spool outside the transaction (:func:`~jindu.core.imports.readers.spool`),
    so the lock covers validation and writes but not the workbook's parsing; on PostgreSQL
    they stream inside it. ``progress`` is
    called from inside the transaction (see :class:`jindu.core.jobs.JobReporter` for how
    that progress becomes visible).

    Only the uploader may commit. The rows are validated again against the current
    database; if any fails, nothing is written and the batch becomes ``rejected`` with the
    errors. On success the batch is ``committed`` with created/updated/unchanged counts,
    one :class:`~jindu.core.models.AuditEvent` (``core.import_committed``) is written and,
    for importers of personal data, one access-log row of kind ``import``.

    Raises ``PermissionDenied`` when ``user`` is not the uploader or the batch is not
    ``previewed`` (already committed, cancelled, rejected).
    """
    if batch.created_by_id != getattr(user, "pk", None):
        raise PermissionDenied(_("只有上传人可以提交该批次。"))
    importer = get_importer(batch.importer)
    importer.batch = batch
    if batch.status != ImportBatch.Status.PREVIEWED:
        raise PermissionDenied(_("该批次当前状态（%(status)s）不能导入。") % {"status": batch.get_status_display()})
    table, file_error = _stored_rows(batch), None
    if table is None:
        try:
            table = open_table(_file_bytes(batch), batch.original_name)
            if transaction.get_connection().vendor == "sqlite":
                table = spool(table)
        except FileRejected as exc:
            table, file_error = None, str(exc)
    result, prepared = prepare_import(importer, table, user=user, file_error=file_error)
    try:
        return _commit_prepared(batch, importer, result, prepared, user=user, progress=progress)
    finally:
        if hasattr(table, "close"):
            table.close()


def _commit_prepared(batch: ImportBatch, importer: Importer, result: ImportResult, prepared: Any, *, user: Any,
                     progress: Progress | None) -> ImportResult:
    with transaction.atomic():
        locked = ImportBatch.objects.select_for_update().get(pk=batch.pk)
        if locked.status != ImportBatch.Status.PREVIEWED:
            raise PermissionDenied(_("该批次当前状态（%(status)s）不能导入。") % {"status": locked.get_status_display()})
        if prepared is not None:
            result = apply_import(importer, prepared, result, user=user, commit=True, progress=progress)
        _forget_rows(locked, after_commit=True)
        if not result.committed:
            _store(locked, result, ImportBatch.Status.REJECTED)
            locked.save(update_fields=["status", "total_rows", "valid_rows", "errors", "summary", "rows_file"])
        else:
            _store(locked, result, ImportBatch.Status.COMMITTED)
            locked.committed_at = timezone.now()
            locked.save(update_fields=["status", "total_rows", "valid_rows", "errors", "summary", "committed_at",
                                       "rows_file"])
            record_event(
                action="core.import_committed", target=locked, actor=user,
                changes={"importer": importer.name, "file": batch.original_name, "sha256": batch.sha256,
                         **result.counts},
            )
            if importer.personal_data:
                log_access(
                    kind=AccessLog.Kind.IMPORT, model=importer.model, user=user, object_ids=result.object_ids,
                    result_count=len(result.object_ids), path=f"import-batch:{batch.pk}",
                    query={"importer": importer.name, "batch": batch.pk},
                )
    batch.refresh_from_db()
    return result


def cancel_batch(batch: ImportBatch, *, user: Any) -> None:
    """Mark a batch that was not committed as cancelled (the file is kept)."""
    if batch.created_by_id != getattr(user, "pk", None):
        raise PermissionDenied(_("只有上传人可以取消该批次。"))
    with transaction.atomic():
        locked = ImportBatch.objects.select_for_update().filter(pk=batch.pk).exclude(
            status__in=[ImportBatch.Status.COMMITTED, ImportBatch.Status.CANCELLED]
        ).first()
        if locked is None:
            raise PermissionDenied(_("该批次已导入或已取消。"))
        locked.status = ImportBatch.Status.CANCELLED
        _forget_rows(locked, after_commit=True)
        locked.save(update_fields=["status", "rows_file"])
    batch.refresh_from_db()


def start_preview(batch: ImportBatch, *, user: Any):
    """Preview now, or as a background job for a large file; returns the job or ``None``."""
    if not is_large(batch):
        preview_batch(batch, user=user)
        return None
    from jindu.core.imports.tasks import preview_import
    from jindu.core.jobs import start_job

    job = start_job(user=user, kind="core.import_preview",
                    title=_("校验导入文件：%(name)s") % {"name": batch.original_name},
                    task=preview_import, params={"batch_id": batch.pk})
    _remember_job(batch, job)
    return job


def start_commit(batch: ImportBatch, *, user: Any):
    """Commit now, or as a background job for a large file; returns the job or ``None``."""
    if not is_large(batch):
        commit_batch(batch, user=user)
        return None
    if batch.created_by_id != getattr(user, "pk", None):
        raise PermissionDenied(_("只有上传人可以提交该批次。"))
    if batch.status != ImportBatch.Status.PREVIEWED:
        raise PermissionDenied(_("该批次当前状态（%(status)s）不能导入。") % {"status": batch.get_status_display()})
    from jindu.core.imports.tasks import commit_import
    from jindu.core.jobs import start_job

    job = start_job(user=user, kind="core.import_commit",
                    title=_("导入：%(name)s") % {"name": batch.original_name},
                    task=commit_import, params={"batch_id": batch.pk})
    _remember_job(batch, job)
    return job


def _remember_job(batch: ImportBatch, job: Any) -> None:
    summary = dict(batch.summary or {})
    summary["job"] = job.pk
    batch.summary = summary
    ImportBatch.objects.filter(pk=batch.pk).update(summary=summary)


def running_job(batch: ImportBatch):
    """The active job working on ``batch``, if any."""
    from jindu.core.jobs import ACTIVE
    from jindu.core.models import Job

    job_id = (batch.summary or {}).get("job")
    if not job_id:
        return None
    return Job.objects.filter(pk=job_id, status__in=ACTIVE).first()
