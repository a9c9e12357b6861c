"""Unit pages: list (filters, sort, pages), detail, create/edit (versioned), pairing view.

Reads go through ``.restrict(user, action)``; writes through :mod:`jindu.org.services`.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db.models import Prefetch
from django.urls import reverse
from django.utils import timezone
from django.views.generic import CreateView, DetailView, TemplateView, UpdateView
from django_filters.views import FilterView
from django_tables2 import SingleTableMixin

from jindu.core.scope import ADD, CHANGE, VIEW, has_model_permission
from jindu.core.views.mixins import (
    AccessLogMixin,
    ScopedObjectMixin,
    ScopedPermissionMixin,
    ScopedQuerysetMixin,
    VersionedEditMixin,
)
from jindu.geo.choices import Level
from jindu.geo.models import Division
from jindu.org import services
from jindu.org.filtersets import UnitFilterSet
from jindu.org.forms import UnitForm
from jindu.org.models import CommissionMembership, Pairing, Unit
from jindu.org.tables import UnitPairingTable, UnitTable


class UnitListView(ScopedQuerysetMixin, AccessLogMixin, SingleTableMixin, FilterView):
    model = Unit
    table_class = UnitTable
    filterset_class = UnitFilterSet
    template_name = "org/unit_list.html"
    paginate_by = 25

    def get_base_queryset(self):
        return Unit.objects.select_related("division")

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        user = self.request.user
        ctx["can_add"] = has_model_permission(user, Unit, ADD)
        return ctx


class UnitDetailView(ScopedObjectMixin, AccessLogMixin, DetailView):
    model = Unit
    template_name = "org/unit_detail.html"
    context_object_name = "unit"

    def get_base_queryset(self):
        return Unit.objects.select_related("division", "parent").prefetch_related(
            Prefetch("jurisdiction", queryset=Division.objects.order_by("code"))
        )

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        user, unit = self.request.user, self.object
        ctx["memberships"] = CommissionMembership.objects.restrict(user, VIEW).filter(unit=unit).order_by("-year")
        ctx["pairing_table"] = UnitPairingTable(
            Pairing.objects.restrict(user, VIEW).filter(unit=unit).select_related("town").order_by("-year", "town__code")
        )
        User = get_user_model()
        if has_model_permission(user, User, VIEW):
            ctx["unit_users"] = User.objects.restrict(user, VIEW).filter(unit=unit).order_by("username")
        ctx["can_change"] = Unit.objects.restrict(user, CHANGE).filter(pk=unit.pk).exists()
        ctx["parent_visible"] = bool(
            unit.parent_id and Unit.objects.restrict(user, VIEW).filter(pk=unit.parent_id).exists()
        )
        return ctx


class UnitCreateView(ScopedPermissionMixin, VersionedEditMixin, CreateView):
    model = Unit
    action = ADD
    form_class = UnitForm
    template_name = "org/unit_form.html"

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "user": self.request.user, "action": ADD}

    def save(self, form):
        data = {f: form.cleaned_data[f] for f in services.UNIT_FIELDS if f in form.cleaned_data}
        return services.create_unit(user=self.request.user, data=data, jurisdiction=form.cleaned_data["jurisdiction"])

    def get_success_url(self):
        return reverse("org:unit_detail", args=[self.object.pk])


class UnitUpdateView(ScopedObjectMixin, VersionedEditMixin, UpdateView):
    """Edit a unit: 403 without ``org.change_unit``, 404 for a unit outside the scope
    where the user may change units; a stale version is refused with a form error."""

    model = Unit
    action = CHANGE
    form_class = UnitForm
    template_name = "org/unit_form.html"
    context_object_name = "unit"

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "user": self.request.user, "action": CHANGE}

    def save(self, form):
        data = {f: form.cleaned_data[f] for f in services.UNIT_FIELDS if f in form.cleaned_data}
        unit, _changed = services.update_unit(
            user=self.request.user,
            unit=self.object,
            data=data,
            jurisdiction=form.cleaned_data["jurisdiction"],
            expected_version=form.cleaned_data["version"],
        )
        return unit

    def get_success_url(self):
        return reverse("org:unit_detail", args=[self.object.pk])


class PairingView(ScopedPermissionMixin, TemplateView):
    """Pairing by year: every town of the user's scope with its paired units, towns
    without any pairing flagged."""

    model = Pairing
    template_name = "org/pairing_list.html"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        user = self.request.user
        pairings = Pairing.objects.restrict(user, VIEW)
        years = sorted(set(pairings.values_list("year", flat=True)), reverse=True)
        this_year = timezone.localdate().year
        try:
            year = int(self.request.GET.get("year", ""))
        except ValueError:
            year = years[0] if years else this_year
        if this_year not in years:
            years = sorted({*years, this_year}, reverse=True)
        if year not in years:
            years = sorted({*years, year}, reverse=True)
        by_town: dict[int, list[Unit]] = {}
        for p in pairings.filter(year=year).select_related("unit").order_by("unit__name"):
            by_town.setdefault(p.town_id, []).append(p)
        towns = Division.objects.restrict(user, VIEW).filter(level=Level.TOWN).select_related("parent").order_by("code")
        rows = [{"town": t, "pairings": by_town.get(t.pk, [])} for t in towns]
        ctx.update(
            year=year,
            years=years,
            rows=rows,
            unpaired=[r["town"] for r in rows if not r["pairings"]],
        )
        return ctx
