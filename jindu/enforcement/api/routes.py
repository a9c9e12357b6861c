"""Registers this app's API viewsets on the project router (called by `jindu.api_urls`)."""


def register(router) -> None:
    from jindu.enforcement.api import views

    router.register("enforcement/campaigns", views.CampaignViewSet, basename="campaign")
    router.register("enforcement/cases", views.CaseViewSet, basename="case")
    router.register("enforcement/suspects", views.SuspectViewSet, basename="suspect")
    router.register("enforcement/seizures", views.SeizureViewSet, basename="seizure")
    router.register("enforcement/gangs", views.GangViewSet, basename="gang")
    router.register("enforcement/screenings", views.ScreeningSessionViewSet, basename="screeningsession")
    router.register("enforcement/driver-tests", views.DriverTestViewSet, basename="drivertest")
