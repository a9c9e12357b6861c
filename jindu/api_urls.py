"""/api/: the REST API (DRF), scoped exactly like the pages, with its OpenAPI schema."""

from django.urls import path  # noqa: F401

urlpatterns: list = []
