from django.urls import path

from jindu.persons import urls_io, urls_workflows
from jindu.persons.views import casework, persons, worklists

app_name = "persons"
urlpatterns: list = [
    path("", persons.PersonListView.as_view(), name="person_list"),
    path("new/", persons.PersonCreateView.as_view(), name="person_create"),
    path("<int:pk>/", persons.PersonDetailView.as_view(), name="person_detail"),
    path("<int:pk>/edit/", persons.PersonUpdateView.as_view(), name="person_edit"),
    path("<int:pk>/assign/", persons.AssignWorkerView.as_view(), name="assign_worker"),
    path("<int:pk>/events/new/", persons.EventCreateView.as_view(), name="event_create"),
    path("<int:pk>/events/<int:event_pk>/correct/", persons.EventCorrectView.as_view(), name="event_correct"),
    path("<int:pk>/contacts/new/", casework.ContactCreateView.as_view(), name="contact_create"),
    path("<int:pk>/tests/new/", casework.DrugTestCreateView.as_view(), name="test_create"),
    path("<int:pk>/assistance/new/", casework.AssistanceCreateView.as_view(), name="assistance_create"),
    path("<int:pk>/plans/new/", casework.PlanCreateView.as_view(), name="plan_create"),
    path("<int:pk>/plans/<int:plan_pk>/edit/", casework.PlanUpdateView.as_view(), name="plan_edit"),
    path("<int:pk>/assess/", casework.RiskAssessView.as_view(), name="risk_assess"),
    path("worklist/", worklists.MyWorklistView.as_view(), name="my_worklist"),
    path("worklist/divisions/", worklists.DivisionWorklistView.as_view(), name="division_worklist_root"),
    path("worklist/divisions/<int:pk>/", worklists.DivisionWorklistView.as_view(), name="division_worklist"),
    path("worklist/card/", worklists.WorklistCardView.as_view(), name="worklist_card"),
    *urls_io.urlpatterns,
    *urls_workflows.urlpatterns,
]
