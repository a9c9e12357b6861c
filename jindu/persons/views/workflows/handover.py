"""Handover on release (出所衔接): the list (open, escalations, closed, monthly rates), the
release notice that opens a handover, its page and the steps recorded on it."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.generic import DetailView

from jindu.core.models import AccessLog
from jindu.core.scope import ADD, CHANGE, VIEW, has_model_permission
from jindu.core.timeutils import local_today, month_period, parse_period
from jindu.core.views.actions import RecordActionView, run_service
from jindu.core.views.mixins import AccessLogMixin, ScopedObjectMixin, ScopedPermissionMixin
from jindu.geo.models import Division
from jindu.persons import services, workflows
from jindu.persons.choices import HandoverStatus
from jindu.persons.forms_workflows import HandoverStepForm, ReleaseNoticeForm
from jindu.persons.models import Handover, Person
from jindu.persons.services.handover import notice_warning
from jindu.persons.views.workflows.base import (
    NavMixin, PersonFromQueryMixin, ServiceFormView, WorkflowPage, chosen_tab, log_people, page_of,
)


class HandoverListView(WorkflowPage):
    model = Handover
    template_name = "persons/workflow_handover_list.html"
    section = "handover"
    TABS = ("open", "escalation", "closed", "rates")

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        user, request = self.request.user, self.request
        tab = chosen_tab(request, self.TABS)
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


class HandoverCreateView(ScopedPermissionMixin, PersonFromQueryMixin, ServiceFormView):
    """Record a facility's release notice (opens the handover)."""

    model = Handover
    action = ADD
    form_class = ReleaseNoticeForm
    template_name = "persons/workflow_handover_form.html"
    section = "handover"
    success_message = gettext_lazy("已登记出所通知。")

    def save(self, form):
        data = form.cleaned_data
        return services.record_release_notice(
            user=self.request.user, person=form.person, facility=data["facility"],
            notice_received_on=data["notice_received_on"], expected_release_on=data["expected_release_on"],
            notes=data["notes"])

    def saved(self, handover):
        super().saved(handover)
        warning = notice_warning(handover)
        if warning:
            messages.warning(self.request, warning)

    def get_success_url(self):
        return reverse("persons:handover_detail", args=[self.object.pk])


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


class HandoverStepView(RecordActionView):
    """Record the next step (``step``: pickup, report, agreement) or the failure of a handover."""

    model = Handover
    action = CHANGE

    def get_form(self, handover):
        self.step = self.request.POST.get("step", "")
        if self.step not in HandoverStepForm.STEP_FIELDS:
            raise Http404
        return HandoverStepForm(self.request.POST, step=self.step, handover=handover)

    def act(self, handover, d):
        user, version = self.request.user, d["version"]
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
        return run_service(self.request, calls[self.step], _("已保存。"))

    def back_url(self, handover, result=None):
        return reverse("persons:handover_detail", args=[handover.pk])
