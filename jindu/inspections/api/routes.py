"""Registers this app's API viewsets on the project router (called by `jindu.api_urls`)."""

from jindu.inspections.api.views import ChecklistTemplateViewSet, HazardViewSet, InspectionViewSet, TargetViewSet


def register(router) -> None:
    router.register("inspection-targets", TargetViewSet, basename="inspectiontarget")
    router.register("checklists", ChecklistTemplateViewSet, basename="checklisttemplate")
    router.register("inspections", InspectionViewSet, basename="inspection")
    router.register("hazards", HazardViewSet, basename="hazard")
