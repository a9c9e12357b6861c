"""URL patterns of the workflow pages (流程: handover, community measures, transfers, screening,
merge, driving licences, temporary access), included by ``persons.urls``."""

from django.urls import path

from jindu.persons.views import workflows as w

urlpatterns: list = [
    path("workflows/", w.WorkflowIndexView.as_view(), name="workflows"),
    path("workflows/handovers/", w.HandoverListView.as_view(), name="handover_list"),
    path("workflows/handovers/new/", w.HandoverCreateView.as_view(), name="handover_create"),
    path("workflows/handovers/<int:pk>/", w.HandoverDetailView.as_view(), name="handover_detail"),
    path("workflows/handovers/<int:pk>/step/", w.HandoverStepView.as_view(), name="handover_step"),
    path("workflows/orders/", w.OrderListView.as_view(), name="order_list"),
    path("workflows/orders/<int:pk>/propose/", w.BreachProposeView.as_view(), name="breach_propose"),
    path("workflows/orders/<int:pk>/completed/", w.CompletionRecordView.as_view(), name="completion_record"),
    path("workflows/transfers/", w.TransferListView.as_view(), name="transfer_list"),
    path("workflows/transfers/new/", w.TransferCreateView.as_view(), name="transfer_create"),
    path("workflows/transfers/<int:pk>/decide/", w.TransferDecideView.as_view(), name="transfer_decide"),
    path("workflows/screening/", w.ScreeningListView.as_view(), name="screening_list"),
    path("workflows/screening/new/", w.ScreeningCreateView.as_view(), name="screening_create"),
    path("workflows/screening/<int:pk>/", w.ScreeningDetailView.as_view(), name="screening_detail"),
    path("workflows/screening/<int:pk>/close/", w.ScreeningCloseView.as_view(), name="screening_close"),
    path("workflows/screening/<int:pk>/new-person/", w.ScreeningNewPersonView.as_view(), name="screening_new_person"),
    path("workflows/screening/results/<int:pk>/", w.ScreeningResultView.as_view(), name="screening_result"),
    path("workflows/merges/", w.MergeListView.as_view(), name="merge_list"),
    path("workflows/merges/<int:pk>/decide/", w.MergeDecideView.as_view(), name="merge_decide"),
    path("workflows/licences/", w.LicenceListView.as_view(), name="licence_list"),
    path("workflows/licences/export/", w.LicenceExportView.as_view(), name="licence_export"),
    path("workflows/licences/<int:pk>/cancel/", w.LicenceCancelView.as_view(), name="licence_cancel"),
    path("workflows/access/", w.AccessListView.as_view(), name="access_list"),
    path("workflows/access/request/", w.AccessRequestView.as_view(), name="access_request"),
    path("workflows/access/<int:pk>/decide/", w.AccessDecideView.as_view(), name="access_decide"),
]

# The registry statistics page (persons.indicators; added by the indicators helper).
from jindu.persons.views import statistics as _statistics  # noqa: E402

urlpatterns += [path("statistics/", _statistics.StatisticsView.as_view(), name="statistics")]
