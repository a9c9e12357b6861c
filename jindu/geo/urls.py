from django.urls import path

from jindu.core.views.imports import ImportTemplateView, ImportUploadView
from jindu.geo import views

app_name = "geo"
urlpatterns = [
    path("", views.DivisionTreeView.as_view(), name="division_tree"),
    path("<int:pk>/", views.DivisionDetailView.as_view(), name="division_detail"),
    path("<int:pk>/children/", views.DivisionChildrenView.as_view(), name="division_children"),
    path("<int:pk>/grids/new/", views.GridCreateView.as_view(), name="grid_create"),
    path("grids/<int:pk>/rename/", views.GridRenameView.as_view(), name="grid_rename"),
    path("grids/<int:pk>/deactivate/", views.GridActiveView.as_view(active=False), name="grid_deactivate"),
    path("grids/<int:pk>/reactivate/", views.GridActiveView.as_view(active=True), name="grid_reactivate"),
    path("grids/import/", ImportUploadView.as_view(importer_name="geo.grid"), name="grid_import"),
    path("grids/import/template.xlsx", ImportTemplateView.as_view(importer_name="geo.grid"),
         name="grid_import_template"),
    path("population/", views.PopulationListView.as_view(), name="population_list"),
    path("population/new/", views.PopulationCreateView.as_view(), name="population_create"),
    path("population/<int:pk>/edit/", views.PopulationUpdateView.as_view(), name="population_edit"),
    path("population/import/", ImportUploadView.as_view(importer_name="geo.population"), name="population_import"),
    path("population/import/template.xlsx", ImportTemplateView.as_view(importer_name="geo.population"),
         name="population_import_template"),
    path("population/export/", views.PopulationExportView.as_view(), name="population_export"),
]
