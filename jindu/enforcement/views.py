"""Enforcement pages: cases (list, detail, forms), suspects and seizures of a case, gangs,
campaigns, drug-driving screenings and the statistics page.

Reads go through ``.restrict(user, action)``; writes through :mod:`jindu.enforcement.services`.
"""

from __future__ import annotations

import datetime as dt

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Q
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.generic import CreateView, DetailView, TemplateView, UpdateView
from django_filters.views import FilterView
from django_tables2 import SingleTableMixin

from jindu.core.models import AccessLog
from jindu.core.scope import ADD, CHANGE, VIEW, has_model_permission
from jindu.core.timeutils import local_today
from jindu.core.views.mixins import (
    AccessLogMixin,
    ScopedObjectMixin,
    ScopedPermissionMixin,
    ScopedQuerysetMixin,
    VersionedEditMixin,
)
from jindu.enforcement import selectors, services
from jindu.enforcement.choices import CaseKind, ScreeningResult, TargetLevel
from jindu.enforcement.filtersets import CampaignFilterSet, CaseFilterSet, GangFilterSet, ScreeningFilterSet
from jindu.enforcement.forms import (
    CampaignForm,
    CaseForm,
    CaseStatisticsForm,
    DriverTestForm,
    GangForm,
    ScreeningSessionForm,
    SeizureForm,
    SuspectForm,
)
from jindu.enforcement.models import Campaign, Case, Gang, ScreeningSession, Seizure, Suspect
from jindu.enforcement.quantities import classify_seizures, totals_by_drug
from jindu.enforcement.tables import CampaignTable, CaseTable, GangTable, ScreeningTable
from jindu.substances.quantities import format_decimal


class _ListView(ScopedQuerysetMixin, SingleTableMixin, FilterView):
    """A filtered, paginated list; invalid filters show their errors and no rows."""

    template_name = "enforcement/list.html"
    paginate_by = 25
    title = ""
    add_url_name = ""
    export_url_name = ""
    import_url_name = ""
    extra_links: tuple[tuple[str, str], ...] = ()

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx.update(
            title=self.title, list_url=self.request.path,
            add_url=reverse(self.add_url_name) if self.add_url_name and has_model_permission(
                self.request.user, self.model, ADD) else "",
            export_url=reverse(self.export_url_name) if self.export_url_name else "",
            import_url=reverse(self.import_url_name) if self.import_url_name and has_model_permission(
                self.request.user, self.model, ADD) else "",
            tab=self.tab,
        )
        return ctx


class CaseListView(_ListView):
    model = Case
    table_class = CaseTable
    filterset_class = CaseFilterSet
    title = gettext_lazy("毒品案件")
    tab = "cases"
    add_url_name = "enforcement:case_create"
    export_url_name = "enforcement:case_export"
    import_url_name = "enforcement:case_import"

    def get_base_queryset(self):
        return Case.objects.select_related("division", "handling_unit")


class CaseDetailView(ScopedObjectMixin, AccessLogMixin, DetailView):
    """A case with its suspects (identity numbers masked unless the role may see them),
    seizures with their legal quantity class and basis, totals per suspect and per case."""

    model = Case
    template_name = "enforcement/case_detail.html"
    context_object_name = "case"
    access_log_kind = AccessLog.Kind.VIEW

    def get_base_queryset(self):
        return Case.objects.select_related("division", "handling_unit")

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        user, case = self.request.user, self.object
        self.log_access([case])
        seizures = list(case.seizures.select_related("substance", "suspect").order_by("seized_on", "id"))
        suspects = list(case.suspects.order_by("id"))
        by_suspect = {s.pk: [z for z in seizures if z.suspect_id == s.pk] for s in suspects}
        ctx["suspect_rows"] = [
            {"suspect": s, "classification": classify_seizures(by_suspect[s.pk], case.offence) if by_suspect[s.pk]
             else None, "totals": totals_by_drug(by_suspect[s.pk], case.offence)}
            for s in suspects
        ]
        ctx["seizure_rows"] = [{"seizure": z, "classification": classify_seizures([z], case.offence)}
                               for z in seizures]
        ctx["case_class"] = classify_seizures(seizures, case.offence)
        ctx["drug_totals"] = totals_by_drug(seizures, case.offence)
        ctx["campaigns"] = Campaign.objects.restrict(user, VIEW).filter(cases=case)
        ctx["linked"] = Case.objects.restrict(user, VIEW).filter(
            pk__in=case.linked_cases.values("pk")).order_by("-filed_on")
        ctx["gangs"] = Gang.objects.restrict(user, VIEW).filter(cases=case)
        ctx["can_change"] = Case.objects.restrict(user, CHANGE).filter(pk=case.pk).exists()
        ctx["total_net_g"] = format_decimal(sum((z.net_weight_g or 0 for z in seizures), 0))
        return ctx


class _FormView(VersionedEditMixin):
    """A form saved through a service (``save``); a save lands on the record's page
    (``detail_url_name``), Cancel goes to ``cancel_url()``."""

    template_name = "enforcement/form.html"
    title = ""
    detail_url_name = ""

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "user": self.request.user, "action": self.action}

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx["title"] = self.title
        ctx["cancel_url"] = self.cancel_url()
        return ctx

    def cancel_url(self) -> str:  # pragma: no cover - overridden
        return "/"

    def get_success_url(self):
        return reverse(self.detail_url_name, args=[self.object.pk])


class _CreateView(ScopedPermissionMixin, _FormView, CreateView):
    """Add a record (``add`` permission); Cancel goes back to the list (``list_url_name``)."""

    action = ADD
    list_url_name = ""

    def cancel_url(self):
        return reverse(self.list_url_name)


class _UpdateView(ScopedObjectMixin, _FormView, UpdateView):
    """Edit a record in the user's change scope (else 404); Cancel goes back to its page."""

    action = CHANGE

    def cancel_url(self):
        return reverse(self.detail_url_name, args=[self.object.pk])


def _cleaned(form, fields) -> dict:
    return {f: form.cleaned_data[f] for f in fields if f in form.cleaned_data}


def _case_links(form) -> dict:
    """The campaigns a case is tagged with and the cases it is linked to (both lists)."""
    return {"campaigns": form.cleaned_data.get("campaigns") or [],
            "linked_cases": form.cleaned_data.get("linked_cases") or []}


class CaseCreateView(_CreateView):
    model = Case
    form_class = CaseForm
    title = gettext_lazy("登记毒品案件")
    list_url_name = "enforcement:case_list"
    detail_url_name = "enforcement:case_detail"

    def get_initial(self):
        return {"filed_on": local_today()}

    def save(self, form):
        return services.create_case(user=self.request.user, data=_cleaned(form, services.CASE_FIELDS),
                                    **_case_links(form))


class CaseUpdateView(_UpdateView):
    model = Case
    form_class = CaseForm
    title = gettext_lazy("编辑毒品案件")
    detail_url_name = "enforcement:case_detail"

    def save(self, form):
        case, _changed = services.update_case(
            user=self.request.user, case=self.object, data=_cleaned(form, services.CASE_FIELDS),
            expected_version=form.cleaned_data["version"], **_case_links(form))
        return case

    def form_valid(self, form):
        try:
            return super().form_valid(form)
        except ValidationError as exc:  # status transition refused by the service
            for field, msgs in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, msgs)
            return self.form_invalid(form)


class _CaseChildMixin:
    """Views under ``cases/<case_pk>/``: the case must be visible to the user (else 404); the
    service then refuses a child outside the user's add/change scope."""

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated and has_model_permission(request.user, self.model, self.action):
            self.case = get_object_or_404(Case.objects.restrict(request.user, VIEW), pk=kwargs["case_pk"])
        return super().dispatch(request, *args, **kwargs)

    def get_form_kwargs(self):
        kwargs = super().get_form_kwargs()
        kwargs.pop("action", None)
        return kwargs

    def cancel_url(self):
        return reverse("enforcement:case_detail", args=[self.case.pk])

    def get_success_url(self):
        return reverse("enforcement:case_detail", args=[self.case.pk])

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx["case"] = self.case
        return ctx


class SuspectCreateView(_CaseChildMixin, _CreateView):
    model = Suspect
    form_class = SuspectForm
    title = gettext_lazy("添加犯罪嫌疑人")

    def save(self, form):
        return services.create_suspect(user=self.request.user, case=self.case,
                                       data=_cleaned(form, services.SUSPECT_FIELDS))


class SuspectUpdateView(_CaseChildMixin, _UpdateView):
    model = Suspect
    form_class = SuspectForm
    title = gettext_lazy("编辑犯罪嫌疑人")

    def get_base_queryset(self):
        return Suspect.objects.filter(case_id=self.kwargs["case_pk"])

    def save(self, form):
        suspect, _changed = services.update_suspect(
            user=self.request.user, suspect=self.object, data=_cleaned(form, services.SUSPECT_FIELDS),
            expected_version=form.cleaned_data["version"])
        return suspect


class SeizureCreateView(_CaseChildMixin, _CreateView):
    model = Seizure
    form_class = SeizureForm
    title = gettext_lazy("登记毒品缴获")

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "case": self.case}

    def get_initial(self):
        return {"seized_on": self.case.solved_on or self.case.filed_on}

    def save(self, form):
        return services.create_seizure(user=self.request.user, case=self.case,
                                       data=_cleaned(form, services.SEIZURE_FIELDS))


class SeizureUpdateView(_CaseChildMixin, _UpdateView):
    model = Seizure
    form_class = SeizureForm
    title = gettext_lazy("编辑毒品缴获")

    def get_base_queryset(self):
        return Seizure.objects.filter(case_id=self.kwargs["case_pk"])

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "case": self.case}

    def save(self, form):
        seizure, _changed = services.update_seizure(
            user=self.request.user, seizure=self.object, data=_cleaned(form, services.SEIZURE_FIELDS),
            expected_version=form.cleaned_data["version"])
        return seizure


# -- gangs --------------------------------------------------------------------------------------


class GangListView(_ListView):
    model = Gang
    table_class = GangTable
    filterset_class = GangFilterSet
    title = gettext_lazy("贩毒团伙")
    tab = "gangs"
    add_url_name = "enforcement:gang_create"

    def get_base_queryset(self):
        return Gang.objects.select_related("division").annotate(member_count=Count("members")).order_by(
            "-broken_up_on", "name", "pk")


class GangDetailView(ScopedObjectMixin, AccessLogMixin, DetailView):
    model = Gang
    template_name = "enforcement/gang_detail.html"
    context_object_name = "gang"
    access_log_kind = AccessLog.Kind.VIEW

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        user = self.request.user
        self.log_access([self.object])
        ctx["members"] = Suspect.objects.restrict(user, VIEW).filter(gangs=self.object).select_related("case")
        ctx["cases"] = Case.objects.restrict(user, VIEW).filter(gangs=self.object)
        ctx["can_change"] = Gang.objects.restrict(user, CHANGE).filter(pk=self.object.pk).exists()
        return ctx


class GangCreateView(_CreateView):
    model = Gang
    form_class = GangForm
    title = gettext_lazy("登记贩毒团伙")
    list_url_name = "enforcement:gang_list"
    detail_url_name = "enforcement:gang_detail"

    def save(self, form):
        return services.create_gang(user=self.request.user, data=_cleaned(form, services.GANG_FIELDS))


class GangUpdateView(_UpdateView):
    model = Gang
    form_class = GangForm
    title = gettext_lazy("编辑贩毒团伙")
    detail_url_name = "enforcement:gang_detail"

    def save(self, form):
        gang, _changed = services.update_gang(
            user=self.request.user, gang=self.object, data=_cleaned(form, services.GANG_FIELDS),
            expected_version=form.cleaned_data["version"], members=form.cleaned_data.get("members") or [])
        return gang


# -- campaigns ----------------------------------------------------------------------------------


class CampaignListView(_ListView):
    model = Campaign
    table_class = CampaignTable
    filterset_class = CampaignFilterSet
    title = gettext_lazy("专项行动")
    tab = "campaigns"
    add_url_name = "enforcement:campaign_create"

    def get_base_queryset(self):
        return Campaign.objects.select_related("division")


class CampaignDetailView(ScopedObjectMixin, DetailView):
    model = Campaign
    template_name = "enforcement/campaign_detail.html"
    context_object_name = "campaign"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        user, campaign = self.request.user, self.object
        tagged = Case.objects.restrict(user, VIEW).filter(
            pk__in=Case.campaigns.through.objects.filter(campaign=campaign).values("case_id"))
        ctx["case_count"] = tagged.count()
        ctx["solved_count"] = tagged.exclude(solved_on__isnull=True).count()
        ctx["seized_g"] = format_decimal(selectors.exact_gram_sum(
            Seizure.objects.restrict(user, VIEW).filter(case__in=tagged.values("pk"))))
        ctx["cases"] = tagged.select_related("division").order_by("-filed_on")[:50]
        ctx["can_change"] = Campaign.objects.restrict(user, CHANGE).filter(pk=campaign.pk).exists()
        return ctx


class CampaignCreateView(_CreateView):
    model = Campaign
    form_class = CampaignForm
    title = gettext_lazy("新建专项行动")
    list_url_name = "enforcement:campaign_list"
    detail_url_name = "enforcement:campaign_detail"

    def save(self, form):
        return services.create_campaign(user=self.request.user, data=_cleaned(form, services.CAMPAIGN_FIELDS))


class CampaignUpdateView(_UpdateView):
    model = Campaign
    form_class = CampaignForm
    title = gettext_lazy("编辑专项行动")
    detail_url_name = "enforcement:campaign_detail"

    def save(self, form):
        campaign, _changed = services.update_campaign(
            user=self.request.user, campaign=self.object, data=_cleaned(form, services.CAMPAIGN_FIELDS),
            expected_version=form.cleaned_data["version"])
        return campaign


# -- drug-driving screening ---------------------------------------------------------------------


class ScreeningListView(_ListView):
    model = ScreeningSession
    table_class = ScreeningTable
    filterset_class = ScreeningFilterSet
    title = gettext_lazy("毒驾检测")
    tab = "screenings"
    add_url_name = "enforcement:screening_create"

    def get_base_queryset(self):
        return ScreeningSession.objects.select_related("unit", "division").annotate(
            tested=Count("tests"), positive=Count("tests", filter=Q(tests__result=ScreeningResult.POSITIVE))
        ).order_by("-held_on", "-pk")


class ScreeningDetailView(ScopedObjectMixin, AccessLogMixin, DetailView):
    model = ScreeningSession
    template_name = "enforcement/screening_detail.html"
    context_object_name = "session"
    access_log_kind = AccessLog.Kind.VIEW

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        user, session = self.request.user, self.object
        tests = list(session.tests.select_related("substance").order_by("id"))
        self.log_access([session])
        ctx["tests"] = tests
        ctx["positive"] = sum(1 for t in tests if t.result == ScreeningResult.POSITIVE)
        ctx["can_change"] = ScreeningSession.objects.restrict(user, CHANGE).filter(pk=session.pk).exists()
        if ctx["can_change"]:
            ctx["test_form"] = kwargs.get("test_form") or DriverTestForm(session=session)
        return ctx


class ScreeningCreateView(_CreateView):
    model = ScreeningSession
    form_class = ScreeningSessionForm
    title = gettext_lazy("登记毒驾检测")
    list_url_name = "enforcement:screening_list"
    detail_url_name = "enforcement:screening_detail"

    def get_initial(self):
        return {"held_on": local_today()}

    def save(self, form):
        return services.create_screening_session(user=self.request.user,
                                                 data=_cleaned(form, services.SESSION_FIELDS))


class DriverTestCreateView(ScreeningDetailView):
    """POST one driver's result from the session page; errors re-render the page."""

    action = CHANGE
    http_method_names = ["post"]

    def post(self, request, *args, **kwargs):
        self.object = self.get_object()
        form = DriverTestForm(request.POST, session=self.object)
        if form.is_valid():
            try:
                services.record_driver_test(user=request.user, session=self.object,
                                            data=_cleaned(form, services.DRIVER_TEST_FIELDS))
            except PermissionDenied:
                form.add_error(None, _("保存失败：该检测场次不在您的管辖范围内。"))
            else:
                messages.success(request, _("已保存检测结果。"))
                return HttpResponseRedirect(reverse("enforcement:screening_detail", args=[self.object.pk]))
        return self.render_to_response(self.get_context_data(test_form=form))


# -- statistics ---------------------------------------------------------------------------------


class StatisticsView(ScopedPermissionMixin, TemplateView):
    """Cases filed and solved, target cases, suspects caught, gangs broken up and grams
    seized for a date range, district, case kind, drug and campaign, with a monthly chart.
    Defaults: the current local year, criminal cases."""

    model = Case
    template_name = "enforcement/statistics.html"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        user = self.request.user
        today = local_today()
        params = self.request.GET.copy()
        params.setdefault("date_from", dt.date(today.year, 1, 1).isoformat())
        params.setdefault("date_to", dt.date(today.year, 12, 31).isoformat())
        if "kind" not in self.request.GET:
            params["kind"] = CaseKind.CRIMINAL
        form = CaseStatisticsForm(params, user=user)
        ctx["form"] = form
        ctx["tab"] = "statistics"
        if not form.is_valid():
            ctx["stats"] = None
            return ctx
        d = form.cleaned_data
        stats = selectors.statistics(user, selectors.StatisticsFilter(
            date_from=d["date_from"], date_to=d["date_to"], division=d.get("district"), kind=d.get("kind") or "",
            substance=d.get("substance"), campaign=d.get("campaign"),
        ))
        ctx["stats"] = stats
        ctx["seized_text"] = format_decimal(stats.seized_g)
        ctx["seized_rows"] = [(name, format_decimal(g)) for name, g in stats.seized_by_drug]
        ctx["target_rows"] = [(TargetLevel(k).label, v) for k, v in stats.target_by_level.items()]
        ctx["chart"] = {
            "categories": [m["month"] for m in stats.monthly],
            "series": [
                {"name": _("破获案件（起）"), "unit": _("起"), "data": [m["cases_solved"] for m in stats.monthly]},
                # Exact text ("713.079"), never a float: ECharts reads numeric strings.
                {"name": _("缴获毒品（克）"), "unit": _("克"), "data": [m["seized_g"] for m in stats.monthly]},
            ],
        }
        return ctx
