"""Divisions browser: the tree (lazily expanded with htmx), search, and a division's page;
grids under villages; population figures (list, add, correct, export).

Everything is read through ``Division.objects.restrict(user, "view")``; a division outside
the user's subtree answers 404 (detail and children alike).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Iterable

from django.apps import apps
from django.contrib import messages
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Q
from django.db.models.functions import Substr
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views import View
from django.views.generic import CreateView, DetailView, TemplateView, UpdateView
from django_filters.views import FilterView
from django_tables2 import SingleTableMixin

from jindu.core.scope import ADD, CHANGE, VIEW, has_model_permission
from jindu.core.models import AuditEvent
from jindu.core.views.actions import error_text
from jindu.core.views.imports import ExportView
from jindu.core.views.mixins import (
    OUT_OF_SCOPE_MESSAGE,
    ScopedObjectMixin,
    ScopedPermissionMixin,
    ScopedQuerysetMixin,
)
from jindu.geo import services
from jindu.geo.choices import Level
from jindu.geo.exporters import PopulationExporter
from jindu.geo.filtersets import PopulationFilterSet, population_filterset
from jindu.geo.forms import GridDeactivateForm, GridForm, GridRenameForm, PopulationForm, divisions_for_population
from jindu.geo.models import Division, Population
from jindu.geo.tables import ChildDivisionTable, PopulationTable

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
        children = with_counts(visible.filter(parent=d).exclude(level=Level.GRID).order_by("code"), visible)
        ctx["children_table"] = ChildDivisionTable(children) if children else None
        if d.level == Level.VILLAGE:
            ctx.update(grid_context(self.request, d, visible))
        if has_model_permission(user, Unit, VIEW):
            ctx["units"] = Unit.objects.restrict(user, VIEW).filter(division=d).order_by("kind", "name")
        if d.level == Level.TOWN and has_model_permission(user, Pairing, VIEW):
            ctx["pairings"] = (
                Pairing.objects.restrict(user, VIEW).filter(town=d).select_related("unit").order_by("-year", "unit__name")
            )
        return ctx


# -- grids ------------------------------------------------------------------------------


def grid_context(request, village: Division, visible=None, **forms) -> dict:
    """Context of the grid section of a village page (``geo/_grids.html``)."""
    user = request.user
    visible = Division.objects.restrict(user, VIEW) if visible is None else visible
    can_add = Division.objects.restrict(user, ADD).filter(pk=village.pk).exists()
    can_change = Division.objects.restrict(user, CHANGE).filter(pk=village.pk).exists()
    grids = list(visible.filter(parent=village, level=Level.GRID).order_by("code"))
    return {
        "village": village,
        "grids": grids,
        "active_grid_count": sum(1 for g in grids if g.is_active),
        "can_add_grid": can_add and village.is_active,
        "can_change_grid": can_change,
        "can_import_grids": can_add,
        "grid_form": forms.get("grid_form") or GridForm(user=user, initial={"parent": village.pk}),
        "grid_error_for": forms.get("grid_error_for"),
        "grid_errors": forms.get("grid_errors") or [],
    }


class _GridWriteView(ScopedPermissionMixin, View):
    """POST-only grid actions. htmx requests get the grid section back (with errors, if
    any); plain form posts are redirected to the village page, or shown it again with
    the errors when the input was refused (nothing written)."""

    model = Division
    http_method_names = ["post"]

    def village_response(self, village: Division, *, ok_message: str | None = None, **forms):
        request = self.request
        failed = bool(forms.get("grid_errors")) or (forms.get("grid_form") is not None and forms["grid_form"].errors)
        if request.headers.get("HX-Request"):
            if ok_message and not failed:
                messages.success(request, ok_message)
            return TemplateResponse(request, "geo/_grids.html", grid_context(request, village, **forms))
        if not failed:
            if ok_message:
                messages.success(request, ok_message)
            return HttpResponseRedirect(reverse("geo:division_detail", args=[village.pk]) + "#grids")
        view = DivisionDetailView()
        view.setup(request, pk=village.pk)
        view.object = village
        ctx = view.get_context_data(object=village)
        ctx.update(grid_context(request, village, **forms))
        return TemplateResponse(request, DivisionDetailView.template_name, ctx, status=400)


def _messages(exc: ValidationError) -> list[str]:
    return list(exc.messages)


class GridCreateView(_GridWriteView):
    """Add a grid under the village ``pk`` (404 outside where the user may add divisions)."""

    action = ADD

    def post(self, request, pk):
        village = get_object_or_404(Division.objects.restrict(request.user, ADD), pk=pk, level=Level.VILLAGE)
        data = request.POST.copy()
        data["parent"] = str(village.pk)
        form = GridForm(data=data, user=request.user)
        if not form.is_valid():
            return self.village_response(village, grid_form=form)
        try:
            grid = services.create_grid(user=request.user, village=village, name=form.cleaned_data["name"],
                                        code=form.cleaned_data.get("code") or None)
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
            return self.village_response(village, grid_form=form)
        except PermissionDenied:
            form.add_error(None, _("该村居不在您可以新建网格的范围内，未保存。"))
            return self.village_response(village, grid_form=form)
        return self.village_response(
            village, ok_message=_("已新建网格“%(name)s”（%(code)s）。") % {"name": grid.name, "code": grid.code}
        )


class _GridChangeView(_GridWriteView):
    action = CHANGE

    def get_grid(self, pk) -> Division:
        return get_object_or_404(
            Division.objects.restrict(self.request.user, CHANGE).select_related("parent"), pk=pk, level=Level.GRID
        )


class GridRenameView(_GridChangeView):
    def post(self, request, pk):
        grid = self.get_grid(pk)
        form = GridRenameForm(request.POST)
        if not form.is_valid():
            errors = [f"{form.fields[f].label}：{m}" if f in form.fields else m
                      for f, ms in form.errors.items() for m in ms]
            return self.village_response(grid.parent, grid_errors=errors, grid_error_for=grid.pk)
        try:
            grid, changed = services.rename_grid(user=request.user, grid=grid, name=form.cleaned_data["name"],
                                                 reason=form.cleaned_data["reason"],
                                                 expected_name=form.cleaned_data["current_name"] or None)
        except ValidationError as exc:
            return self.village_response(grid.parent, grid_errors=_messages(exc), grid_error_for=grid.pk)
        except PermissionDenied:
            raise
        message = _("网格已改名为“%(name)s”。") % {"name": grid.name} if changed else _("名称未变，未做修改。")
        return self.village_response(grid.parent, ok_message=message)


class GridActiveView(_GridChangeView):
    active = False

    def post(self, request, pk):
        grid = self.get_grid(pk)
        form = GridDeactivateForm(request.POST)
        reason = form.cleaned_data["reason"] if form.is_valid() else ""
        grid, changed = services.set_grid_active(user=request.user, grid=grid, active=self.active, reason=reason)
        if self.active:
            message = _("网格“%(name)s”已启用。") if changed else _("网格“%(name)s”本已启用。")
        else:
            message = _("网格“%(name)s”已停用。") if changed else _("网格“%(name)s”本已停用。")
        return self.village_response(grid.parent, ok_message=message % {"name": grid.name})


# -- population figures (人口数据) ---------------------------------------------------------


class PopulationListView(ScopedQuerysetMixin, SingleTableMixin, FilterView):
    """Population figures of the user's scope (divisions under their jurisdiction), filtered
    by year, kind, level, district or name, 25 a page; 403 without ``geo.view_population``.
    Figures are public statistics, not personal data: no access log."""

    model = Population
    table_class = PopulationTable
    filterset_class = PopulationFilterSet
    template_name = "geo/population_list.html"
    paginate_by = 25

    def get_base_queryset(self):
        return Population.objects.select_related("division")

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        user = self.request.user
        table = ctx["table"]
        page_ids = [row.record.pk for row in table.page.object_list] if getattr(table, "page", None) else []
        ctx["changeable_ids"] = set(
            Population.objects.restrict(user, CHANGE).filter(pk__in=page_ids).values_list("pk", flat=True)
        ) if page_ids and has_model_permission(user, Population, CHANGE) else set()
        ctx["can_add"] = has_model_permission(user, Population, ADD)
        ctx["has_any"] = self.get_queryset().exists()
        return ctx


class _PopulationEditMixin:
    model = Population
    form_class = PopulationForm
    template_name = "geo/population_form.html"
    context_object_name = "figure"

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "user": self.request.user}

    def form_valid(self, form):
        try:
            self.object = self.save(form)
        except ValidationError as exc:
            form.add_error(None, error_text(exc))
            return self.form_invalid(form)
        except PermissionDenied:
            form.add_error(None, OUT_OF_SCOPE_MESSAGE)
            return self.form_invalid(form)
        messages.success(self.request, self.success_text())
        return HttpResponseRedirect(self.get_success_url())

    def get_success_url(self):
        return reverse("geo:population_list") + f"?year={self.object.year}&q={self.object.division.code}"


class PopulationCreateView(_PopulationEditMixin, ScopedPermissionMixin, CreateView):
    """Add a figure; 403 without ``geo.add_population``; only divisions where the user may
    add figures are offered (another is refused as an invalid choice)."""

    action = ADD

    def get_initial(self):
        initial = super().get_initial()
        code = self.request.GET.get("division", "")
        if code:
            division = divisions_for_population(self.request.user, ADD).filter(code=code.ljust(12, "0")).first()
            if division is not None:
                initial["division"] = division.pk
        return initial

    def save(self, form):
        data = {f: form.cleaned_data[f] for f in services.POPULATION_FIELDS if f in form.cleaned_data}
        return services.create_population(user=self.request.user, data=data)

    def success_text(self):
        p = self.object
        return _("已录入%(division)s %(year)s 年%(kind)s：%(population)s 人。") % {
            "division": p.division.name, "year": p.year, "kind": p.get_kind_display(), "population": p.population}


class PopulationUpdateView(_PopulationEditMixin, ScopedObjectMixin, UpdateView):
    """Correct a figure; 404 outside where the user may change figures. The page lists the
    figure's row history (who changed what, when) and its audit events."""

    action = CHANGE

    def get_base_queryset(self):
        return Population.objects.select_related("division")

    def save(self, form):
        data = {f: form.cleaned_data[f] for f in services.POPULATION_FIELDS if f in form.cleaned_data}
        # The ModelForm has written the input onto self.object while validating: the
        # service compares against the stored row, locked.
        figure, changed = services.update_population(
            user=self.request.user, figure=self.object, data=data, expected=form.cleaned_data.get("loaded") or None)
        self.changed = changed
        return figure

    def success_text(self):
        return _("已保存人口数据的修改。") if self.changed else _("内容未变，未做修改。")

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx["history"] = list(
            Population.history.filter(id=self.object.pk).select_related("history_user").order_by("-history_date")[:20]
        )
        ctx["events"] = list(
            AuditEvent.objects.filter(target_type=ContentType.objects.get_for_model(Population),
                                      target_id=str(self.object.pk)).order_by("-occurred_at")[:20]
        )
        return ctx


class PopulationExportView(ExportView):
    """The generic export with the list's filters; unreadable filter values send the user
    back to the list (which names them) instead of exporting anything."""

    exporter = PopulationExporter

    def get(self, request, *args, **kwargs):
        if request.user.is_authenticated:
            params = request.GET.copy()
            params.pop("format", None)
            params.pop("page", None)
            if has_model_permission(request.user, Population, VIEW) and not population_filterset(
                    request.user, params).is_valid():
                messages.error(request, _("筛选条件有误，未导出。"))
                return redirect(f"{reverse('geo:population_list')}?{params.urlencode()}")
        return super().get(request, *args, **kwargs)
