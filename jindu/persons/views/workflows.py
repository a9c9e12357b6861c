"""Workflow pages (流程): handover on release, community measures (reporting, agreement, serious
breach, completion), transfers, rolling screening, merge proposals, driving licences and
temporary access — lists from :mod:`jindu.persons.workflows`, actions through the services.

Every page showing people writes an access-log row with the ids shown. Actions are POST
only, say what happened (or the Chinese reason nothing happened) and go back to the list.
"""

from __future__ import annotations

from typing import Any, Iterable

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View
from django.views.generic import DetailView, FormView, TemplateView

from jindu.core.audit import log_access
from jindu.core.exports import DATE, IDENTITY, CODE, ExportColumn, Exporter
from jindu.core.models import AccessLog, StaleEditError
from jindu.core.scope import ADD, CHANGE, VIEW, grant_roots, has_model_permission, subtree_q
from jindu.core.timeutils import local_today, month_period, parse_period
from jindu.core.views.imports import ExportView
from jindu.core.views.mixins import STALE_MESSAGE, AccessLogMixin, ScopedObjectMixin, ScopedPermissionMixin
from jindu.geo.models import Division
from jindu.persons import services, workflows
from jindu.persons.choices import HandoverStatus, ProposalStatus, ScreeningOutcome
from jindu.persons.forms_workflows import (
    AccessDecisionForm, AccessRequestForm, CompletionForm, HandoverStepForm, LicenceCancelForm, MergeDecisionForm,
    NewlyFoundForm, ProposalForm, ReleaseNoticeForm, ScreeningOpenForm, ScreeningResultForm, TransferDecisionForm,
    TransferRequestForm,
)
from jindu.persons.models import (
    Handover, MergeProposal, Person, ScreeningResult, ScreeningRound, TemporaryAccess, Transfer,
)
from jindu.persons.services import access as access_services
from jindu.persons.services import merge as merge_services
from jindu.persons.services.handover import notice_warning
from jindu.persons.services.screening import round_counts

PAGE_SIZE = 25


# --- helpers ---------------------------------------------------------------------------------

def error_text(exc: ValidationError) -> str:
    if hasattr(exc, "error_dict"):
        return "；".join(m for ms in exc.message_dict.values() for m in ms)
    return "；".join(exc.messages)


def form_error_text(form) -> str:
    parts = []
    for name, errors in form.errors.items():
        label = form.fields[name].label if name in form.fields else ""
        parts += [f"{label}：{e}" if label else str(e) for e in errors]
    return "；".join(parts)


def run(request, call, ok_message) -> Any:
    """Run a service call; on refusal put the Chinese reason in a message and return ``None``."""
    try:
        result = call()
    except ValidationError as exc:
        messages.error(request, _("未保存：%(reason)s") % {"reason": error_text(exc)})
    except StaleEditError as exc:
        messages.error(request, STALE_MESSAGE % {"expected": exc.expected, "actual": exc.actual})
    except PermissionDenied as exc:
        messages.error(request, _("未保存：%(reason)s") % {"reason": str(exc) or _("超出您的管辖范围。")})
    else:
        messages.success(request, ok_message(result) if callable(ok_message) else ok_message)
        return result if result is not None else True
    return None


def service_errors_to_form(form, exc: ValidationError) -> None:
    from jindu.persons.views import add_service_errors

    add_service_errors(form, exc)


def page_of(request, rows, per_page: int = PAGE_SIZE):
    return Paginator(rows, per_page).get_page(request.GET.get("page"))


def log_people(request, objects: Iterable[Any], model=Person, kind: str = AccessLog.Kind.LIST) -> None:
    ids = [o.pk for o in objects]
    log_access(kind=kind, model=model, user=request.user, object_ids=ids, result_count=len(ids),
               path=request.path, query=request.GET.dict())


def nav_context(request) -> dict:
    """What the workflow tab bar needs: whether the user may open the merge list."""
    return {"can_merge": grant_roots(request.user, merge_services.DECIDE_PERMISSION) != []}


class NavMixin:
    """Adds the tab bar's context (``section`` and :func:`nav_context`)."""

    section = ""

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx.setdefault("section", self.section)
        ctx.update(nav_context(self.request))
        return ctx


class WorkflowPage(ScopedPermissionMixin, NavMixin, TemplateView):
    """A workflow list page: login, model permission (403), the tab bar."""

    model = Person


class PostAction(ScopedPermissionMixin, View):
    """A POST-only action that goes back to ``back_url()``."""

    http_method_names = ["post"]

    def back_url(self) -> str:  # pragma: no cover - declared by subclasses
        raise NotImplementedError

    def back(self):
        return HttpResponseRedirect(self.back_url())


# --- the hub -----------------------------------------------------------------------------------

class WorkflowIndexView(WorkflowPage):
    """流程: what is waiting in each workflow of the user's scope, with links."""

    template_name = "persons/workflow_index.html"
    section = "index"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        user = self.request.user
        ctx["counts"] = workflows.workflow_counts(user)
        return ctx


# --- handover on release -------------------------------------------------------------------------

class HandoverListView(WorkflowPage):
    model = Handover
    template_name = "persons/workflow_handover_list.html"
    section = "handover"
    TABS = ("open", "escalation", "closed", "rates")

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        user, request = self.request.user, self.request
        tab = request.GET.get("tab", "open")
        tab = tab if tab in self.TABS else "open"
        ctx.update(tab=tab, can_add=has_model_permission(user, Handover, ADD),
                   escalate_days=workflows.ESCALATE_AFTER_DAYS)
        if tab == "rates":
            ctx.update(self.rates_context())
            return ctx
        if tab == "open":
            rows = workflows.open_handovers(user)
        elif tab == "escalation":
            rows = workflows.handover_escalations(user)
        else:
            rows = (workflows.handovers(user).exclude(status__in=workflows.OPEN_HANDOVER)
                    .order_by("-expected_release_on", "-pk"))
        page = page_of(request, rows)
        if tab == "closed":
            today = local_today()
            page.object_list = [workflows.annotate_handover(h, today) for h in page.object_list]
        log_people(request, page.object_list, model=Handover)
        ctx["page"] = page
        return ctx

    def rates_context(self) -> dict:
        request, user = self.request, self.request.user
        label = request.GET.get("period", "").strip()
        today = local_today()
        error = ""
        try:
            period = parse_period(label) if label else month_period(today.year, today.month)
        except ValueError as exc:
            period, error = month_period(today.year, today.month), str(exc)
        division = None
        if request.GET.get("division"):
            try:
                division = Division.objects.restrict(user, VIEW).filter(pk=int(request.GET["division"])).first()
            except ValueError:
                division = None
            if division is None:
                error = _("所选区划不存在或不在您的管辖范围内")
        return {
            "period": period, "period_error": error, "division": division,
            "total": workflows.handover_rates(user, period, division),
            "rows": workflows.rates_by_division(user, period, division),
            "previous": period.previous(), "next": period.next(),
        }


class PersonFromQueryMixin:
    """A form page about one person: ``?person=<pk>`` among the people the user may change
    (404 otherwise), or — without it — the form finds the person by identity number."""

    def dispatch(self, request, *args, **kwargs):
        self.person = None
        if request.user.is_authenticated and request.GET.get("person"):
            try:
                pk = int(request.GET["person"])
            except ValueError:
                raise Http404 from None
            self.person = get_object_or_404(Person.objects.restrict(request.user, CHANGE), pk=pk)
        return super().dispatch(request, *args, **kwargs)

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "user": self.request.user, "person": self.person}


class HandoverCreateView(ScopedPermissionMixin, PersonFromQueryMixin, NavMixin, FormView):
    """Record a facility's release notice (opens the handover)."""

    model = Handover
    action = ADD
    form_class = ReleaseNoticeForm
    template_name = "persons/workflow_handover_form.html"

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), "person": self.person, "section": "handover"}

    def form_valid(self, form):
        data = form.cleaned_data
        try:
            handover = services.record_release_notice(
                user=self.request.user, person=form.person, facility=data["facility"],
                notice_received_on=data["notice_received_on"], expected_release_on=data["expected_release_on"],
                notes=data["notes"])
        except ValidationError as exc:
            service_errors_to_form(form, exc)
            return self.form_invalid(form)
        except PermissionDenied:
            form.add_error(None, _("该人员超出您的管辖范围，未保存。"))
            return self.form_invalid(form)
        messages.success(self.request, _("已登记出所通知。"))
        warning = notice_warning(handover)
        if warning:
            messages.warning(self.request, warning)
        return HttpResponseRedirect(reverse("persons:handover_detail", args=[handover.pk]))


class HandoverDetailView(ScopedObjectMixin, AccessLogMixin, NavMixin, DetailView):
    model = Handover
    template_name = "persons/workflow_handover_detail.html"
    context_object_name = "handover"
    access_log_kind = AccessLog.Kind.VIEW

    def get_base_queryset(self):
        return Handover.objects.select_related("person", "person__residence_division",
                                               "person__residence_division__parent")

    def get(self, request, *args, **kwargs):
        response = super().get(request, *args, **kwargs)
        self.log_access([self.object])
        return response

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        handover = workflows.annotate_handover(self.object, local_today())
        can_change = Handover.objects.restrict(self.request.user, CHANGE).filter(pk=handover.pk).exists()
        step = {HandoverStatus.NOTIFIED: "pickup", HandoverStatus.RECEIVED: "report",
                HandoverStatus.REPORTED: "agreement"}.get(handover.status)
        ctx.update(section="handover", can_change=can_change, step=step,
                   step_form=HandoverStepForm(step=step, handover=handover) if can_change and step else None,
                   report_form=(HandoverStepForm(step="report", handover=handover)
                                if can_change and step == "pickup" else None),
                   fail_form=HandoverStepForm(step="fail", handover=handover) if can_change and step else None,
                   person_visible=Person.objects.restrict(self.request.user, VIEW).filter(
                       pk=handover.person_id).exists())
        return ctx


class HandoverStepView(ScopedObjectMixin, PostAction):
    model = Handover
    action = CHANGE

    def back_url(self):
        return reverse("persons:handover_detail", args=[self.kwargs["pk"]])

    def post(self, request, pk):
        handover = get_object_or_404(self.get_queryset(), pk=pk)
        step = request.POST.get("step", "")
        if step not in HandoverStepForm.STEP_FIELDS:
            raise Http404
        form = HandoverStepForm(request.POST, step=step, handover=handover)
        if not form.is_valid():
            messages.error(request, _("未保存：%(reason)s") % {"reason": form_error_text(form)})
            return self.back()
        d, user, version = form.cleaned_data, request.user, form.cleaned_data["version"]
        calls = {
            "pickup": lambda: services.record_pickup(user=user, handover=handover, released_on=d["released_on"],
                                                     received_on=d["received_on"], expected_version=version),
            "report": lambda: services.record_handover_report(user=user, handover=handover,
                                                              reported_on=d["reported_on"], expected_version=version,
                                                              released_on=d.get("released_on")),
            "agreement": lambda: services.record_handover_agreement(user=user, handover=handover,
                                                                    signed_on=d["agreement_signed_on"],
                                                                    expected_version=version),
            "fail": lambda: services.mark_handover_failed(user=user, handover=handover, reason=d["reason"],
                                                          expected_version=version),
        }
        run(request, calls[step], _("已保存。"))
        return self.back()


# --- community measures ------------------------------------------------------------------------

class OrderListView(WorkflowPage):
    """社区戒毒（康复）: reporting deadlines, agreements, serious breaches, completion notices."""

    template_name = "persons/workflow_order_list.html"
    section = "orders"
    TABS = ("reporting", "agreement", "breach", "completion")

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        request, user = self.request, self.request.user
        tab = request.GET.get("tab", "reporting")
        tab = tab if tab in self.TABS else "reporting"
        rows = {
            "reporting": lambda: workflows.reporting_deadlines(user),
            "agreement": lambda: workflows.agreements_pending(user),
            "breach": lambda: workflows.serious_breaches(user),
            "completion": lambda: workflows.completions_due(user),
        }[tab]()
        page = page_of(request, rows)
        if tab == "breach":
            states = workflows.breach_details(page.object_list)
            for p in page.object_list:
                p.breach_state = states.get(p.pk)
        log_people(request, page.object_list)
        changeable = set(Person.objects.restrict(user, CHANGE).filter(pk__in=[p.pk for p in page.object_list])
                         .values_list("pk", flat=True))
        ctx.update(tab=tab, page=page, changeable=changeable, proposal_form=ProposalForm(),
                   completion_form=CompletionForm(), today=local_today(),
                   window_days=workflows.COMPLETION_WINDOW_DAYS)
        return ctx


class BreachProposeView(PostAction):
    model = Person
    action = CHANGE

    def back_url(self):
        return reverse("persons:order_list") + "?tab=breach"

    def post(self, request, pk):
        person = get_object_or_404(Person.objects.restrict(request.user, CHANGE), pk=pk)
        form = ProposalForm(request.POST)
        if not form.is_valid():
            messages.error(request, _("未保存：%(reason)s") % {"reason": form_error_text(form)})
            return self.back()
        run(request, lambda: services.propose_isolation(user=request.user, person=person,
                                                        note=form.cleaned_data["note"],
                                                        document_number=form.cleaned_data["document_number"]),
            _("已记录向公安机关提请强制隔离戒毒。"))
        return self.back()


class CompletionRecordView(PostAction):
    model = Person
    action = CHANGE

    def back_url(self):
        return reverse("persons:order_list") + "?tab=completion"

    def post(self, request, pk):
        person = get_object_or_404(Person.objects.restrict(request.user, CHANGE), pk=pk)
        form = CompletionForm(request.POST)
        if not form.is_valid():
            messages.error(request, _("未保存：%(reason)s") % {"reason": form_error_text(form)})
            return self.back()
        run(request, lambda: services.record_measure_completed(
            user=request.user, person=person, completed_on=form.cleaned_data["completed_on"],
            document_number=form.cleaned_data["document_number"]), _("已记录期满解除。"))
        return self.back()


# --- transfers ---------------------------------------------------------------------------------

class TransferListView(WorkflowPage):
    model = Transfer
    template_name = "persons/workflow_transfer_list.html"
    section = "transfers"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        request, user = self.request, self.request.user
        incoming = list(workflows.incoming_transfers(user).order_by("requested_on", "pk"))
        outgoing = list(workflows.outgoing_transfers(user).order_by("requested_on", "pk"))
        decided = page_of(request, workflows.decided_transfers(user))
        visible = set(Person.objects.restrict(user, VIEW).filter(
            pk__in=[t.person_id for t in [*incoming, *outgoing, *decided.object_list]]).values_list("pk", flat=True))
        log_people(request, [*incoming, *outgoing, *decided.object_list], model=Transfer)
        ctx.update(incoming=incoming, outgoing=outgoing, page=decided, visible=visible,
                   can_add=has_model_permission(user, Transfer, ADD))
        return ctx


class TransferCreateView(ScopedPermissionMixin, PersonFromQueryMixin, NavMixin, FormView):
    model = Transfer
    action = ADD
    form_class = TransferRequestForm
    template_name = "persons/workflow_transfer_form.html"

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), "person": self.person, "section": "transfers"}

    def form_valid(self, form):
        data = form.cleaned_data
        try:
            services.request_transfer(user=self.request.user, person=form.person, to_division=data["to_division"],
                                      reason=data["reason"], new_address=data["new_address"])
        except ValidationError as exc:
            service_errors_to_form(form, exc)
            return self.form_invalid(form)
        except PermissionDenied:
            form.add_error(None, _("该人员超出您的管辖范围，未保存。"))
            return self.form_invalid(form)
        messages.success(self.request, _("已提交转移申请，等待接收地处理。"))
        return HttpResponseRedirect(reverse("persons:transfer_list"))


class TransferDecideView(PostAction):
    model = Transfer
    action = VIEW

    def back_url(self):
        return reverse("persons:transfer_list")

    def post(self, request, pk):
        transfer = get_object_or_404(workflows.transfers(request.user), pk=pk)
        form = TransferDecisionForm(request.POST)
        if not form.is_valid():
            messages.error(request, _("未保存：%(reason)s") % {"reason": form_error_text(form)})
            return self.back()
        d, user = form.cleaned_data, request.user
        version = d.get("version")
        calls = {
            "accept": (lambda: services.accept_transfer(user=user, transfer=transfer, expected_version=version,
                                                        note=d["reason"]), _("已接收，该人员已转入本辖区。")),
            "reject": (lambda: services.reject_transfer(user=user, transfer=transfer, reason=d["reason"],
                                                        expected_version=version), _("已退回。")),
            "cancel": (lambda: services.cancel_transfer(user=user, transfer=transfer, reason=d["reason"],
                                                        expected_version=version), _("已撤销转移申请。")),
        }
        call, ok = calls[d["decision"]]
        run(request, call, ok)
        return self.back()


# --- rolling screening -------------------------------------------------------------------------

class ScreeningListView(WorkflowPage):
    model = ScreeningRound
    template_name = "persons/workflow_screening_list.html"
    section = "screening"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        user = self.request.user
        rounds = (workflows.screening_rounds(user)
                  .annotate(total=Count("results"), checked=Count("results", filter=~Q(results__outcome="")))
                  .order_by("-opened_on", "-pk"))
        can_add = has_model_permission(user, ScreeningRound, ADD)
        ctx.update(page=page_of(self.request, rounds), can_add=can_add,
                   form=ScreeningOpenForm(user=user) if can_add else None)
        return ctx


class ScreeningCreateView(PostAction):
    model = ScreeningRound
    action = ADD

    def back_url(self):
        return reverse("persons:screening_list")

    def post(self, request):
        form = ScreeningOpenForm(request.POST, user=request.user)
        if not form.is_valid():
            messages.error(request, _("未保存：%(reason)s") % {"reason": form_error_text(form)})
            return self.back()
        d = form.cleaned_data
        screening_round = run(request, lambda: services.open_screening_round(
            user=request.user, division=d["division"], title=d["title"], due_on=d["due_on"]),
            lambda r: _("已开始滚动排查，列入 %(n)s 人。") % {"n": r.results.count()})
        if screening_round:
            return HttpResponseRedirect(reverse("persons:screening_detail", args=[screening_round.pk]))
        return self.back()


class ScreeningDetailView(ScopedObjectMixin, NavMixin, DetailView):
    model = ScreeningRound
    template_name = "persons/workflow_screening_detail.html"
    context_object_name = "screening_round"

    def get_base_queryset(self):
        return ScreeningRound.objects.select_related("division", "division__parent")

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        request, user, screening_round = self.request, self.request.user, self.object
        results = workflows.screening_results(user, screening_round)
        outcome = request.GET.get("outcome", "")
        if outcome == "unchecked":
            results = results.filter(outcome="")
        elif outcome in ScreeningOutcome.values:
            results = results.filter(outcome=outcome)
        page = page_of(request, results, 50)
        log_people(request, page.object_list, model=ScreeningResult)
        can_change = (screening_round.closed_on is None and
                      ScreeningRound.objects.restrict(user, CHANGE).filter(pk=screening_round.pk).exists())
        counts = round_counts(screening_round)
        ctx.update(section="screening", page=page, outcome=outcome, counts=counts, can_change=can_change,
                   outcome_counts=[(v, label, counts[v]) for v, label in ScreeningOutcome.choices],
                   new_form=(NewlyFoundForm(screening_round=screening_round)
                             if can_change and has_model_permission(user, Person, ADD) else None))
        return ctx


class ScreeningResultView(ScopedPermissionMixin, NavMixin, FormView):
    model = ScreeningResult
    action = CHANGE
    form_class = ScreeningResultForm
    template_name = "persons/workflow_screening_result.html"

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated:
            self.result = get_object_or_404(
                ScreeningResult.objects.restrict(request.user, CHANGE).select_related("round", "person"),
                pk=kwargs["pk"])
        return super().dispatch(request, *args, **kwargs)

    def get_initial(self):
        return {"version": self.result.version}

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), "result": self.result, "section": "screening"}

    def form_valid(self, form):
        d = form.cleaned_data
        try:
            services.record_screening_result(
                user=self.request.user, result=self.result, outcome=d["outcome"], checked_on=d["checked_on"],
                notes=d["notes"], died_on=d["died_on"], to_division=d["to_division"], expected_version=d["version"])
        except ValidationError as exc:
            service_errors_to_form(form, exc)
            return self.form_invalid(form)
        except StaleEditError as exc:
            form.add_error(None, STALE_MESSAGE % {"expected": exc.expected, "actual": exc.actual})
            return self.form_invalid(form)
        except PermissionDenied as exc:
            form.add_error(None, str(exc) or _("超出您的管辖范围，未保存。"))
            return self.form_invalid(form)
        messages.success(self.request, _("已记录核查结果。"))
        return HttpResponseRedirect(reverse("persons:screening_detail", args=[self.result.round_id]))


class ScreeningNewPersonView(PostAction):
    model = Person
    action = ADD

    def back_url(self):
        return reverse("persons:screening_detail", args=[self.kwargs["pk"]])

    def post(self, request, pk):
        screening_round = get_object_or_404(ScreeningRound.objects.restrict(request.user, CHANGE), pk=pk)
        form = NewlyFoundForm(request.POST, screening_round=screening_round)
        if not form.is_valid():
            messages.error(request, _("未保存：%(reason)s") % {"reason": form_error_text(form)})
            return self.back()
        run(request, lambda: services.record_newly_found(
            user=request.user, screening_round=screening_round, data=form.person_data(),
            checked_on=form.cleaned_data["checked_on"], notes=form.cleaned_data["notes"]),
            _("已登记新发现人员。"))
        return self.back()


class ScreeningCloseView(PostAction):
    model = ScreeningRound
    action = CHANGE

    def back_url(self):
        return reverse("persons:screening_detail", args=[self.kwargs["pk"]])

    def post(self, request, pk):
        screening_round = get_object_or_404(ScreeningRound.objects.restrict(request.user, CHANGE), pk=pk)
        run(request, lambda: services.close_screening_round(user=request.user, screening_round=screening_round),
            lambda c: _("排查已完成：共 %(total)s 人，已核查 %(checked)s 人，未核查 %(unchecked)s 人。") % c)
        return self.back()


# --- merge proposals ---------------------------------------------------------------------------

class MergePermissionMixin:
    """403 unless the user holds ``persons.decide_merge`` somewhere (city users)."""

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated and grant_roots(request.user, merge_services.DECIDE_PERMISSION) == []:
            raise PermissionDenied(_("只有市级禁毒办可以决定疑似重复人员的合并。"))
        return super().dispatch(request, *args, **kwargs)


class MergeListView(ScopedPermissionMixin, MergePermissionMixin, NavMixin, TemplateView):
    model = MergeProposal
    template_name = "persons/workflow_merge_list.html"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        request, user = self.request, self.request.user
        decided = request.GET.get("status") == "decided"
        rows = workflows.merge_proposals(user, None if decided else ProposalStatus.PENDING)
        if decided:
            rows = rows.exclude(status=ProposalStatus.PENDING).order_by("-decided_on", "-pk")
        page = page_of(request, rows)
        for p in page.object_list:
            p.decidable = not decided and merge_services.may_decide(user, p)
        log_people(request, [x for p in page.object_list for x in (p.keep, p.duplicate)])
        ctx.update(section="merge", page=page, decided=decided, form=MergeDecisionForm())
        return ctx


class MergeDecideView(MergePermissionMixin, PostAction):
    model = MergeProposal
    action = VIEW

    def back_url(self):
        return reverse("persons:merge_list")

    def post(self, request, pk):
        proposal = get_object_or_404(workflows.merge_proposals(request.user, None), pk=pk)
        form = MergeDecisionForm(request.POST)
        if not form.is_valid():
            messages.error(request, _("未保存：%(reason)s") % {"reason": form_error_text(form)})
            return self.back()
        d = form.cleaned_data
        if d["decision"] == "accept":
            keep = proposal.duplicate if d.get("keep") == "duplicate" else proposal.keep
            run(request, lambda: services.accept_merge(user=request.user, proposal=proposal, keep=keep,
                                                       reason=d["reason"], expected_version=d.get("version")),
                _("已合并，全部记录已归入保留人员。"))
        else:
            run(request, lambda: services.reject_merge(user=request.user, proposal=proposal, reason=d["reason"],
                                                       expected_version=d.get("version")), _("已驳回。"))
        return self.back()


# --- driving licences --------------------------------------------------------------------------

def _place(village) -> str:
    return f"{village.parent.name if village.parent_id else ''}{village.name}"


class LicenceExporter(Exporter):
    """People whose driving licence falls under 公安部令第162号 art. 79(6), for the traffic police."""

    name = "persons.licence_cancellation"
    label = gettext_lazy("应注销驾驶证人员")
    model = Person
    personal_data = True
    select_related = ("residence_division", "residence_division__parent")
    columns = [
        ExportColumn(gettext_lazy("姓名"), "name"),
        ExportColumn(gettext_lazy("证件号码"), "identity_number", kind=IDENTITY),
        ExportColumn(gettext_lazy("性别"), "get_sex_display"),
        ExportColumn(gettext_lazy("出生日期"), "birth_date", kind=DATE),
        ExportColumn(gettext_lazy("准驾车型"), "driving_licence_classes"),
        ExportColumn(gettext_lazy("注销情形（公安部令第162号第七十九条第一款第六项）"),
                     lambda p: workflows.ground_label(p.ground_kind)),
        ExportColumn(gettext_lazy("决定（责令）日期"), "ground_on", kind=DATE),
        ExportColumn(gettext_lazy("管控状态"), "get_status_display"),
        ExportColumn(gettext_lazy("居住地"), lambda p: _place(p.residence_division)),
        ExportColumn(gettext_lazy("居住地区划代码"), "residence_division.code", kind=CODE),
    ]

    def get_queryset(self, user, params=None):
        return workflows.licences_to_cancel(user)


class LicenceListView(WorkflowPage):
    template_name = "persons/workflow_licence_list.html"
    section = "licences"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        request, user = self.request, self.request.user
        cancelled = request.GET.get("tab") == "cancelled"
        rows = workflows.licences_cancelled(user) if cancelled else workflows.licences_to_cancel(user)
        page = page_of(request, rows)
        for p in page.object_list:
            p.ground = workflows.ground_label(getattr(p, "ground_kind", None))
        log_people(request, page.object_list)
        changeable = set(Person.objects.restrict(user, CHANGE).filter(pk__in=[p.pk for p in page.object_list])
                         .values_list("pk", flat=True))
        ctx.update(page=page, cancelled=cancelled, changeable=changeable, today=local_today())
        return ctx


class LicenceExportView(ExportView):
    exporter = LicenceExporter


class LicenceCancelView(PostAction):
    model = Person
    action = CHANGE

    def back_url(self):
        return reverse("persons:licence_list")

    def post(self, request, pk):
        person = get_object_or_404(Person.objects.restrict(request.user, CHANGE), pk=pk)
        form = LicenceCancelForm(request.POST)
        if not form.is_valid():
            messages.error(request, _("未保存：%(reason)s") % {"reason": form_error_text(form)})
            return self.back()
        d = form.cleaned_data
        run(request, lambda: services.record_licence_cancellation(
            user=request.user, person=person, cancelled_on=d["cancelled_on"], expected_version=d["version"],
            document_number=d["document_number"]), _("已记录驾驶证注销。"))
        return self.back()


# --- temporary access --------------------------------------------------------------------------

class AccessListView(WorkflowPage):
    model = TemporaryAccess
    template_name = "persons/workflow_access_list.html"
    section = "access"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        request, user = self.request, self.request.user
        mine = list(workflows.my_access_requests(user)[:50])
        for a in mine:
            a.active = access_services.is_active(a)
        to_decide = list(workflows.access_requests_to_decide(user))
        decided = page_of(request, workflows.access_decided_by_scope(user))
        for a in decided.object_list:
            a.active = access_services.is_active(a)
        log_people(request, [*to_decide, *decided.object_list], model=TemporaryAccess)
        ctx.update(mine=mine, to_decide=to_decide, page=decided, max_days=access_services.max_days(),
                   can_request=has_model_permission(user, TemporaryAccess, ADD),
                   form=kwargs.get("form") or AccessRequestForm())
        return ctx


class AccessRequestView(ScopedPermissionMixin, View):
    model = TemporaryAccess
    action = ADD
    http_method_names = ["post"]

    def post(self, request):
        form = AccessRequestForm(request.POST)
        if form.is_valid():
            try:
                services.request_temporary_access(user=request.user,
                                                  identity_number=form.cleaned_data["identity_number"],
                                                  reason=form.cleaned_data["reason"])
            except ValidationError as exc:
                service_errors_to_form(form, exc)
            else:
                messages.success(request, _("已提交临时查阅申请，等待审批。"))
                return HttpResponseRedirect(reverse("persons:access_list"))
        view = AccessListView()
        view.setup(request)
        return view.render_to_response(view.get_context_data(form=form))


class AccessDecideView(PostAction):
    model = TemporaryAccess
    action = VIEW

    def back_url(self):
        return reverse("persons:access_list")

    def post(self, request, pk):
        user = request.user
        cond = subtree_q(grant_roots(user, access_services.APPROVE_PERMISSION), "person__residence_division__path")
        reachable = Q(user=user) if cond is None else (Q(user=user) | cond)
        access = get_object_or_404(TemporaryAccess.objects.filter(reachable).select_related(
            "person__residence_division"), pk=pk)
        form = AccessDecisionForm(request.POST)
        if not form.is_valid():
            messages.error(request, _("未保存：%(reason)s") % {"reason": form_error_text(form)})
            return self.back()
        d = form.cleaned_data
        calls = {
            "approve": (lambda: services.approve_temporary_access(user=user, access=access, days=d["days"],
                                                                  expected_version=d.get("version")),
                        _("已批准临时查阅。")),
            "reject": (lambda: services.reject_temporary_access(user=user, access=access, reason=d["reason"],
                                                                expected_version=d.get("version")), _("已驳回。")),
            "revoke": (lambda: services.revoke_temporary_access(user=user, access=access, reason=d["reason"]),
                       _("已撤销临时查阅权限。")),
        }
        call, ok = calls[d["decision"]]
        run(request, call, ok)
        return self.back()

