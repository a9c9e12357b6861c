"""Unit import and export routes (spreadsheet in and out)."""

from django.urls import path

from jindu.core.views.imports import ExportView, ImportTemplateView, ImportUploadView
from jindu.org.exporters import UnitExporter

urlpatterns: list = [
    path("units/import/", ImportUploadView.as_view(importer_name="org.unit"), name="unit_import"),
    path("units/import/template.xlsx", ImportTemplateView.as_view(importer_name="org.unit"),
         name="unit_import_template"),
    path("units/export/", ExportView.as_view(exporter=UnitExporter), name="unit_export"),
]
