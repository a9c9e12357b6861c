from django.urls import path

from jindu.org import urls_io, views

app_name = "org"
urlpatterns: list = [
    path("units/", views.UnitListView.as_view(), name="unit_list"),
    path("units/new/", views.UnitCreateView.as_view(), name="unit_create"),
    path("units/<int:pk>/", views.UnitDetailView.as_view(), name="unit_detail"),
    path("units/<int:pk>/edit/", views.UnitUpdateView.as_view(), name="unit_edit"),
    path("pairings/", views.PairingView.as_view(), name="pairing_list"),
    *urls_io.urlpatterns,
]
