"""Registers this app's API viewsets on the project router (called by `jindu.api_urls`)."""


def register(router) -> None:
    from jindu.workforce.api.views import (
        AppraisalViewSet, ContractPeriodViewSet, MeetingViewSet, StaffingViewSet, TeamViewSet,
        TrainingRecordViewSet, WorkerViewSet,
    )

    router.register("workforce/teams", TeamViewSet, basename="team")
    router.register("workforce/workers", WorkerViewSet, basename="worker")
    router.register("workforce/contracts", ContractPeriodViewSet, basename="contractperiod")
    router.register("workforce/trainings", TrainingRecordViewSet, basename="trainingrecord")
    router.register("workforce/meetings", MeetingViewSet, basename="meeting")
    router.register("workforce/appraisals", AppraisalViewSet, basename="appraisal")
    router.register("workforce/staffing", StaffingViewSet, basename="staffing")
