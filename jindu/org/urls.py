from django.urls import path

from jindu.org import urls_io, views

app_name = "org"
urlpatterns: list = [
    path("units/", views.UnitListView.as_view(), name="unit_list"),
    path("units/new/", views.UnitCreateView.as_view(), name="unit_create"),
    path("units/<int:pk>/", views.UnitDetailView.as_view(), name="unit_detail"),
    path("units/<int:pk>/edit/", views.UnitUpdateView.as_view(), name="unit_edit"),
    path("pairings/", views.PairingView.as_view(), name="pairing_list"),
    path("pairings/new/", views.PairingCreateView.as_view(), name="pairing_create"),
    path("pairings/<int:pk>/delete/", views.PairingDeleteView.as_view(), name="pairing_delete"),
    path("pairings/copy/", views.PairingCopyView.as_view(), name="pairing_copy"),
    path("commission/", views.CommissionMembershipView.as_view(), name="membership_list"),
    path("commission/add/", views.MembershipAddView.as_view(), name="membership_add"),
    path("commission/save/", views.MembershipListSaveView.as_view(), name="membership_save"),
    path("commission/copy/", views.MembershipCopyView.as_view(), name="membership_copy"),
    *urls_io.urlpatterns,
]
