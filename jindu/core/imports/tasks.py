"""Background jobs for large imports: preview (validate + dry run) and commit of a batch.

Started by :func:`jindu.core.imports.services.start_preview` / ``start_commit`` when a
file has more rows than ``JINDU_IMPORT_BACKGROUND_ROWS``. The preview reports progress
after each chunk of rows it validates (committed, so the job page shows the bar moving);
the commit reports every 200 rows from inside its all-or-nothing transaction, visible live
on PostgreSQL only (see :mod:`jindu.core.jobs`).
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext as _

from jindu.core.jobs import JobError, JobReporter, job_task
from jindu.core.models import ImportBatch


def _batch(reporter: JobReporter, batch_id: int) -> ImportBatch:
    batch = ImportBatch.objects.filter(pk=batch_id, created_by=reporter.user).first()
    if batch is None:
        raise JobError(_("导入批次 %(id)s 不存在。") % {"id": batch_id})
    return batch


def _summary(batch: ImportBatch) -> dict:
    counts = (batch.summary or {}).get("counts", {})
    return {
        "batch": batch.pk,
        "status": batch.status,
        "summary": [
            [_("批次"), batch.original_name],
            [_("状态"), str(batch.get_status_display())],
            [_("总行数"), batch.total_rows],
            [_("新增"), counts.get("created", 0)],
            [_("更新"), counts.get("updated", 0)],
            [_("无变化"), counts.get("unchanged", 0)],
            [_("错误"), (batch.summary or {}).get("errors_total", 0)],
        ],
    }


@job_task()
def preview_import(reporter: JobReporter, *, batch_id: int) -> dict:
    """Validate batch ``batch_id`` as its uploader; result: the batch's counts."""
    from jindu.core.imports.services import preview_batch

    batch = _batch(reporter, batch_id)
    try:
        reporter.progress(0, batch.total_rows or None, _("正在读取文件…"))
        preview_batch(batch, user=reporter.user,
                      progress=lambda done, total: reporter.progress(done, total, _("正在校验…")))
    except PermissionDenied as exc:
        raise JobError(str(exc)) from None
    return _summary(batch)


@job_task()
def commit_import(reporter: JobReporter, *, batch_id: int) -> dict:
    """Commit batch ``batch_id`` as its uploader, all rows or none; result: the counts."""
    from jindu.core.imports.services import commit_batch

    batch = _batch(reporter, batch_id)
    try:
        reporter.progress(0, batch.total_rows or None, _("正在读取文件…"))
        commit_batch(batch, user=reporter.user,
                     progress=lambda done, total: reporter.progress(done, total, _("正在写入…")))
    except PermissionDenied as exc:
        raise JobError(str(exc)) from None
    if batch.status != ImportBatch.Status.COMMITTED:
        raise JobError(
            _("导入未完成：%(n)s 处错误，未写入任何数据。请在批次页面查看错误。")
            % {"n": (batch.summary or {}).get("errors_total", 0)}
        )
    return _summary(batch)
