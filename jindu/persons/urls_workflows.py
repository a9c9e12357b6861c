"""URL patterns of the workflow pages (流程: handover, community measures, transfers, screening,
merge, driving licences, temporary access), included by ``persons.urls``."""

from django.urls import path

from jindu.persons.views.workflows import access, base, handover, licences, merge, orders, screening, transfers

urlpatterns: list = [
    path("workflows/", base.WorkflowIndexView.as_view(), name="workflows"),
    path("workflows/handovers/", handover.HandoverListView.as_view(), name="handover_list"),
    path("workflows/handovers/new/", handover.HandoverCreateView.as_view(), name="handover_create"),
    path("workflows/handovers/<int:pk>/", handover.HandoverDetailView.as_view(), name="handover_detail"),
    path("workflows/handovers/<int:pk>/step/", handover.HandoverStepView.as_view(), name="handover_step"),
    path("workflows/orders/", orders.OrderListView.as_view(), name="order_list"),
    path("workflows/orders/<int:pk>/propose/", orders.BreachProposeView.as_view(), name="breach_propose"),
    path("workflows/orders/<int:pk>/completed/", orders.CompletionRecordView.as_view(), name="completion_record"),
    path("workflows/transfers/", transfers.TransferListView.as_view(), name="transfer_list"),
    path("workflows/transfers/new/", transfers.TransferCreateView.as_view(), name="transfer_create"),
    path("workflows/transfers/<int:pk>/decide/", transfers.TransferDecideView.as_view(), name="transfer_decide"),
    path("workflows/screening/", screening.ScreeningListView.as_view(), name="screening_list"),
    path("workflows/screening/new/", screening.ScreeningCreateView.as_view(), name="screening_create"),
    path("workflows/screening/<int:pk>/", screening.ScreeningDetailView.as_view(), name="screening_detail"),
    path("workflows/screening/<int:pk>/close/", screening.ScreeningCloseView.as_view(), name="screening_close"),
    path("workflows/screening/<int:pk>/new-person/", screening.ScreeningNewPersonView.as_view(),
         name="screening_new_person"),
    path("workflows/screening/results/<int:pk>/", screening.ScreeningResultView.as_view(), name="screening_result"),
    path("workflows/merges/", merge.MergeListView.as_view(), name="merge_list"),
    path("workflows/merges/<int:pk>/decide/", merge.MergeDecideView.as_view(), name="merge_decide"),
    path("workflows/licences/", licences.LicenceListView.as_view(), name="licence_list"),
    path("workflows/licences/export/", licences.LicenceExportView.as_view(), name="licence_export"),
    path("workflows/licences/<int:pk>/cancel/", licences.LicenceCancelView.as_view(), name="licence_cancel"),
    path("workflows/access/", access.AccessListView.as_view(), name="access_list"),
    path("workflows/access/request/", access.AccessRequestView.as_view(), name="access_request"),
    path("workflows/access/<int:pk>/decide/", access.AccessDecideView.as_view(), name="access_decide"),
]

# The registry statistics page (persons.indicators; added by the indicators helper).
from jindu.persons.views import statistics as _statistics  # noqa: E402

urlpatterns += [path("statistics/", _statistics.StatisticsView.as_view(), name="statistics")]
