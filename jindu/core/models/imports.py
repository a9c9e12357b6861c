"""Import batches: every uploaded spreadsheet, its preview and its outcome."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class ImportBatch(models.Model):
    """One uploaded file for one importer, kept with its per-row errors.

    Lifecycle: ``uploaded`` → ``previewed`` (validated, nothing written) → ``committed``
    (all rows written in one transaction) or ``rejected`` (errors, nothing written) or
    ``cancelled``. Large files are validated and committed by a background job.
    """

    class Status(models.TextChoices):
        UPLOADED = "uploaded", _("已上传")
        PREVIEWED = "previewed", _("已预览")
        REJECTED = "rejected", _("有错误")
        COMMITTED = "committed", _("已导入")
        CANCELLED = "cancelled", _("已取消")
        FAILED = "failed", _("失败")

    importer = models.CharField(_("导入类型"), max_length=100)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("上传人"), on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(_("上传时间"), auto_now_add=True)
    file = models.FileField(_("文件"), upload_to="imports/%Y/%m/")
    #: The file's rows as the preview read them (cells, nothing interpreted; see
    #: :func:`jindu.core.imports.readers.record_rows`), so the commit does not parse the
    #: workbook again; kept from a preview without errors until the batch is committed,
    #: rejected or cancelled. Its HMAC is ``summary["rows_mac"]``.
    rows_file = models.FileField(_("已读取的行"), upload_to="imports/rows/%Y/%m/", blank=True)
    original_name = models.CharField(_("文件名"), max_length=255)
    sha256 = models.CharField(max_length=64)
    status = models.CharField(_("状态"), max_length=16, choices=Status.choices, default=Status.UPLOADED)
    total_rows = models.PositiveIntegerField(_("总行数"), default=0)
    valid_rows = models.PositiveIntegerField(_("有效行数"), default=0)
    errors = models.JSONField(_("错误"), default=list, blank=True)
    summary = models.JSONField(_("结果"), default=dict, blank=True)
    committed_at = models.DateTimeField(_("导入时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("导入批次")
        verbose_name_plural = _("导入批次")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.original_name} ({self.get_status_display()})"
