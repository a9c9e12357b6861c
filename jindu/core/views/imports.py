"""Generic import and export pages, usable by every app that declares an importer/exporter.

Import: upload (``ImportUploadView``) → batch page with preview, errors and the
commit/cancel buttons (``ImportBatchView``, ``ImportCommitView``, ``ImportCancelView``)
→ summary on the same batch page. The empty template is ``ImportTemplateView``. An app
wires its own URLs with ``importer_name``::

    path("units/import/", ImportUploadView.as_view(importer_name="org.unit"), name="unit_import")

or uses the generic ``imports/<importer>/upload/`` routes below.

Export: ``ExportView.as_view(exporter=UnitExporter)``; ``?format=csv`` gives csv, the
other query parameters are the list's filters, passed to ``Exporter.get_queryset``.
Large exports run as background jobs (see :mod:`jindu.core.exports`).

Batches are visible only to their uploader (and ncc_admin); anyone else gets 404.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import quote

from django import forms
from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View
from django.views.generic import ListView, TemplateView

from jindu.core.exports import (
    Exporter,
    background_rows,
    exceeds,
    export_to_file,
    start_export_job,
)
from jindu.core.imports import services
from jindu.core.imports.base import Importer, get_importer
from jindu.core.imports.readers import FileRejected
from jindu.core.imports.template import import_template_xlsx
from jindu.core.models import ImportBatch
from jindu.core.scope import VIEW, has_model_permission

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _attachment(filename: str) -> str:
    # RFC 6266/5987: ASCII fallback plus the UTF-8 name, so Chinese names survive.
    return f"attachment; filename=\"export.{filename.rsplit('.', 1)[-1]}\"; filename*=UTF-8''{quote(filename)}"


class UploadForm(forms.Form):
    file = forms.FileField(
        label=gettext_lazy("选择文件"),
        help_text=gettext_lazy("支持 .xlsx 和 .csv（UTF-8 或 GBK/GB18030 编码）。"),
        widget=forms.ClearableFileInput(attrs={"class": "form-control", "accept": ".xlsx,.csv"}),
    )


class ImporterMixin(LoginRequiredMixin):
    """Resolves ``self.importer`` from ``importer_name`` (class attribute) or the URL's
    ``importer``; 404 for unknown names, 403 without add/change permission on its model."""

    importer_name: str = ""
    importer: Importer

    def dispatch(self, request, *args, **kwargs):
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        name = self.importer_name or kwargs.get("importer", "")
        try:
            self.importer = get_importer(name)
        except LookupError:
            raise Http404 from None
        if not self.importer.may_import(request.user):
            raise PermissionDenied(_("您的角色没有导入%(label)s的权限。") % {"label": self.importer.label})
        return super().dispatch(request, *args, **kwargs)


class ImportUploadView(ImporterMixin, TemplateView):
    """GET: the upload form, template link and the user's recent batches of this importer.
    POST: keep the file as a batch, preview it (a background job for large files) and
    redirect to the batch page."""

    template_name = "core/imports/upload.html"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx.setdefault("form", UploadForm())
        ctx["importer"] = self.importer
        ctx["columns"] = [(c, self.importer.column_required(c)) for c in self.importer.columns]
        ctx["template_url"] = reverse("import_template", kwargs={"importer": self.importer.name})
        ctx["recent"] = ImportBatch.objects.filter(
            created_by=self.request.user, importer=self.importer.name
        ).order_by("-created_at")[:10]
        ctx["threshold"] = services.background_threshold()
        return ctx

    def post(self, request, *args, **kwargs):
        form = UploadForm(request.POST, request.FILES)
        if not form.is_valid():
            return self.render_to_response(self.get_context_data(form=form))
        upload = form.cleaned_data["file"]
        if upload.size > services.max_upload_bytes():
            form.add_error("file", _("文件过大，上限为 %(limit)s MB。") % {"limit": services.max_upload_bytes() // 1048576})
            return self.render_to_response(self.get_context_data(form=form))
        try:
            batch = services.create_batch(importer=self.importer, user=request.user, name=upload.name,
                                          content=upload.read())
        except FileRejected as exc:
            form.add_error("file", str(exc))
            return self.render_to_response(self.get_context_data(form=form))
        services.start_preview(batch, user=request.user)
        return redirect("import_batch", pk=batch.pk)


class ImportTemplateView(ImporterMixin, View):
    """The empty xlsx template of an importer (headers, text-formatted code columns, notes)."""

    def get(self, request, *args, **kwargs):
        content = import_template_xlsx(self.importer)
        response = HttpResponse(content, content_type=XLSX_TYPE)
        response["Content-Disposition"] = _attachment(f"{self.importer.label}导入模板.xlsx")
        return response


class BatchMixin(LoginRequiredMixin):
    def get_batch(self) -> ImportBatch:
        return get_object_or_404(services.batches_for(self.request.user), pk=self.kwargs["pk"])


class ImportBatchListView(LoginRequiredMixin, ListView):
    """The user's own import batches (all batches for ncc_admin)."""

    template_name = "core/imports/batch_list.html"
    context_object_name = "batches"
    paginate_by = 25

    def get_queryset(self):
        return services.batches_for(self.request.user).select_related("created_by").order_by("-created_at", "-id")


class ImportBatchView(BatchMixin, TemplateView):
    """One batch: status, counts, first rows, every error; commit/cancel for the uploader.
    While a background job works on it the page refreshes itself."""

    template_name = "core/imports/batch.html"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        batch = self.get_batch()
        summary = batch.summary or {}
        try:
            importer = get_importer(batch.importer)
        except LookupError:
            importer = None
        job = services.running_job(batch)
        same = summary.get("same_file_committed")
        ctx.update(
            batch=batch,
            importer=importer,
            summary=summary,
            # Stored as ISO text; shown as a local date and time like every other timestamp.
            same_file_committed_at=_parse_stamp(same.get("at")) if same else None,
            counts=summary.get("counts", {}),
            job=job,
            job_id=summary.get("job"),
            is_owner=batch.created_by_id == self.request.user.pk,
            can_commit=(batch.status == ImportBatch.Status.PREVIEWED and job is None
                        and batch.created_by_id == self.request.user.pk),
            can_cancel=(batch.status not in (ImportBatch.Status.COMMITTED, ImportBatch.Status.CANCELLED)
                        and job is None and batch.created_by_id == self.request.user.pk),
            more_errors=max(0, summary.get("errors_total", 0) - len(batch.errors or [])),
        )
        return ctx


def _parse_stamp(text: Any) -> datetime | None:
    """An ISO timestamp kept in a batch's summary, as an aware datetime (``None`` if unreadable)."""
    try:
        return datetime.fromisoformat(str(text))
    except ValueError:
        return None


class ImportCommitView(BatchMixin, View):
    """POST: commit the batch (all rows or none); a background job for large files."""

    http_method_names = ["post"]

    def post(self, request, *args, **kwargs):
        batch = self.get_batch()
        try:
            job = services.start_commit(batch, user=request.user)
        except PermissionDenied as exc:
            messages.error(request, str(exc))
            return redirect("import_batch", pk=batch.pk)
        if job is not None:
            messages.info(request, _("文件较大，已转为后台任务导入，完成后本页会显示结果。"))
        else:
            batch.refresh_from_db()
            if batch.status == ImportBatch.Status.COMMITTED:
                c = batch.summary.get("counts", {})
                messages.success(request, _("导入完成：新增 %(created)s 条，更新 %(updated)s 条，无变化 %(unchanged)s 条。")
                                 % {"created": c.get("created", 0), "updated": c.get("updated", 0),
                                    "unchanged": c.get("unchanged", 0)})
            else:
                messages.error(request, _("导入未完成：发现错误，未写入任何数据。"))
        return redirect("import_batch", pk=batch.pk)


class ImportCancelView(BatchMixin, View):
    """POST: cancel a batch that was not committed."""

    http_method_names = ["post"]

    def post(self, request, *args, **kwargs):
        batch = self.get_batch()
        try:
            services.cancel_batch(batch, user=request.user)
        except PermissionDenied as exc:
            messages.error(request, str(exc))
        else:
            messages.info(request, _("已取消该批次，未写入任何数据。"))
        return redirect("import_batch", pk=batch.pk)


class ExportView(LoginRequiredMixin, View):
    """Download ``exporter``'s rows visible to the user as xlsx (default) or csv
    (``?format=csv``); the other query parameters are the list's filters. 403 without
    view permission on the model.

    Up to ``settings.JINDU_EXPORT_BACKGROUND_ROWS`` rows the file is written at once (to a
    spooled temporary file, rows streamed from the database in chunks) and sent, the
    access log written before sending. Larger exports become a background job with the
    same filters and the user is sent to the job's page, where the file is downloaded."""

    exporter: type[Exporter] | None = None

    def get(self, request, *args, **kwargs):
        if self.exporter is None:
            raise Http404
        exporter = self.exporter()
        if not has_model_permission(request.user, exporter.model, VIEW):
            raise PermissionDenied(_("您的角色没有查看%(label)s的权限。") % {"label": exporter.label})
        fmt = request.GET.get("format", "xlsx")
        if fmt not in ("xlsx", "csv"):
            raise Http404
        params = request.GET.copy()
        params.pop("format", None)
        params.pop("page", None)
        limit = background_rows()
        if exceeds(exporter.get_queryset(request.user, params), limit):
            job = start_export_job(exporter, user=request.user, fmt=fmt, params=params, path=request.path)
            messages.info(request, _("数据超过 %(limit)s 行，已转为后台任务导出，完成后可在本页下载。") % {"limit": limit})
            return redirect("job_detail", pk=job.pk)
        filename = exporter.get_filename(fmt)
        fh, _count = export_to_file(exporter, user=request.user, fmt=fmt, params=params, path=request.path)
        response = FileResponse(fh, content_type=XLSX_TYPE if fmt == "xlsx" else "text/csv; charset=utf-8")
        response["Content-Disposition"] = _attachment(filename)
        return response


urlpatterns = [
    path("imports/", ImportBatchListView.as_view(), name="import_batches"),
    path("imports/batches/<int:pk>/", ImportBatchView.as_view(), name="import_batch"),
    path("imports/batches/<int:pk>/commit/", ImportCommitView.as_view(), name="import_commit"),
    path("imports/batches/<int:pk>/cancel/", ImportCancelView.as_view(), name="import_cancel"),
    path("imports/<str:importer>/upload/", ImportUploadView.as_view(), name="import_upload"),
    path("imports/<str:importer>/template.xlsx", ImportTemplateView.as_view(), name="import_template"),
]

__all__ = [
    "ExportView",
    "ImportBatchListView",
    "ImportBatchView",
    "ImportCancelView",
    "ImportCommitView",
    "ImportTemplateView",
    "ImportUploadView",
    "urlpatterns",
]
