"""Unit import and export routes (spreadsheet in and out)."""

from django.urls import path  # noqa: F401

urlpatterns: list = []
