"""Default roles and their permissions, created after migration when missing.

Later edits (admin, API) are kept: :func:`ensure_default_roles` only creates roles that do
not exist yet, and adds permissions of models that appeared since (new modules), never
removing a permission an administrator has changed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True)
class RoleSpec:
    code: str
    name: str
    description: str
    # "<app_label>.<action>_<model>" or "<app_label>.*" (every permission of the app) or
    # "<app_label>.view_*" (every view permission of the app).
    permissions: tuple[str, ...] = field(default_factory=tuple)
    assigned_only: bool = False
    requires_otp: bool = False


READ_REFERENCE = ("geo.view_division", "geo.view_population", "org.view_unit", "org.view_commissionmembership",
                  "org.view_pairing", "substances.view_*")
# Case work on the registry: read, register, record events and case work (no deletion:
# wrong records are corrected on the timeline, never deleted).
PERSONS_WORK = ("persons.view_*", "persons.add_*", "persons.change_*")
ALL_DOMAIN_VIEW = ("persons.view_*", "enforcement.view_*", "inspections.view_*", "workforce.view_*",
                   "precursors.view_*")
# An enterprise's own users keep their records (ledger, counts, licences on file) and never
# see discrepancies, other enterprises or anything else (assigned-only: rows of the
# enterprises whose account_users they are). They void their own wrong ledger entries
# until a regulator relies on them (precursors.services.void_entry); supervisors void any.
ENTERPRISE_SELF = ("precursors.view_chemical", "precursors.view_enterprise", "precursors.view_licence",
                   "precursors.view_licencechemical", "precursors.view_ledgerentry", "precursors.add_ledgerentry",
                   "precursors.void_own_ledgerentry",
                   "precursors.view_stockbalance", "precursors.view_stockcount", "precursors.add_stockcount",
                   "precursors.view_destruction", "precursors.add_destruction")

DEFAULT_ROLES: tuple[RoleSpec, ...] = (
    RoleSpec(
        "ncc_admin", _("市禁毒办管理员"), _("全市禁毒工作的管理与统筹，可管理单位、用户与授权。"),
        ("geo.*", "org.*", "accounts.*", "core.*", "substances.*", "persons.*", "enforcement.*",
         "inspections.*", "workforce.*", "precursors.*"),
        requires_otp=True,
    ),
    RoleSpec(
        "district_office", _("区禁毒办"), _("本区禁毒工作的管理，可维护辖区单位与挂点。"),
        READ_REFERENCE + ("org.add_unit", "org.change_unit", "org.add_pairing", "org.change_pairing",
                          "org.delete_pairing", "accounts.view_user", "accounts.view_roleassignment",
                          "accounts.add_user", "accounts.change_user",
                          # grids under villages; geo services refuse changes to statistical divisions
                          "geo.add_division", "geo.change_division")
        + PERSONS_WORK + ("persons.approve_temporary_access", "enforcement.view_*", "inspections.*", "workforce.*",
                          "precursors.*"),
    ),
    RoleSpec(
        "town_office", _("镇街禁毒办"), _("本镇街禁毒工作的日常管理。"),
        READ_REFERENCE + ("org.change_unit", "accounts.view_user", "geo.add_division", "geo.change_division")
        + PERSONS_WORK + ("inspections.*", "workforce.*", "precursors.view_*"),
    ),
    RoleSpec(
        "social_worker", _("禁毒社工"), _("负责分配给本人的吸毒人员的日常管控与帮扶。"),
        READ_REFERENCE + PERSONS_WORK + ("workforce.view_*",), assigned_only=True,
    ),
    RoleSpec("police", _("公安禁毒"), _("公安机关禁毒部门。"),
             READ_REFERENCE + ("accounts.view_identity_number", "enforcement.*", "inspections.*", "precursors.*")
             + PERSONS_WORK),
    RoleSpec("regulator", _("监管部门"), _("易制毒化学品等行业监管部门（应急管理、药品监管、市场监管）。"),
             READ_REFERENCE + ("inspections.*", "precursors.*")),
    RoleSpec("enterprise", _("企业用户"), _("易制毒化学品企业自行填报本企业台账与盘点，只能看到本企业的记录。"),
             READ_REFERENCE + ENTERPRISE_SELF, assigned_only=True),
    RoleSpec("assessor", _("考核人员"), _("年度禁毒工作考核。"), READ_REFERENCE + ALL_DOMAIN_VIEW),
    RoleSpec("leader", _("领导（只读）"), _("查看辖区内全部数据，不可修改。"),
             READ_REFERENCE + ("accounts.view_user",) + ALL_DOMAIN_VIEW),
)


def expand_permissions(patterns: tuple[str, ...]):
    """Permission rows matching ``patterns`` (see :class:`RoleSpec`)."""
    from django.contrib.auth.models import Permission
    from django.db.models import Q

    q = Q(pk__in=[])
    for pattern in patterns:
        app_label, codename = pattern.split(".", 1)
        if codename == "*":
            q |= Q(content_type__app_label=app_label)
        elif codename.endswith("*"):
            q |= Q(content_type__app_label=app_label, codename__startswith=codename[:-1])
        else:
            q |= Q(content_type__app_label=app_label, codename=codename)
    # Row-history tables are written by django-simple-history, never by users: no role needs
    # their add/change/delete permissions, and listing them only confuses grant decisions.
    return Permission.objects.filter(q).exclude(content_type__model__startswith="historical")


def ensure_default_roles() -> None:
    """Create missing default roles and give them permissions of models added since (idempotent)."""
    from jindu.accounts.models import Role

    for spec in DEFAULT_ROLES:
        role, _created = Role.objects.get_or_create(
            code=spec.code,
            defaults={"name": str(spec.name), "description": str(spec.description),
                      "assigned_only": spec.assigned_only, "requires_otp": spec.requires_otp},
        )
        seeded = set(role.seeded_permissions)
        fresh = [p for p in expand_permissions(spec.permissions).select_related("content_type")
                 if f"{p.content_type.app_label}.{p.codename}" not in seeded]
        if fresh:
            role.permissions.add(*fresh)
            role.seeded_permissions = sorted(seeded | {f"{p.content_type.app_label}.{p.codename}" for p in fresh})
            role.save(update_fields=["seeded_permissions"])
