"""Audit trail: domain events written by services and the personal-data access log."""

from __future__ import annotations

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.utils.translation import gettext_lazy as _


class AuditEvent(models.Model):
    """One service action: who did what to which record, when and why.

    Written by :func:`jindu.core.audit.record_event` inside the action's transaction, so an
    action that rolls back leaves no event. Row-level before/after values live in each
    model's django-simple-history table; ``changes`` holds the action's own summary.
    """

    occurred_at = models.DateTimeField(_("时间"), auto_now_add=True, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("操作人"), null=True, blank=True,
        on_delete=models.SET_NULL, related_name="+",
    )
    actor_repr = models.CharField(_("操作人"), max_length=150, blank=True)
    action = models.CharField(_("动作"), max_length=100, db_index=True)
    # Looked up together, through the (target_type, target_id) index below: neither needs
    # its own (every service action writes this table; imports write it once per record).
    target_type = models.ForeignKey(ContentType, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                                    db_index=False)
    target_id = models.CharField(max_length=64, blank=True)
    target_repr = models.CharField(_("对象"), max_length=255, blank=True)
    changes = models.JSONField(_("变更"), default=dict, blank=True)
    reason = models.TextField(_("原因"), blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    request_id = models.CharField(max_length=64, blank=True)

    class Meta:
        verbose_name = _("操作审计")
        verbose_name_plural = _("操作审计")
        ordering = ["-occurred_at", "-id"]
        indexes = [models.Index(fields=["target_type", "target_id"])]

    def __str__(self) -> str:
        return f"{self.occurred_at:%Y-%m-%d %H:%M} {self.actor_repr} {self.action} {self.target_repr}"


class AccessLog(models.Model):
    """One read of personal data: a detail view, a list or search hit list, an export, a download.

    ``query`` holds the request's filter parameters with identity numbers masked, so the
    log itself never becomes a copy of the protected data.
    """

    class Kind(models.TextChoices):
        VIEW = "view", _("查看")
        LIST = "list", _("列表")
        SEARCH = "search", _("检索")
        EXPORT = "export", _("导出")
        DOWNLOAD = "download", _("下载")
        IMPORT = "import", _("导入")

    at = models.DateTimeField(_("时间"), auto_now_add=True, db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("用户"), null=True, blank=True,
        on_delete=models.SET_NULL, related_name="+",
    )
    user_repr = models.CharField(_("用户"), max_length=150, blank=True)
    kind = models.CharField(_("类型"), max_length=16, choices=Kind.choices)
    model = models.CharField(_("数据类型"), max_length=100)
    object_ids = models.JSONField(_("记录"), default=list, blank=True)
    result_count = models.PositiveIntegerField(_("记录数"), default=0)
    path = models.CharField(_("地址"), max_length=500, blank=True)
    query = models.JSONField(_("条件"), default=dict, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        verbose_name = _("访问日志")
        verbose_name_plural = _("访问日志")
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.user_repr} {self.kind} {self.model}"
