from django.urls import path

from jindu.accounts import views

app_name = "accounts"
urlpatterns = [
    path("users/", views.UserListView.as_view(), name="user_list"),
    path("users/<int:pk>/", views.UserDetailView.as_view(), name="user_detail"),
    path("users/<int:pk>/grant/", views.GrantView.as_view(), name="grant"),
    path("grants/<int:pk>/revoke/", views.RevokeView.as_view(), name="revoke"),
    path("token/", views.TokenPageView.as_view(), name="token"),
]
