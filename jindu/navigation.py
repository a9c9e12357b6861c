"""The main navigation: every module of DESIGN.md, with those not built yet marked."""

from __future__ import annotations

from dataclasses import dataclass

from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True)
class NavItem:
    """One top-level module. ``url_name`` is ``None`` while the module is not built: its
    link then leads to a page saying so (``module_pending``), never to invented content."""

    key: str
    label: str
    url_name: str | None  # None: module not built yet
    permission: str | None = None  # shown only to users holding it (in any grant)
    jurisdiction: bool = False  # hidden from an enterprise's own accounts (no jurisdiction to browse)

    @property
    def built(self) -> bool:
        return self.url_name is not None and self._reverse(self.url_name) is not None

    @property
    def url(self) -> str | None:
        if self.built:
            return self._reverse(self.url_name)
        return self._reverse("module_pending", self.key)

    @staticmethod
    def _reverse(name: str, *args) -> str | None:
        try:
            return reverse(name, args=args)
        except NoReverseMatch:
            return None


MODULES: tuple[NavItem, ...] = (
    NavItem("home", _("首页"), "home"),
    NavItem("geo", _("行政区划"), "geo:division_tree", jurisdiction=True),
    NavItem("org", _("组织单位"), "org:unit_list", jurisdiction=True),
    NavItem("persons", _("吸毒人员管控"), "persons:person_list", permission="persons.view_person"),
    NavItem("workforce", _("禁毒社工"), "workforce:staffing", permission="workforce.view_team"),
    NavItem("enforcement", _("打击破案"), "enforcement:case_list", permission="enforcement.view_case"),
    NavItem("inspections", _("检查与整改"), "inspections:target_list", permission="inspections.view_target"),
    NavItem("precursors", _("易制毒化学品"), "precursors:overview", permission="precursors.view_enterprise"),
    NavItem("prevention", _("禁毒宣传"), None),
    NavItem("cultivation", _("毒品原植物踏查"), None),
    NavItem("monitoring", _("毒情监测"), None),
    NavItem("assessment", _("禁毒工作考核"), None),
    NavItem("reporting", _("统计报表"), None),
    NavItem("accounts", _("用户与授权"), "accounts:user_list", permission="accounts.view_user"),
)


def module(key: str) -> NavItem | None:
    return next((m for m in MODULES if m.key == key), None)


def navigation_for(request) -> tuple[NavItem, ...]:
    if not getattr(request, "user", None) or not request.user.is_authenticated:
        return ()
    user = request.user
    enterprise_account = is_enterprise_account(user)
    return tuple(m for m in MODULES if (m.permission is None or user.has_perm(m.permission))
                 and not (m.jurisdiction and enterprise_account))


#: The permission that marks an enterprise's own account (role ``enterprise``, assigned-only).
ENTERPRISE_SELF_PERMISSION = "precursors.view_enterprise"


def is_enterprise_account(user) -> bool:
    """Whether every grant of ``user`` is an enterprise's own account (role ``enterprise``:
    assigned-only, holding ``precursors.view_enterprise``). Such users keep their
    enterprise's records and have no divisions or units to browse (no dashboard, no
    division or unit menus)."""
    from jindu.core.scope import user_grants

    if user.is_superuser:
        return False
    grants = user_grants(user)
    return bool(grants) and all(g.assigned_only and ENTERPRISE_SELF_PERMISSION in g.permissions for g in grants)
