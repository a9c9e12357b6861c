"""Registry import and export routes (spreadsheet in and out). Included by
``jindu.persons.urls`` (``*urls_io.urlpatterns``), so the names are ``persons:person_import``,
``persons:person_import_template``, ``persons:test_import``, ``persons:test_import_template``,
``persons:person_export`` and ``persons:test_export``."""

from django.contrib import messages
from django.core.exceptions import BadRequest
from django.shortcuts import redirect
from django.urls import path, reverse
from django.utils.translation import gettext as _

from jindu.core.views.imports import ExportView, ImportTemplateView, ImportUploadView
from jindu.persons.exporters import DrugTestExporter, PersonExporter


class _FilteredExportView(ExportView):
    """The generic export; unreadable filter values send the user back to the list (which
    names them) instead of exporting anything."""

    back_to = "persons:person_list"

    def get(self, request, *args, **kwargs):
        if request.user.is_authenticated:
            params = request.GET.copy()
            params.pop("format", None)
            params.pop("page", None)
            try:
                self.exporter().get_queryset(request.user, params)
            except BadRequest as exc:
                messages.error(request, str(exc) or _("筛选条件有误，未导出。"))
                return redirect(f"{reverse(self.back_to)}?{params.urlencode()}")
        return super().get(request, *args, **kwargs)


class PersonExportView(_FilteredExportView):
    exporter = PersonExporter


class DrugTestExportView(_FilteredExportView):
    exporter = DrugTestExporter


urlpatterns: list = [
    path("import/", ImportUploadView.as_view(importer_name="persons.person"), name="person_import"),
    path("import/template.xlsx", ImportTemplateView.as_view(importer_name="persons.person"),
         name="person_import_template"),
    path("tests/import/", ImportUploadView.as_view(importer_name="persons.test_result"), name="test_import"),
    path("tests/import/template.xlsx", ImportTemplateView.as_view(importer_name="persons.test_result"),
         name="test_import_template"),
    path("export/", PersonExportView.as_view(), name="person_export"),
    path("tests/export/", DrugTestExportView.as_view(), name="test_export"),
]
