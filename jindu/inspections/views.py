"""Inspection pages: targets (list with four-colour status, map, detail, edit), the
phone-sized inspection recording page, inspection detail, hazards (list, detail,
rectification, deadline, closure), checklist profiles (list, detail, edit → new revision)
and the statistics overview.

Reads go through :mod:`jindu.inspections.selectors` (scoped); writes through
:mod:`jindu.inspections.services`.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Case as DbCase
from django.db.models import Max, OuterRef, Subquery, Value, When
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views import View
from django.views.generic import CreateView, DetailView, FormView, TemplateView, UpdateView
from django_filters.views import FilterView
from django_tables2 import SingleTableMixin

from jindu.core.models import AccessLog, StaleEditError
from jindu.core.scope import ADD, CHANGE, VIEW, has_model_permission
from jindu.core.timeutils import local_today, parse_period, period_containing
from jindu.core.views.actions import RecordActionView, error_text, run_service
from jindu.core.views.mixins import (
    OUT_OF_SCOPE_MESSAGE,
    STALE_MESSAGE,
    AccessLogMixin,
    ScopedObjectMixin,
    ScopedPermissionMixin,
    ScopedQuerysetMixin,
    VersionedEditMixin,
)
from jindu.inspections import selectors, services
from jindu.inspections.choices import KIND_CATEGORY, Colour, HazardStatus, TargetCategory
from jindu.inspections.filtersets import HazardFilterSet, TargetFilterSet
from jindu.inspections.forms import (
    DeadlineForm,
    InspectionForm,
    ItemFormSet,
    NoteForm,
    RectifyForm,
    TargetForm,
    TemplateForm,
)
from jindu.inspections.models import ChecklistTemplate, Hazard, Inspection, Target
from jindu.inspections.rules import rectified_late
from jindu.inspections.tables import HazardTable, TargetTable


def page_period(request):
    """``(period, error)`` for ``?period=`` (``2024``, ``2024-Q2``, ``2024-05``, …); absent →
    the current local quarter; unreadable → ``(None, "<Chinese reason>")``."""
    raw = request.GET.get("period", "").strip()
    if not raw:
        return period_containing("quarter", local_today()), ""
    try:
        return parse_period(raw), ""
    except ValueError as exc:
        return None, str(exc)


def period_choices():
    today = local_today()
    quarter = period_containing("quarter", today)
    return [
        (period_containing("month", today).label, _("本月")),
        (quarter.label, _("本季度")),
        (quarter.previous().label, _("上季度")),
        (str(today.year), _("本年")),
        (str(today.year - 1), _("上年")),
    ]


def with_last_inspection(qs):
    last = Inspection.objects.filter(target=OuterRef("pk")).order_by().values("target").annotate(
        m=Max("inspected_at")).values("m")
    return qs.annotate(last_inspected_at=Subquery(last))


class _PeriodMixin:
    def get_period(self):
        if not hasattr(self, "_period"):
            self._period, self._period_error = page_period(self.request)
        return self._period

    def period_context(self):
        self.get_period()
        return {"period": self._period, "period_error": self._period_error, "period_choices": period_choices(),
                "period_param": self.request.GET.get("period", "")}


# -- targets ---------------------------------------------------------------------------------
class TargetListView(_PeriodMixin, ScopedQuerysetMixin, SingleTableMixin, FilterView):
    """Targets with their four-colour status for a period (default: this quarter)."""

    model = Target
    table_class = TargetTable
    filterset_class = TargetFilterSet
    template_name = "inspections/target_list.html"
    paginate_by = 25

    def get_queryset(self):
        period = self.get_period()
        qs = selectors.targets_for(self.request.user)
        if period is None:
            return qs.none().annotate(**selectors.colour_annotations(period_containing("year", local_today())))
        return with_last_inspection(selectors.targets_with_colour(self.request.user, period, queryset=qs))

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx.update(self.period_context())
        ctx["can_add"] = has_model_permission(self.request.user, Target, ADD)
        filterset = ctx["filter"]
        if self._period is not None and (not filterset.is_bound or filterset.is_valid()):
            ctx["colour_counts"] = [
                (c, label, n) for (c, label), n in zip(
                    Colour.choices, selectors.colour_counts(filterset.qs).values())
            ]
        return ctx


class TargetMapView(_PeriodMixin, ScopedPermissionMixin, TemplateView):
    """The status "map": no offline base map exists, so targets are drawn as an ECharts
    scatter of longitude/latitude coloured by status, for the list's filters."""

    model = Target
    template_name = "inspections/target_map.html"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx.update(self.period_context())
        user = self.request.user
        period = self.get_period()
        base = selectors.targets_for(user)
        if period is not None:
            base = selectors.targets_with_colour(user, period, queryset=base)
        filterset = TargetFilterSet(self.request.GET or None, queryset=base, request=self.request)
        ctx["filter"] = filterset
        points, missing = [], 0
        if period is not None and (not filterset.is_bound or filterset.is_valid()):
            for t in filterset.qs.values("pk", "name", "kind", "longitude", "latitude", "colour"):
                if t["longitude"] is None or t["latitude"] is None:
                    missing += 1
                    continue
                points.append({"name": t["name"], "lon": str(t["longitude"]), "lat": str(t["latitude"]),
                               "colour": t["colour"], "url": reverse("inspections:target_detail", args=[t["pk"]])})
        ctx["map_data"] = {"points": points, "labels": {k: str(v) for k, v in Colour.choices},
                           "axis": {"x": _("经度"), "y": _("纬度")}}
        ctx["point_count"], ctx["missing_count"] = len(points), missing
        return ctx


class TargetDetailView(_PeriodMixin, ScopedObjectMixin, AccessLogMixin, DetailView):
    model = Target
    template_name = "inspections/target_detail.html"
    context_object_name = "target"
    access_log_kind = AccessLog.Kind.VIEW  # operator name and phone

    def get_base_queryset(self):
        return Target.objects.select_related("division", "division__parent")

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        user, target = self.request.user, self.object
        self.log_access([target])
        ctx.update(self.period_context())
        period = self.get_period() or period_containing("quarter", local_today())
        ctx["colour"] = selectors.targets_with_colour(user, period).filter(pk=target.pk).values_list(
            "colour", flat=True).first()
        ctx["inspections"] = selectors.inspections_of_target(user, target)
        ctx["hazards"] = selectors.hazards_for(user).filter(target=target).order_by("-found_at", "pk")
        ctx["can_change"] = Target.objects.restrict(user, CHANGE).filter(pk=target.pk).exists()
        ctx["can_inspect"] = has_model_permission(user, Inspection, ADD)
        ctx["category"] = KIND_CATEGORY.get(target.kind)
        return ctx


class TargetCreateView(ScopedPermissionMixin, VersionedEditMixin, CreateView):
    model = Target
    action = ADD
    form_class = TargetForm
    template_name = "inspections/target_form.html"

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "user": self.request.user, "action": ADD}

    def save(self, form):
        data = {f: form.cleaned_data[f] for f in services.TARGET_FIELDS if f in form.cleaned_data}
        return services.create_target(user=self.request.user, data=data)

    def get_success_url(self):
        return reverse("inspections:target_detail", args=[self.object.pk])


class TargetUpdateView(ScopedObjectMixin, VersionedEditMixin, UpdateView):
    model = Target
    action = CHANGE
    form_class = TargetForm
    template_name = "inspections/target_form.html"
    context_object_name = "target"

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "user": self.request.user, "action": CHANGE}

    def save(self, form):
        data = {f: form.cleaned_data[f] for f in services.TARGET_FIELDS if f in form.cleaned_data}
        target, _changed = services.update_target(user=self.request.user, target=self.object, data=data,
                                                  expected_version=form.cleaned_data["version"])
        return target

    def get_success_url(self):
        return reverse("inspections:target_detail", args=[self.object.pk])


# -- inspections ------------------------------------------------------------------------------
class InspectionCreateView(ScopedPermissionMixin, FormView):
    """Record a visit on a phone: one row per checklist item with large 合格/不合格/不适用
    buttons. ``?template=<code>`` switches the checklist profile (default: the category's
    default); ``?follow_up_of=<id>`` preselects a re-inspection."""

    model = Inspection
    action = ADD
    form_class = InspectionForm
    template_name = "inspections/inspection_form.html"

    def dispatch(self, request, *args, **kwargs):
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        if not has_model_permission(request.user, Inspection, ADD):
            raise PermissionDenied(_("您的角色没有此操作的权限。"))
        self.target = get_object_or_404(Target.objects.restrict(request.user, VIEW).select_related("division"),
                                        pk=kwargs["pk"])
        return super().dispatch(request, *args, **kwargs)

    def get_template_choice(self):
        category = KIND_CATEGORY.get(self.target.kind)
        self.templates = list(selectors.current_templates(self.request.user, category))
        code = self.request.POST.get("template") or self.request.GET.get("template")
        chosen = next((t for t in self.templates if t.code == code), None)
        return chosen or next(iter(self.templates), None)

    def get_form_kwargs(self):
        self.template = self.get_template_choice()
        kwargs = super().get_form_kwargs()
        return {**kwargs, "user": self.request.user, "target": self.target, "template": self.template}

    def get_form(self, form_class=None):
        if self.get_template_choice() is None:
            return None
        return super().get_form(form_class)

    def get_initial(self):
        initial = {"inspected_at": services.local_inspection_time()}
        follow = self.request.GET.get("follow_up_of")
        if follow and follow.isdigit():
            initial["follow_up_of"] = int(follow)
        return initial

    def post(self, request, *args, **kwargs):
        form = self.get_form()
        if form is None:
            return self.get(request, *args, **kwargs)
        if form.is_valid():
            return self.form_valid(form)
        return self.form_invalid(form)

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx.update(target=self.target, templates=self.templates, template_obj=self.template)
        return ctx

    def form_valid(self, form):
        data = form.cleaned_data
        try:
            inspection = services.record_inspection(
                user=self.request.user, target=self.target, template=self.template,
                inspected_at=data["inspected_at"], results=form.results(), units=data["units"],
                inspectors=data["inspectors"], campaign=data["campaign"], follow_up_of=data["follow_up_of"],
                summary=data["summary"], hazard_deadline=data["hazard_deadline"],
                extra_hazards=(data["extra_hazards"] or "").splitlines(),
            )
        except ValidationError as exc:
            if hasattr(exc, "error_dict"):
                for field, errors in exc.message_dict.items():
                    form.add_error(field if field in form.fields else None, errors)
            else:
                form.add_error(None, exc.messages)
            return self.form_invalid(form)
        except PermissionDenied:
            form.add_error(None, OUT_OF_SCOPE_MESSAGE)
            return self.form_invalid(form)
        if inspection.passed:
            messages.success(self.request, _("检查已保存：合格（得分率 %(s)s%%）。") % {"s": inspection.score_pct})
        else:
            messages.warning(self.request, _("检查已保存：不合格（得分率 %(s)s%%），发现隐患 %(n)d 处，已生成整改任务。")
                             % {"s": inspection.score_pct, "n": inspection.hazards.count()})
        return HttpResponseRedirect(reverse("inspections:inspection_detail", args=[inspection.pk]))


class InspectionDetailView(ScopedObjectMixin, DetailView):
    model = Inspection
    template_name = "inspections/inspection_detail.html"
    context_object_name = "inspection"

    def get_base_queryset(self):
        return Inspection.objects.select_related("target", "target__division", "template", "campaign",
                                                 "follow_up_of", "recorded_by").prefetch_related(
            "units", "inspectors")

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        user, inspection = self.request.user, self.object
        ctx["results"] = inspection.results.select_related("item").order_by("item__seq")
        ctx["hazards"] = selectors.hazards_for(user).filter(inspection=inspection).order_by("pk")
        ctx["verified"] = selectors.hazards_for(user).filter(verified_by=inspection).order_by("pk")
        ctx["can_close"] = (inspection.closed_at is None
                            and Inspection.objects.restrict(user, CHANGE).filter(pk=inspection.pk).exists())
        ctx["can_reinspect"] = has_model_permission(user, Inspection, ADD) and inspection.hazards.filter(
            status__in=[HazardStatus.OPEN, HazardStatus.RECTIFIED]).exists()
        ctx["note_form"] = NoteForm()
        return ctx


def _note(request) -> str:
    """The optional ``note`` of a closing action; an unreadable one is dropped, not refused."""
    form = NoteForm(request.POST)
    return form.cleaned_data["note"] if form.is_valid() else ""


class InspectionCloseView(RecordActionView):
    model = Inspection
    action = CHANGE

    def act(self, inspection, data):
        return run_service(self.request, lambda: services.close_inspection(
            user=self.request.user, inspection=inspection, note=_note(self.request)), _("检查记录已销号。"))

    def back_url(self, inspection, result=None):
        return reverse("inspections:inspection_detail", args=[inspection.pk])


# -- hazards ---------------------------------------------------------------------------------
class HazardListView(ScopedQuerysetMixin, SingleTableMixin, FilterView):
    model = Hazard
    table_class = HazardTable
    filterset_class = HazardFilterSet
    template_name = "inspections/hazard_list.html"
    paginate_by = 25

    def get_queryset(self):
        # Open hazards first (the overdue ones on top), then the rest by deadline: the page
        # is a to-do list before it is an archive.
        return selectors.hazards_for(self.request.user).order_by(
            DbCase(When(status=HazardStatus.OPEN, then=Value(0)), default=Value(1)), "deadline", "pk")

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        today = local_today()
        open_ = selectors.hazards_for(self.request.user).filter(status=HazardStatus.OPEN)
        ctx["overdue_count"] = open_.filter(deadline__lt=today).count()
        ctx["due_today_count"] = open_.filter(deadline=today).count()
        ctx["open_count"] = open_.count()
        return ctx


class HazardDetailView(ScopedObjectMixin, DetailView):
    model = Hazard
    template_name = "inspections/hazard_detail.html"
    context_object_name = "hazard"

    def get_base_queryset(self):
        return Hazard.objects.select_related("target", "target__division", "inspection", "item", "verified_by")

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        user, hazard = self.request.user, self.object
        can_change = Hazard.objects.restrict(user, CHANGE).filter(pk=hazard.pk).exists()
        ctx["can_change"] = can_change
        ctx["late"] = rectified_late(hazard)
        if can_change and hazard.status == HazardStatus.OPEN:
            ctx["rectify_form"] = RectifyForm(initial={"version": hazard.version})
            ctx["deadline_form"] = DeadlineForm(initial={"deadline": hazard.deadline})
        if can_change and hazard.status == HazardStatus.VERIFIED:
            ctx["close_form"] = NoteForm()
        ctx["can_reinspect"] = (has_model_permission(user, Inspection, ADD)
                                and hazard.status in (HazardStatus.OPEN, HazardStatus.RECTIFIED))
        return ctx


class _HazardAction(RecordActionView):
    """POST actions on one hazard (``pk``) in the user's change scope; back to its page."""

    model = Hazard
    action = CHANGE

    def back_url(self, hazard, result=None):
        return reverse("inspections:hazard_detail", args=[hazard.pk])


class HazardRectifyView(_HazardAction):
    form_class = RectifyForm

    def act(self, hazard, data):
        return run_service(self.request, lambda: services.report_rectification(
            user=self.request.user, hazard=hazard, note=data["rectification_note"], rectified_at=data["rectified_at"],
            expected_version=data["version"]), _("已登记整改，待复查确认。"))


class HazardDeadlineView(_HazardAction):
    form_class = DeadlineForm

    def act(self, hazard, data):
        return run_service(self.request, lambda: services.extend_deadline(
            user=self.request.user, hazard=hazard, deadline=data["deadline"], reason=data["reason"]),
            _("整改期限已调整。"))


class HazardCloseView(_HazardAction):
    def act(self, hazard, data):
        return run_service(self.request, lambda: services.close_hazard(
            user=self.request.user, hazard=hazard, note=_note(self.request)), _("隐患已销号。"))


# -- checklist profiles ----------------------------------------------------------------------
class TemplateListView(ScopedPermissionMixin, TemplateView):
    model = ChecklistTemplate
    template_name = "inspections/template_list.html"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        current = list(selectors.current_templates(self.request.user).prefetch_related("items"))
        ctx["groups"] = [(label, [t for t in current if t.category == value])
                         for value, label in TargetCategory.choices]
        ctx["can_edit"] = services.can_edit_checklists(self.request.user)
        return ctx


class TemplateDetailView(ScopedObjectMixin, DetailView):
    model = ChecklistTemplate
    template_name = "inspections/template_detail.html"
    context_object_name = "tpl"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        tpl = self.object
        ctx["items"] = tpl.items.order_by("seq")
        ctx["revisions"] = ChecklistTemplate.objects.restrict(self.request.user, VIEW).filter(
            code=tpl.code).order_by("-revision")
        ctx["inspection_count"] = selectors.inspections_for(self.request.user).filter(template=tpl).count()
        ctx["can_edit"] = tpl.is_current and services.can_edit_checklists(self.request.user)
        return ctx


class _TemplateEditMixin(ScopedPermissionMixin):
    model = ChecklistTemplate
    action = CHANGE
    template_name = "inspections/template_form.html"

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated and not services.can_edit_checklists(request.user):
            raise PermissionDenied(_("检查清单为全市统一配置，只有市级及以上具有修改权限的用户可以修改。"))
        return super().dispatch(request, *args, **kwargs)

    def formset_initial(self):
        return []

    def get(self, request, *args, **kwargs):
        return self.render(TemplateForm(instance=self.instance, initial=self.form_initial()),
                           ItemFormSet(initial=self.formset_initial(), prefix="items"))

    def form_initial(self):
        return {}

    def post(self, request, *args, **kwargs):
        form = TemplateForm(request.POST, instance=self.instance)
        formset = ItemFormSet(request.POST, prefix="items")
        if form.is_valid() and formset.is_valid():
            items = [f.cleaned_data for f in formset.forms
                     if f.cleaned_data and not f.cleaned_data.get("DELETE") and f.cleaned_data.get("code")]
            try:
                saved = self.save(form, items)
            except StaleEditError as exc:
                form.add_error(None, STALE_MESSAGE % {"expected": exc.expected, "actual": exc.actual})
            except ValidationError as exc:
                form.add_error(None, error_text(exc))
            except PermissionDenied as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(request, _("已保存为第 %(r)d 版。") % {"r": saved.revision})
                return HttpResponseRedirect(reverse("inspections:template_detail", args=[saved.pk]))
        return self.render(form, formset)

    def render(self, form, formset):
        from django.shortcuts import render

        return render(self.request, self.template_name, {"form": form, "formset": formset, "tpl": self.instance})


class TemplateCreateView(_TemplateEditMixin, View):
    action = ADD
    instance = None

    def save(self, form, items):
        data = {k: form.cleaned_data[k] for k in services.TEMPLATE_FIELDS}
        return services.create_template(user=self.request.user, code=form.cleaned_data["code"], data=data,
                                        items=items)


class TemplateReviseView(_TemplateEditMixin, View):
    """Edit a profile: saving creates its next revision (the old one stays with its
    inspections)."""

    def dispatch(self, request, *args, **kwargs):
        self.instance = get_object_or_404(ChecklistTemplate.objects.restrict(request.user, VIEW),
                                          pk=kwargs["pk"], is_current=True) if request.user.is_authenticated else None
        return super().dispatch(request, *args, **kwargs)

    def formset_initial(self):
        return list(self.instance.items.order_by("seq").values("code", "text", "points", "required", "basis"))

    def save(self, form, items):
        data = {k: form.cleaned_data[k] for k in services.TEMPLATE_FIELDS}
        return services.revise_template(user=self.request.user, template=self.instance, data=data, items=items,
                                        expected_version=form.cleaned_data["version"],
                                        note=form.cleaned_data.get("revision_note", ""))


class TemplateDefaultView(RecordActionView):
    """Make a profile its category's default. 403 without the change permission; any
    profile the user may view is reached (who may edit checklists is the service's rule)."""

    model = ChecklistTemplate
    action = CHANGE

    def get_queryset(self):
        return ChecklistTemplate.objects.restrict(self.request.user, VIEW)

    def act(self, tpl, data):
        return run_service(self.request, lambda: services.set_default_template(user=self.request.user, template=tpl),
                           _("已将“%(n)s”设为默认清单。") % {"n": tpl.name})

    def back_url(self, tpl, result=None):
        return reverse("inspections:template_list")


# -- statistics ------------------------------------------------------------------------------
class StatsView(_PeriodMixin, ScopedPermissionMixin, TemplateView):
    """Counts per division for a period: targets, targets inspected, inspections, hazards
    found / rectified / still open; the four colours; the delivery scorecard."""

    model = Inspection
    template_name = "inspections/stats.html"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx.update(self.period_context())
        user, period = self.request.user, self.get_period()
        if period is None:
            return ctx
        category = self.request.GET.get("category", "")
        kinds = None
        if category in TargetCategory.values:
            from jindu.inspections.choices import kinds_of

            kinds = kinds_of(category)
        else:
            category = ""
        rows = selectors.stats_by_division(user, period, kinds=kinds)
        ctx.update(rows=rows, totals=selectors.totals(rows), category=category,
                   categories=TargetCategory.choices)
        if has_model_permission(user, Target, VIEW):
            targets = selectors.targets_for(user)
            if kinds:
                targets = targets.filter(kind__in=kinds)
            counts = selectors.colour_counts(selectors.targets_with_colour(user, period, queryset=targets))
            ctx["colour_counts"] = [(c, label, counts[c]) for c, label in Colour.choices]
        default_delivery = selectors.current_templates(user, TargetCategory.DELIVERY).first()
        code = self.request.GET.get("template") or (default_delivery.code if default_delivery else "")
        ctx["scorecard_templates"] = list(selectors.current_templates(user))
        ctx["scorecard_code"] = code
        ctx["scorecard"] = selectors.item_compliance(user, code, period) if code else []
        return ctx
