from django.contrib import messages
from django.shortcuts import redirect
from django.urls import path, reverse
from django.utils.translation import gettext as _

from jindu.core.views.imports import ExportView, ImportTemplateView, ImportUploadView
from jindu.inspections import views
from jindu.inspections.exporters import TargetExporter


class TargetExportView(ExportView):
    """The generic export; unreadable filters or period send the user back to the list
    (which names them) instead of exporting anything."""

    exporter = TargetExporter

    def get(self, request, *args, **kwargs):
        from django.core.exceptions import BadRequest

        if request.user.is_authenticated:
            params = request.GET.copy()
            params.pop("format", None)
            params.pop("page", None)
            try:
                TargetExporter().get_queryset(request.user, params).exists()
            except BadRequest:
                messages.error(request, _("筛选条件有误，未导出。"))
                return redirect(f"{reverse('inspections:target_list')}?{params.urlencode()}")
        return super().get(request, *args, **kwargs)


app_name = "inspections"
urlpatterns: list = [
    path("", views.TargetListView.as_view(), name="target_list"),
    path("targets/map/", views.TargetMapView.as_view(), name="target_map"),
    path("targets/new/", views.TargetCreateView.as_view(), name="target_create"),
    path("targets/<int:pk>/", views.TargetDetailView.as_view(), name="target_detail"),
    path("targets/<int:pk>/edit/", views.TargetUpdateView.as_view(), name="target_edit"),
    path("targets/<int:pk>/inspect/", views.InspectionCreateView.as_view(), name="inspection_create"),
    path("targets/export/", TargetExportView.as_view(), name="target_export"),
    path("targets/import/", ImportUploadView.as_view(importer_name="inspections.target"), name="target_import"),
    path("targets/import/template.xlsx", ImportTemplateView.as_view(importer_name="inspections.target"),
         name="target_import_template"),
    path("inspections/<int:pk>/", views.InspectionDetailView.as_view(), name="inspection_detail"),
    path("inspections/<int:pk>/close/", views.InspectionCloseView.as_view(), name="inspection_close"),
    path("hazards/", views.HazardListView.as_view(), name="hazard_list"),
    path("hazards/<int:pk>/", views.HazardDetailView.as_view(), name="hazard_detail"),
    path("hazards/<int:pk>/rectify/", views.HazardRectifyView.as_view(), name="hazard_rectify"),
    path("hazards/<int:pk>/deadline/", views.HazardDeadlineView.as_view(), name="hazard_deadline"),
    path("hazards/<int:pk>/close/", views.HazardCloseView.as_view(), name="hazard_close"),
    path("checklists/", views.TemplateListView.as_view(), name="template_list"),
    path("checklists/new/", views.TemplateCreateView.as_view(), name="template_create"),
    path("checklists/<int:pk>/", views.TemplateDetailView.as_view(), name="template_detail"),
    path("checklists/<int:pk>/revise/", views.TemplateReviseView.as_view(), name="template_revise"),
    path("checklists/<int:pk>/default/", views.TemplateDefaultView.as_view(), name="template_default"),
    path("stats/", views.StatsView.as_view(), name="stats"),
]
