from django.urls import path

from jindu.geo import views

app_name = "geo"
urlpatterns = [
    path("", views.DivisionTreeView.as_view(), name="division_tree"),
    path("<int:pk>/", views.DivisionDetailView.as_view(), name="division_detail"),
    path("<int:pk>/children/", views.DivisionChildrenView.as_view(), name="division_children"),
]
