"""General template tags: ``{% load jindu %}``."""

from __future__ import annotations

from django import template

register = template.Library()


@register.simple_tag
def user_roles(user) -> list[dict]:
    """The user's grants for the user menu: ``[{"role": "镇街禁毒办", "division": "演丰镇"}]``."""
    if not getattr(user, "is_authenticated", False):
        return []
    assignments = user.role_assignments.select_related("role", "division").order_by("role_id", "division__code")
    return [{"role": str(a.role), "division": a.division.name} for a in assignments]


@register.simple_tag(takes_context=True)
def nav_active(context, item) -> bool:
    """Whether the navigation ``item`` is the module of the current page."""
    request = context.get("request")
    url = item.url
    if request is None or not url:
        return False
    if url == "/":
        return request.path == "/"
    return request.path.startswith(url)


@register.filter
def division_kind(division) -> str:
    """The kind a person reads: 街道/镇/乡/类似乡级单位 for towns, else the level (区县, 村居…)."""
    if getattr(division, "town_kind", ""):
        return division.get_town_kind_display()
    return division.get_level_display()
