"""Divisions browser: the tree (lazily expanded with htmx), search, and a division's page.

Everything is read through ``Division.objects.restrict(user, "view")``; a division outside
the user's subtree answers 404 (detail and children alike).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Iterable

from django.apps import apps
from django.db.models import Count, Q
from django.db.models.functions import Substr
from django.views.generic import DetailView, TemplateView

from jindu.core.scope import VIEW, has_model_permission
from jindu.core.views.mixins import ScopedObjectMixin, ScopedQuerysetMixin
from jindu.geo.choices import Level
from jindu.geo.models import Division
from jindu.geo.tables import ChildDivisionTable

SEARCH_LIMIT = 100


def with_counts(nodes: Iterable[Division], visible) -> list[Division]:
    """Set ``child_count`` and ``village_count`` on each node, counted inside ``visible``.

    Villages are bucketed by the prefix of their path as long as the node's path (one
    query per distinct path length, so siblings of one level cost one query).
    """
    nodes = list(nodes)
    if not nodes:
        return nodes
    child_counts = dict(
        visible.filter(parent__in=nodes).values("parent_id").annotate(n=Count("pk")).values_list("parent_id", "n")
    )
    by_len: dict[int, list[Division]] = defaultdict(list)
    for n in nodes:
        by_len[len(n.path)].append(n)
    village_counts: dict[str, int] = {}
    for length, group in by_len.items():
        cond = Q()
        for n in group:
            cond |= Q(path__startswith=n.path)
        rows = (
            visible.filter(cond, level=Level.VILLAGE)
            .annotate(prefix=Substr("path", 1, length))
            .values("prefix")
            .annotate(n=Count("pk"))
            .values_list("prefix", "n")
        )
        village_counts.update(rows)
    for n in nodes:
        n.child_count = child_counts.get(n.pk, 0)
        n.village_count = village_counts.get(n.path, 0)
    return nodes


def tree_roots(visible) -> list[Division]:
    """Top divisions of the user's scope: those whose parent is not visible to them."""
    return list(visible.filter(Q(parent__isnull=True) | ~Q(parent__in=visible.values("pk"))).order_by("code"))


def breadcrumb(division: Division, visible) -> list[tuple[Division, bool]]:
    """Ancestors and the division itself, root first, each with whether the user may open it.

    Names of ancestors above the user's subtree are shown (public statistical names) but
    not linked.
    """
    parts = division.path.rstrip("/").split("/")
    prefixes = ["/".join(parts[: i + 1]) + "/" for i in range(len(parts))]
    chain = list(Division.objects.filter(path__in=prefixes).order_by("depth"))
    visible_ids = set(visible.filter(pk__in=[d.pk for d in chain]).values_list("pk", flat=True))
    return [(d, d.pk in visible_ids) for d in chain]


class DivisionTreeView(ScopedQuerysetMixin, TemplateView):
    """The user's subtree as an expandable tree, or search hits for ``?q=`` (name or code)."""

    model = Division
    template_name = "geo/division_tree.html"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        visible = self.get_queryset()
        q = self.request.GET.get("q", "").strip()
        ctx["q"] = q
        if q:
            hits = list(
                visible.filter(Q(name__icontains=q) | Q(code__startswith=q)).order_by("depth", "code")[: SEARCH_LIMIT + 1]
            )
            ctx["truncated"] = len(hits) > SEARCH_LIMIT
            hits = with_counts(hits[:SEARCH_LIMIT], visible)
            ctx["hits"] = [{"division": d, "crumbs": breadcrumb(d, visible)[:-1]} for d in hits]
            return ctx
        roots = with_counts(tree_roots(visible), visible)
        # Open single-child chains (province › city) so the districts show at once.
        level = roots
        while len(level) == 1 and level[0].child_count:
            node = level[0]
            node.children_list = with_counts(visible.filter(parent=node).order_by("code"), visible)
            level = node.children_list
        ctx["roots"] = roots
        return ctx


class DivisionChildrenView(ScopedObjectMixin, DetailView):
    """htmx fragment: the child rows of one division (404 outside the scope)."""

    model = Division
    template_name = "geo/_tree_children.html"
    context_object_name = "division"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        visible = self.get_queryset()
        ctx["nodes"] = with_counts(visible.filter(parent=self.object).order_by("code"), visible)
        return ctx


class DivisionDetailView(ScopedObjectMixin, DetailView):
    """A division: its path, children with counts, units located there, pairings of a town."""

    model = Division
    template_name = "geo/division_detail.html"
    context_object_name = "division"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        user = self.request.user
        # geo sits below org in DESIGN.md's layers, so org's models are reached by label.
        Unit = apps.get_model("org", "Unit")
        Pairing = apps.get_model("org", "Pairing")
        visible = self.get_queryset()
        d = self.object
        with_counts([d], visible)
        ctx["crumbs"] = breadcrumb(d, visible)
        children = with_counts(visible.filter(parent=d).order_by("code"), visible)
        ctx["children_table"] = ChildDivisionTable(children) if children else None
        if has_model_permission(user, Unit, VIEW):
            ctx["units"] = Unit.objects.restrict(user, VIEW).filter(division=d).order_by("kind", "name")
        if d.level == Level.TOWN and has_model_permission(user, Pairing, VIEW):
            ctx["pairings"] = (
                Pairing.objects.restrict(user, VIEW).filter(town=d).select_related("unit").order_by("-year", "unit__name")
            )
        return ctx
