from django.urls import path

from jindu.precursors import views

app_name = "precursors"
urlpatterns: list = [
    path("", views.OverviewView.as_view(), name="overview"),
    path("enterprises/", views.EnterpriseListView.as_view(), name="enterprise_list"),
    path("enterprises/new/", views.EnterpriseCreateView.as_view(), name="enterprise_create"),
    path("enterprises/<int:pk>/", views.EnterpriseDetailView.as_view(), name="enterprise_detail"),
    path("enterprises/<int:pk>/edit/", views.EnterpriseUpdateView.as_view(), name="enterprise_edit"),
    path("enterprises/<int:pk>/ledger/", views.EnterpriseLedgerView.as_view(), name="enterprise_ledger"),
    path("enterprises/<int:pk>/licences/new/", views.LicenceCreateView.as_view(), name="licence_create"),
    path("licences/<int:pk>/revoke/", views.LicenceRevokeView.as_view(), name="licence_revoke"),
    path("ledger/new/", views.LedgerEntryCreateView.as_view(), name="entry_create"),
    path("ledger/<int:pk>/", views.EntryDetailView.as_view(), name="entry_detail"),
    path("ledger/<int:pk>/void/", views.EntryVoidView.as_view(), name="entry_void"),
    path("counts/new/", views.StockCountCreateView.as_view(), name="count_create"),
    path("discrepancies/", views.DiscrepancyListView.as_view(), name="discrepancy_list"),
    path("discrepancies/<int:pk>/", views.DiscrepancyDetailView.as_view(), name="discrepancy_detail"),
    path("discrepancies/<int:pk>/assign/", views.DiscrepancyAssignView.as_view(), name="discrepancy_assign"),
    path("discrepancies/<int:pk>/work/", views.DiscrepancyWorkView.as_view(), name="discrepancy_work"),
    path("discrepancies/<int:pk>/close/", views.DiscrepancyCloseView.as_view(), name="discrepancy_close"),
    path("discrepancies/<int:pk>/reopen/", views.DiscrepancyReopenView.as_view(), name="discrepancy_reopen"),
    path("supervision/", views.SupervisionView.as_view(), name="supervision"),
    path("enterprises/export/", views.EnterpriseExportView.as_view(), name="enterprise_export"),
    path("ledger/export/", views.LedgerExportView.as_view(), name="ledger_export"),
    path("licences/export/", views.LicenceExportView.as_view(), name="licence_export"),
]
