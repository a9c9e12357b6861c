"""/api/: the REST API (DRF), scoped exactly like the pages, with its OpenAPI schema.

Session and token authentication (``Authorization: Token <key>``; a user makes their
token at ``/api/token/``). Schema at ``/api/schema/``, interactive docs at ``/api/docs/``
(Swagger UI served from the vendored sidecar, no CDN); both need a login.
"""

from csp.decorators import csp_update
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework import permissions
from rest_framework.routers import DefaultRouter

from jindu.core.api import api_not_found
from jindu.accounts.api.views import RoleAssignmentViewSet, TokenView, UserViewSet
from jindu.geo.api.views import DivisionViewSet
from jindu.org.api.views import CommissionMembershipViewSet, PairingViewSet, UnitViewSet
from jindu.enforcement.api import routes as enforcement_routes
from jindu.inspections.api import routes as inspections_routes
from jindu.persons.api import routes as persons_routes
from jindu.precursors.api import routes as precursors_routes
from jindu.substances.api import routes as substances_routes
from jindu.workforce.api import routes as workforce_routes

app_name = "api"

router = DefaultRouter()
router.register("divisions", DivisionViewSet, basename="division")
router.register("units", UnitViewSet, basename="unit")
router.register("memberships", CommissionMembershipViewSet, basename="commissionmembership")
router.register("pairings", PairingViewSet, basename="pairing")
router.register("users", UserViewSet, basename="user")
router.register("role-assignments", RoleAssignmentViewSet, basename="roleassignment")
# Domain apps register their own endpoints.
for _register in (substances_routes.register, persons_routes.register, enforcement_routes.register,
                  inspections_routes.register, workforce_routes.register, precursors_routes.register):
    _register(router)

_logged_in = [permissions.IsAuthenticated]
# Swagger UI sets inline style attributes; only the documentation page gets that
# allowance — scripts stay 'self' everywhere.
_docs_csp = csp_update({"style-src": ["'unsafe-inline'"]})

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(permission_classes=_logged_in), name="schema"),
    path("docs/", _docs_csp(SpectacularSwaggerSplitView.as_view(url_name="api:schema", permission_classes=_logged_in)),
         name="docs"),
    path("token/", TokenView.as_view(), name="token"),
    path("", include(router.urls)),
    # Anything else under /api/ answers in the API's own shape, not with the HTML 404 page.
    re_path(r"^.*$", api_not_found),
]
