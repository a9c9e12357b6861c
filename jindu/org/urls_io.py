"""Unit import and export routes (spreadsheet in and out)."""

from django.contrib import messages
from django.shortcuts import redirect
from django.urls import path, reverse
from django.utils.translation import gettext as _

from jindu.core.views.imports import ExportView, ImportTemplateView, ImportUploadView
from jindu.org.exporters import UnitExporter, unit_filterset


class UnitExportView(ExportView):
    """The generic export, but unreadable filter values send the user back to the list
    (which names them) instead of exporting anything."""

    exporter = UnitExporter

    def get(self, request, *args, **kwargs):
        if request.user.is_authenticated:
            params = request.GET.copy()
            params.pop("format", None)
            params.pop("page", None)
            filterset = unit_filterset(request.user, params)
            if not filterset.is_valid():
                messages.error(request, _("筛选条件有误，未导出。"))
                return redirect(f"{reverse('org:unit_list')}?{params.urlencode()}")
        return super().get(request, *args, **kwargs)


urlpatterns: list = [
    path("units/import/", ImportUploadView.as_view(importer_name="org.unit"), name="unit_import"),
    path("units/import/template.xlsx", ImportTemplateView.as_view(importer_name="org.unit"),
         name="unit_import_template"),
    path("units/export/", UnitExportView.as_view(), name="unit_export"),
]
