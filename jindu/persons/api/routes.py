"""Registers this app's API viewsets on the project router (called by `jindu.api_urls`)."""


def register(router) -> None:
    from jindu.persons.api.views import (
        ContactViewSet, DueItemViewSet, EventViewSet, PersonViewSet, RiskAssessmentViewSet, DrugTestViewSet,
    )

    router.register("persons", PersonViewSet, basename="person")
    router.register("events", EventViewSet, basename="event")
    router.register("tests", DrugTestViewSet, basename="test")
    router.register("contacts", ContactViewSet, basename="contact")
    router.register("assessments", RiskAssessmentViewSet, basename="riskassessment")
    router.register("due-items", DueItemViewSet, basename="dueitem")
