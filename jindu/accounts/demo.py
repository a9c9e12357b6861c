"""Demo logins: one user per role with a realistic scope in the demo city.

Passwords are set only when the instance runs in demo mode (``JINDU_DEMO=1``); otherwise
the users are created without a usable password.
"""

from __future__ import annotations

from django.conf import settings
from django.db.models import Q

from jindu.accounts.models import Role, RoleAssignment, User
from jindu.geo.models import Division
from jindu.org.models import Unit

DEMO_PASSWORD = "Jindu-demo-2026"

# username, full name, role, division (name under the demo city, or None for the city), unit name
DEMO_USERS = (
    ("city_admin", "市禁毒办管理员", "ncc_admin", None, "禁毒委员会办公室"),
    ("xiuying_office", "秀英区禁毒办", "district_office", "秀英区", "秀英区禁毒委员会办公室"),
    ("qiongshan_office", "琼山区禁毒办", "district_office", "琼山区", "琼山区禁毒委员会办公室"),
    ("fucheng_town", "府城街道禁毒办", "town_office", "府城街道", "府城街道禁毒办"),
    ("fucheng_worker", "府城街道禁毒社工", "social_worker", "府城街道", "府城街道禁毒办"),
    ("police", "市公安局禁毒支队", "police", None, "公安局禁毒支队"),
    ("regulator", "市市场监督管理局", "regulator", None, "市场监督管理局"),
    ("enterprise", "易制毒化学品企业用户", "enterprise", None, ""),
    ("assessor", "市禁毒工作考核组", "assessor", None, "禁毒委员会办公室"),
    ("leader", "市禁毒委领导", "leader", None, "禁毒委员会办公室"),
)


def demo_logins() -> list[dict]:
    """Demo logins that work, for the login page and ``make run``'s banner:
    ``[{"username", "full_name", "roles": ["镇街禁毒办（府城街道）", …]}]`` in the demo list's order.

    Only active demo users still holding a role (an administrator may have deactivated one
    or revoked its grant).
    """
    order = {u: i for i, (u, *_rest) in enumerate(DEMO_USERS)}
    users = (
        # The listed demo logins only: modules' demo worlds create many more demo accounts
        # (a brigade's social workers), which would bury the login page.
        User.objects.filter(is_demo=True, is_active=True, role_assignments__isnull=False, username__in=order)
        .distinct()
        .prefetch_related("role_assignments__role", "role_assignments__division")
    )
    return [
        {
            "username": u.username,
            "full_name": str(u),
            "roles": [f"{a.role}（{a.division.name}）" for a in u.role_assignments.all()],
        }
        for u in sorted(users, key=lambda u: (order.get(u.username, len(order)), u.username))
    ]


def seed(stdout) -> None:
    """Create each demo user once, with its grant. An existing demo user is left as it is
    (grants an administrator revoked stay revoked); only a missing demo password is set
    when the instance has switched to demo mode."""
    city = Division.objects.get(code=settings.JINDU_DEMO_CITY.ljust(12, "0"))
    in_city = Division.objects.filter(path__startswith=city.path)
    for username, full_name, role_code, division_name, unit_suffix in DEMO_USERS:
        user = User.objects.filter(username=username).first()
        if user is None:
            division = city if division_name is None else in_city.get(name=division_name)
            unit = (
                Unit.objects.filter(Q(name=unit_suffix) | Q(name=f"{city.name}{unit_suffix}"), is_demo=True)
                .order_by("id").first()
            )
            user = User(username=username, full_name=full_name, unit=unit, is_demo=True)
            user.set_unusable_password()
            user.save()
            RoleAssignment.objects.create(
                user=user, role=Role.objects.get(code=role_code), division=division, note="演示账号"
            )
        if settings.JINDU_DEMO and user.is_demo and not user.has_usable_password():
            user.set_password(DEMO_PASSWORD)
            user.save(update_fields=["password"])
    if settings.JINDU_DEMO:
        stdout.write(f"demo logins ready (password {DEMO_PASSWORD})")
    else:
        stdout.write("demo users have no password (set JINDU_DEMO=1 for demo logins)")
