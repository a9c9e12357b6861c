from django.contrib import messages
from django.shortcuts import redirect
from django.urls import path, reverse
from django.utils.translation import gettext as _

from jindu.core.views.imports import ExportView, ImportTemplateView, ImportUploadView
from jindu.enforcement import views
from jindu.enforcement.exporters import CaseExporter, case_filterset


class CaseExportView(ExportView):
    """The generic export; unreadable filters send the user back to the list, which names them."""

    exporter = CaseExporter

    def get(self, request, *args, **kwargs):
        if request.user.is_authenticated:
            params = request.GET.copy()
            params.pop("format", None)
            params.pop("page", None)
            if not case_filterset(request.user, params).is_valid():
                messages.error(request, _("筛选条件有误，未导出。"))
                return redirect(f"{reverse('enforcement:case_list')}?{params.urlencode()}")
        return super().get(request, *args, **kwargs)


app_name = "enforcement"
urlpatterns: list = [
    path("cases/", views.CaseListView.as_view(), name="case_list"),
    path("cases/new/", views.CaseCreateView.as_view(), name="case_create"),
    path("cases/export/", CaseExportView.as_view(), name="case_export"),
    path("cases/import/", ImportUploadView.as_view(importer_name="enforcement.case"), name="case_import"),
    path("cases/import/template.xlsx", ImportTemplateView.as_view(importer_name="enforcement.case"),
         name="case_import_template"),
    path("cases/<int:pk>/", views.CaseDetailView.as_view(), name="case_detail"),
    path("cases/<int:pk>/edit/", views.CaseUpdateView.as_view(), name="case_edit"),
    path("cases/<int:case_pk>/suspects/new/", views.SuspectCreateView.as_view(), name="suspect_create"),
    path("cases/<int:case_pk>/suspects/<int:pk>/edit/", views.SuspectUpdateView.as_view(), name="suspect_edit"),
    path("cases/<int:case_pk>/seizures/new/", views.SeizureCreateView.as_view(), name="seizure_create"),
    path("cases/<int:case_pk>/seizures/<int:pk>/edit/", views.SeizureUpdateView.as_view(), name="seizure_edit"),
    path("gangs/", views.GangListView.as_view(), name="gang_list"),
    path("gangs/new/", views.GangCreateView.as_view(), name="gang_create"),
    path("gangs/<int:pk>/", views.GangDetailView.as_view(), name="gang_detail"),
    path("gangs/<int:pk>/edit/", views.GangUpdateView.as_view(), name="gang_edit"),
    path("campaigns/", views.CampaignListView.as_view(), name="campaign_list"),
    path("campaigns/new/", views.CampaignCreateView.as_view(), name="campaign_create"),
    path("campaigns/<int:pk>/", views.CampaignDetailView.as_view(), name="campaign_detail"),
    path("campaigns/<int:pk>/edit/", views.CampaignUpdateView.as_view(), name="campaign_edit"),
    path("screenings/", views.ScreeningListView.as_view(), name="screening_list"),
    path("screenings/new/", views.ScreeningCreateView.as_view(), name="screening_create"),
    path("screenings/<int:pk>/", views.ScreeningDetailView.as_view(), name="screening_detail"),
    path("screenings/<int:pk>/tests/", views.DriverTestCreateView.as_view(), name="driver_test_create"),
    path("statistics/", views.StatisticsView.as_view(), name="statistics"),
]
