from django.urls import path  # noqa: F401

from jindu.org import urls_io

app_name = "org"
urlpatterns: list = [
    *urls_io.urlpatterns,
]
