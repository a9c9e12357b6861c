"""Site pages: login/logout, the CSRF failure page, the home dashboard (an enterprise's
own account goes to its enterprise instead), and the "module not built yet" page.

``core`` imports no domain app (DESIGN.md's layering), so the dashboard reaches the
division, unit and user models by label through :func:`django.apps.apps.get_model`.
"""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.db.models import Count, Q
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, path, reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _

from jindu.core.scope import VIEW, has_model_permission
from jindu.navigation import is_enterprise_account
from jindu.navigation import module as nav_module

TOWN_KINDS = ("subdistrict", "town", "township")  # NBS 街道/镇/乡; "town_like" counted apart


def demo_logins() -> tuple[list[dict[str, Any]], str]:
    """``(logins, password)`` for the login page in demo mode, from ``jindu.accounts.demo``
    (``([], "")`` outside demo mode). Imported lazily: core does not depend on accounts."""
    if not settings.JINDU_DEMO:
        return [], ""
    try:
        from jindu.accounts import demo
    except ImportError:
        return [], ""
    return demo.demo_logins(), demo.DEMO_PASSWORD


class LoginView(auth_views.LoginView):
    """Django's login; django-axes locks the username+IP pair after repeated failures
    (``AXES_FAILURE_LIMIT``) and then renders ``registration/locked_out.html``."""

    template_name = "registration/login.html"
    redirect_authenticated_user = True

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx["demo_logins"], ctx["demo_password"] = demo_logins()
        ctx["failure_limit"] = getattr(settings, "AXES_FAILURE_LIMIT", 5)
        return ctx


class LogoutView(auth_views.LogoutView):
    """Logout is a POST (a link or prefetch must never sign anyone out); ``GET /logout/``
    shows a small page with the logout button instead of Django's blank 405."""

    http_method_names = ["get", "post", "options"]

    def get(self, request, *args, **kwargs):
        return render(request, "registration/logout.html")


def csrf_failure(request, reason: str = ""):
    """``CSRF_FAILURE_VIEW``: a Chinese page (403) with a way back, never Django's debug
    text; ``reason`` is not shown (it describes the check, not what the user should do).

    The way back is the ``Referer`` when it is a page of this site.
    """
    referer = request.META.get("HTTP_REFERER", "")
    back = referer if referer and url_has_allowed_host_and_scheme(
        referer, {request.get_host()}, require_https=request.is_secure()) else ""
    return render(request, "403_csrf.html", {"back_url": back}, status=403)


def dashboard(user) -> dict[str, Any]:
    """Counts for the home page, all read through ``.restrict(user, "view")``.

    Returns ``{"counts": {...}, "districts": [...], "chart": {...}}``; a count is ``None``
    when the user's roles may not see that kind of record at all (the card is hidden
    rather than showing a number the user is not entitled to).
    """
    Division = apps.get_model("geo", "Division")
    Unit = apps.get_model("org", "Unit")
    User = apps.get_model(settings.AUTH_USER_MODEL)

    divisions = Division.objects.restrict(user, VIEW)
    counts: dict[str, int | None] = divisions.aggregate(
        districts=Count("pk", filter=Q(level="district")),
        subdistricts=Count("pk", filter=Q(level="town", town_kind="subdistrict")),
        towns=Count("pk", filter=Q(level="town", town_kind="town")),
        townships=Count("pk", filter=Q(level="town", town_kind="township")),
        town_like=Count("pk", filter=Q(level="town", town_kind="town_like")),
        villages=Count("pk", filter=Q(level="village")),
        grids=Count("pk", filter=Q(level="grid")),
    )
    counts["town_total"] = counts["subdistricts"] + counts["towns"] + counts["townships"]
    counts["units"] = Unit.objects.restrict(user, VIEW).count() if has_model_permission(user, Unit, VIEW) else None
    counts["users"] = User.objects.restrict(user, VIEW).count() if has_model_permission(user, User, VIEW) else None
    counts["has_divisions"] = has_model_permission(user, Division, VIEW)

    # Per district: towns grouped by their parent district, villages by their grandparent,
    # so a town-level user sees one row for the district around their own town.
    per_district: dict[int, dict[str, int]] = {}
    town_rows = (
        divisions.filter(level="town")
        .values("parent_id")
        .annotate(
            subdistricts=Count("pk", filter=Q(town_kind="subdistrict")),
            towns=Count("pk", filter=Q(town_kind="town")),
            townships=Count("pk", filter=Q(town_kind="township")),
            town_like=Count("pk", filter=Q(town_kind="town_like")),
        )
    )
    empty = {"subdistricts": 0, "towns": 0, "townships": 0, "town_like": 0, "villages": 0}
    for row in town_rows:
        per_district.setdefault(row.pop("parent_id"), dict(empty)).update(row)
    for row in divisions.filter(level="village").values("parent__parent_id").annotate(n=Count("pk")):
        per_district.setdefault(row["parent__parent_id"], dict(empty))["villages"] = row["n"]
    for pk in divisions.filter(level="district").values_list("pk", flat=True):
        per_district.setdefault(pk, dict(empty))

    visible_ids = set(divisions.filter(pk__in=per_district).values_list("pk", flat=True))
    districts = []
    for d in Division.objects.filter(pk__in=per_district).order_by("code"):
        row = per_district[d.pk]
        row["town_total"] = row["subdistricts"] + row["towns"] + row["townships"]
        districts.append({"division": d, "linkable": d.pk in visible_ids, **row})

    chart = {
        "categories": [r["division"].name for r in districts],
        "series": [
            {"name": _("镇街"), "data": [r["town_total"] for r in districts]},
            {"name": _("类似乡级单位"), "data": [r["town_like"] for r in districts]},
            {"name": _("村居"), "data": [r["villages"] for r in districts]},
        ],
    }
    return {"counts": counts, "districts": districts, "chart": chart}


def enterprise_landing(user) -> str | None:
    """Where a user whose every grant is an enterprise's own account starts: their
    enterprise's page when they keep exactly one, else their list of enterprises. ``None``
    for everyone else (superusers, jurisdiction roles, mixed role sets) and when the
    precursors module is not installed.

    Such users have no jurisdiction to survey: the dashboard's division counts mean nothing
    to them. The enterprise model is reached by label (core imports no domain app).
    """
    if not is_enterprise_account(user):
        return None
    try:
        Enterprise = apps.get_model("precursors", "Enterprise")
        ids = list(Enterprise.objects.restrict(user, VIEW).values_list("pk", flat=True)[:2])
        if len(ids) == 1:
            return reverse("precursors:enterprise_detail", args=[ids[0]])
        return reverse("precursors:enterprise_list")
    except (LookupError, NoReverseMatch):
        return None


@login_required
def home(request):
    landing = enterprise_landing(request.user)
    if landing:
        return redirect(landing)
    return render(request, "core/home.html", dashboard(request.user))


@login_required
def module_pending(request, key: str):
    """A module of DESIGN.md that is not built yet: say so plainly, show nothing else."""
    item = nav_module(key)
    if item is None:
        raise Http404
    if item.built:
        return redirect(item.url)
    return render(request, "core/module_pending.html", {"module": item})


urlpatterns = [
    path("", home, name="home"),
    path("login/", LoginView.as_view(), name="login"),
    path("logout/", LogoutView.as_view(), name="logout"),
    path("modules/<slug:key>/", module_pending, name="module_pending"),
]
