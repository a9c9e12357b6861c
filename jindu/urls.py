from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("", include("jindu.core.urls")),
    path("geo/", include("jindu.geo.urls")),
    path("org/", include("jindu.org.urls")),
    path("accounts/", include("jindu.accounts.urls")),
    path("substances/", include("jindu.substances.urls")),
    path("persons/", include("jindu.persons.urls")),
    path("enforcement/", include("jindu.enforcement.urls")),
    path("inspections/", include("jindu.inspections.urls")),
    path("workforce/", include("jindu.workforce.urls")),
    path("precursors/", include("jindu.precursors.urls")),
    path("api/", include("jindu.api_urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
]
