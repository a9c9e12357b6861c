"""Registers this app's API viewsets on the project router (called by `jindu.api_urls`)."""


def register(router) -> None:
    pass
