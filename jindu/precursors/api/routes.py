"""Registers this app's API viewsets on the project router (called by `jindu.api_urls`)."""


def register(router) -> None:
    from jindu.precursors.api import views

    for prefix, viewset, basename in views.ROUTES:
        router.register(prefix, viewset, basename=basename)
