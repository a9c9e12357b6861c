"""Unit pages: list (filters, sort, pages), detail, create/edit (versioned), pairing view.

Reads go through ``.restrict(user, action)``; writes through :mod:`jindu.org.services`.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db.models import Case, IntegerField, Prefetch, Value, When
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from django.views import View
from django.views.generic import CreateView, DetailView, TemplateView, UpdateView
from django_filters.views import FilterView
from django_tables2 import SingleTableMixin

from jindu.core.scope import ADD, CHANGE, DELETE, VIEW, has_model_permission
from jindu.core.timeutils import local_today
from jindu.core.views.actions import RecordActionView, error_text, form_error_text, run_service
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
from jindu.org.choices import CommissionRole
from jindu.org.forms import CopyYearForm, DeleteReasonForm, MembershipAddForm, PairingCreateForm, UnitForm
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
    without any pairing flagged.

    The year shown is ``?year=`` or else the current local year (Asia/Shanghai), even
    when it has no pairings yet: that is the year being planned, and its empty state
    offers to copy the last year that has pairings. A ``?year=`` that is not a year in
    :data:`services.YEAR_MIN`–:data:`services.YEAR_MAX` shows an error and no rows.
    """

    model = Pairing
    template_name = "org/pairing_list.html"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        user = self.request.user
        pairings = Pairing.objects.restrict(user, VIEW)
        this_year = local_today().year
        data_years = set(pairings.values_list("year", flat=True))
        year, year_error = _page_year(self.request, this_year)
        years = sorted({*data_years, this_year, *([year] if year else [])}, reverse=True)
        if year_error:
            ctx.update(year=None, years=years, year_error=year_error, rows=[], unpaired=[], pairing_count=0,
                       can_add=False, deletable=set(), create_form=None, copy_form=None)
            return ctx
        by_town: dict[int, list[Unit]] = {}
        for p in pairings.filter(year=year).select_related("unit").order_by("unit__name"):
            by_town.setdefault(p.town_id, []).append(p)
        towns = Division.objects.restrict(user, VIEW).filter(level=Level.TOWN).select_related("parent").order_by("code")
        rows = [{"town": t, "pairings": by_town.get(t.pk, [])} for t in towns]
        can_add = has_model_permission(user, Pairing, ADD)
        deletable = (
            set(Pairing.objects.restrict(user, DELETE).filter(year=year).values_list("pk", flat=True))
            if has_model_permission(user, Pairing, DELETE) else set()
        )
        previous = max((y for y in data_years if y < year), default=None)
        pairing_count = sum(len(r["pairings"]) for r in rows)
        ctx.update(
            year=year,
            years=years,
            rows=rows,
            unpaired=[r["town"] for r in rows if not r["pairings"]],
            pairing_count=pairing_count,
            previous_year=previous,
            can_add=can_add,
            deletable=deletable,
            create_form=PairingCreateForm(user=user, initial={"year": year}) if can_add else None,
            copy_form=(CopyYearForm(initial={"from_year": previous, "to_year": year})
                       if can_add and not pairing_count else None),
        )
        return ctx


# -- shared helpers for the year pages ------------------------------------------------------


def _page_year(request, default: int) -> tuple[int | None, str]:
    """The year a year page shows: ``(year, "")`` for a valid or absent ``?year=``
    (absent → ``default``), ``(None, "<Chinese reason>")`` for any other value — shown on
    the page instead of quietly showing another year."""
    raw = request.GET.get("year", "").strip()
    if not raw:
        return default, ""
    try:
        return services.check_year(raw), ""
    except ValidationError as exc:
        return None, error_text(exc)


def _year_param(request, default: int) -> int:
    try:
        year = int(request.GET.get("year") or request.POST.get("year") or default)
    except (TypeError, ValueError):
        return default
    return year if services.YEAR_MIN <= year <= services.YEAR_MAX else default


def _year_page(page_url: str, year: int) -> str:
    """The address of the year page ``page_url`` (a URL name) showing ``year``."""
    return f"{reverse(page_url)}?year={year}"


class _YearActionView(ScopedPermissionMixin, View):
    """POST-only actions of a year page: run one service call, say what happened (or the
    Chinese reason nothing happened) and go back to the page of that year."""

    http_method_names = ["post"]
    page_url = ""

    def back(self, year: int):
        return HttpResponseRedirect(_year_page(self.page_url, year))

    def refuse(self, form, year: int, message: str = gettext_noop("未保存：%(reason)s")):
        """Say why the form was refused (nothing written) and go back to the year's page.
        ``message`` is a msgid with ``%(reason)s``."""
        messages.error(self.request, _(message) % {"reason": form_error_text(form)})
        return self.back(year)

    def run(self, year: int, call, ok_message):
        """:func:`~jindu.core.views.actions.run_service`, then back to ``year``'s page."""
        run_service(self.request, call, ok_message)
        return self.back(year)


# -- commission membership (禁毒委成员单位) ---------------------------------------------------

ROLE_ORDER = Case(
    *[When(role=value, then=Value(i)) for i, value in enumerate(CommissionRole.values)],
    output_field=IntegerField(),
)


class CommissionMembershipView(ScopedPermissionMixin, TemplateView):
    """One year's commission member list: units with their role, counts per role; add,
    change roles, remove (one list save) and copy from another year for those allowed."""

    model = CommissionMembership
    template_name = "org/membership_list.html"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        user = self.request.user
        visible = CommissionMembership.objects.restrict(user, VIEW)
        years = sorted(set(visible.values_list("year", flat=True)), reverse=True)
        this_year = local_today().year
        year, year_error = _page_year(self.request, years[0] if years else this_year)
        years = sorted({*years, this_year, *([year] if year else [])}, reverse=True)
        if year_error:
            ctx.update(year=None, years=years, year_error=year_error, rows=[], total=0, role_counts=[],
                       can_add=False, can_change=False, can_delete=False, can_edit_list=False,
                       add_form=None, copy_form=None, previous_year=None)
            return ctx
        rows = list(
            visible.filter(year=year).select_related("unit", "unit__division")
            .annotate(role_order=ROLE_ORDER).order_by("role_order", "unit__name")
        )
        counts = {value: 0 for value in CommissionRole.values}
        for m in rows:
            counts[m.role] += 1
        can_add = has_model_permission(user, CommissionMembership, ADD)
        can_change = has_model_permission(user, CommissionMembership, CHANGE)
        can_delete = has_model_permission(user, CommissionMembership, DELETE)
        previous = max((y for y in years if y < year and visible.filter(year=y).exists()), default=None)
        ctx.update(
            year=year, years=years, rows=rows, total=len(rows),
            role_counts=[(label, counts[value]) for value, label in CommissionRole.choices],
            role_choices=CommissionRole.choices,
            can_add=can_add, can_change=can_change, can_delete=can_delete,
            can_edit_list=can_change or can_delete,
            add_form=MembershipAddForm(user=user, year=year, initial={"year": year}) if can_add else None,
            copy_form=CopyYearForm(initial={"from_year": previous, "to_year": year}) if can_add and not rows else None,
            previous_year=previous,
        )
        return ctx


class MembershipAddView(_YearActionView):
    model = CommissionMembership
    action = ADD
    page_url = "org:membership_list"

    def post(self, request):
        year = _year_param(request, local_today().year)
        form = MembershipAddForm(request.POST, user=request.user)
        if not form.is_valid():
            return self.refuse(form, year)
        data = form.cleaned_data
        return self.run(
            data["year"],
            lambda: services.add_membership(user=request.user, unit=data["unit"], year=data["year"], role=data["role"]),
            lambda m: _("已将%(unit)s加入 %(year)d 年成员单位（%(role)s）。")
            % {"unit": m.unit.name, "year": m.year, "role": m.get_role_display()},
        )


class MembershipListSaveView(_YearActionView):
    """Save the year's list as shown: each row's role (``role_<unit id>``) and the rows
    ticked for removal (``remove``), through one :func:`services.set_memberships` call."""

    model = CommissionMembership
    action = CHANGE
    page_url = "org:membership_list"

    def post(self, request):
        year = _year_param(request, local_today().year)
        user = request.user
        current = list(CommissionMembership.objects.restrict(user, VIEW).filter(year=year).select_related("unit"))
        removed = set(request.POST.getlist("remove"))
        wanted = []
        for m in current:
            if str(m.unit_id) in removed:
                continue
            role = request.POST.get(f"role_{m.unit_id}", m.role)
            wanted.append((m.unit, role))
        reason = request.POST.get("reason", "").strip()
        try:
            expected = {int(k[len("version_"):]): int(v) for k, v in request.POST.items() if k.startswith("version_")}
        except ValueError:
            messages.error(request, _("未保存：提交的数据有误，请刷新页面后重试。"))
            return self.back(year)

        def ok(diff):
            if not any(diff.values()):
                return _("名单未变，未做修改。")
            return _("已保存 %(year)d 年名单：新增 %(a)d 个，移除 %(r)d 个，职责调整 %(c)d 个。") % {
                "year": year, "a": len(diff["added"]), "r": len(diff["removed"]), "c": len(diff["role_changed"])}

        return self.run(year, lambda: services.set_memberships(user=user, year=year, units_with_roles=wanted,
                                                                 reason=reason, expected_versions=expected), ok)


class _CopyYearView(_YearActionView):
    """Copy a year's list to another year through ``copy_service(user=, from_year=, to_year=)``."""

    action = ADD
    copy_service = None
    done_message = ""  # msgid with %(src)d, %(n)d, %(dst)d

    def post(self, request):
        form = CopyYearForm(request.POST)
        year = _year_param(request, local_today().year)
        if not form.is_valid():
            return self.refuse(form, year, gettext_noop("未复制：%(reason)s"))
        data = form.cleaned_data
        return self.run(
            data["to_year"],
            lambda: self.copy_service(user=request.user, from_year=data["from_year"], to_year=data["to_year"]),
            lambda rows: _(self.done_message) % {"src": data["from_year"], "n": len(rows), "dst": data["to_year"]},
        )


class MembershipCopyView(_CopyYearView):
    model = CommissionMembership
    page_url = "org:membership_list"
    copy_service = staticmethod(services.copy_memberships)
    done_message = gettext_noop("已从 %(src)d 年复制成员单位 %(n)d 个到 %(dst)d 年。")


class PairingCreateView(_YearActionView):
    model = Pairing
    action = ADD
    page_url = "org:pairing_list"

    def post(self, request):
        year = _year_param(request, local_today().year)
        form = PairingCreateForm(request.POST, user=request.user)
        if not form.is_valid():
            return self.refuse(form, year)
        data = form.cleaned_data
        return self.run(
            data["year"],
            lambda: services.create_pairing(user=request.user, unit=data["unit"], town=data["town"],
                                            year=data["year"], note=data["note"]),
            lambda p: _("已新增挂点：%(unit)s → %(town)s（%(year)d 年）。")
            % {"unit": p.unit.name, "town": p.town.name, "year": p.year},
        )


class PairingDeleteView(RecordActionView):
    """Delete one pairing (``pk``, in the user's delete scope) with a reason; back to the
    pairing page of its year."""

    model = Pairing
    action = DELETE
    form_class = DeleteReasonForm
    refused_message = gettext_noop("未删除：%(reason)s")

    def get_base_queryset(self):
        return Pairing.objects.select_related("unit", "town")

    def act(self, pairing, data):
        summary = _("已删除挂点：%(unit)s → %(town)s（%(year)d 年）。") % {
            "unit": pairing.unit.name, "town": pairing.town.name, "year": pairing.year}
        return run_service(
            self.request,
            lambda: services.delete_pairing(user=self.request.user, pairing=pairing, reason=data["reason"]),
            summary,
        )

    def back_url(self, pairing, result=None):
        return _year_page("org:pairing_list", pairing.year)


class PairingCopyView(_CopyYearView):
    model = Pairing
    page_url = "org:pairing_list"
    copy_service = staticmethod(services.copy_pairings)
    done_message = gettext_noop("已从 %(src)d 年复制挂点 %(n)d 条到 %(dst)d 年。")
