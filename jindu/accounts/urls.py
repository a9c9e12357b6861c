from django.urls import path

from jindu.accounts import views

app_name = "accounts"
urlpatterns = [
    path("users/", views.UserListView.as_view(), name="user_list"),
    path("users/new/", views.UserCreateView.as_view(), name="user_create"),
    path("users/<int:pk>/deactivate/", views.UserActiveView.as_view(active=False), name="user_deactivate"),
    path("users/<int:pk>/reactivate/", views.UserActiveView.as_view(active=True), name="user_reactivate"),
    path("users/<int:pk>/password/", views.PasswordResetView.as_view(), name="password_reset"),
    path("users/<int:pk>/otp-reset/", views.OTPResetView.as_view(), name="otp_reset"),
    path("otp/", views.OTPView.as_view(), name="otp"),
    path("users/<int:pk>/", views.UserDetailView.as_view(), name="user_detail"),
    path("users/<int:pk>/grant/", views.GrantView.as_view(), name="grant"),
    path("grants/<int:pk>/revoke/", views.RevokeView.as_view(), name="revoke"),
    path("token/", views.TokenPageView.as_view(), name="token"),
]
