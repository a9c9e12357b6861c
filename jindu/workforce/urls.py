from django.urls import path

from jindu.workforce import views

app_name = "workforce"
urlpatterns: list = [
    path("", views.StaffingView.as_view(), name="staffing"),
    path("staffing.xlsx", views.StaffingExportView.as_view(), name="staffing_export"),
    path("teams/", views.TeamListView.as_view(), name="team_list"),
    path("teams/new/", views.TeamCreateView.as_view(), name="team_create"),
    path("teams/<int:pk>/", views.TeamDetailView.as_view(), name="team_detail"),
    path("teams/<int:pk>/edit/", views.TeamUpdateView.as_view(), name="team_edit"),
    path("workers/", views.WorkerListView.as_view(), name="worker_list"),
    path("workers/new/", views.WorkerCreateView.as_view(), name="worker_create"),
    path("workers/<int:pk>/", views.WorkerDetailView.as_view(), name="worker_detail"),
    path("workers/<int:pk>/edit/", views.WorkerUpdateView.as_view(), name="worker_edit"),
    path("workers/<int:pk>/confirm/", views.WorkerConfirmView.as_view(), name="worker_confirm"),
    path("workers/<int:pk>/leave/", views.WorkerLeaveView.as_view(), name="worker_leave"),
    path("workers/<int:pk>/contracts/new/", views.ContractCreateView.as_view(), name="contract_create"),
    path("workers/<int:pk>/trainings/new/", views.TrainingCreateView.as_view(), name="training_create"),
    path("workers/<int:pk>/appraisals/compute/", views.AppraisalComputeView.as_view(), name="appraisal_compute"),
    path("appraisals/<int:pk>/", views.AppraisalDetailView.as_view(), name="appraisal_detail"),
    path("appraisals/<int:pk>/marks/", views.AppraisalMarkView.as_view(), name="appraisal_mark"),
    path("appraisals/<int:pk>/decide/", views.AppraisalDecideView.as_view(), name="appraisal_decide"),
    path("renewals/", views.RenewalsView.as_view(), name="renewals"),
    path("meetings/", views.MeetingListView.as_view(), name="meeting_list"),
    path("meetings/new/", views.MeetingCreateView.as_view(), name="meeting_create"),
    path("meetings/<int:pk>/", views.MeetingDetailView.as_view(), name="meeting_detail"),
    path("towns/<int:pk>/caseload/", views.CaseloadView.as_view(), name="caseload"),
    path("towns/<int:pk>/caseload/assign/", views.CaseloadAssignView.as_view(), name="caseload_assign"),
    path("towns/<int:pk>/caseload/balance/", views.CaseloadBalanceView.as_view(), name="caseload_balance"),
]
