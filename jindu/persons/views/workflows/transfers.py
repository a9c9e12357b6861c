"""Transfers of a person's management to another jurisdiction (转移): incoming and outgoing
requests, the request form, and accepting, returning or withdrawing a request."""

from __future__ import annotations

from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from jindu.core.scope import ADD, VIEW, has_model_permission
from jindu.core.views.actions import RecordActionView, run_service
from jindu.core.views.mixins import ScopedPermissionMixin
from jindu.persons import services, workflows
from jindu.persons.forms_workflows import TransferDecisionForm, TransferRequestForm
from jindu.persons.models import Person, Transfer
from jindu.persons.views.workflows.base import (
    PersonFromQueryMixin, ServiceFormView, WorkflowPage, log_people, page_of,
)


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


class TransferCreateView(ScopedPermissionMixin, PersonFromQueryMixin, ServiceFormView):
    model = Transfer
    action = ADD
    form_class = TransferRequestForm
    template_name = "persons/workflow_transfer_form.html"
    section = "transfers"
    success_message = gettext_lazy("已提交转移申请，等待接收地处理。")

    def save(self, form):
        data = form.cleaned_data
        return services.request_transfer(user=self.request.user, person=form.person, to_division=data["to_division"],
                                         reason=data["reason"], new_address=data["new_address"])

    def get_success_url(self):
        return reverse("persons:transfer_list")


class TransferDecideView(RecordActionView):
    """Accept or return an incoming request, or withdraw an outgoing one (``decision``)."""

    model = Transfer
    action = VIEW
    form_class = TransferDecisionForm

    def get_queryset(self):
        return workflows.transfers(self.request.user)

    def act(self, transfer, d):
        user, version = self.request.user, d.get("version")
        calls = {
            "accept": (lambda: services.accept_transfer(user=user, transfer=transfer, expected_version=version,
                                                        note=d["reason"]), _("已接收，该人员已转入本辖区。")),
            "reject": (lambda: services.reject_transfer(user=user, transfer=transfer, reason=d["reason"],
                                                        expected_version=version), _("已退回。")),
            "cancel": (lambda: services.cancel_transfer(user=user, transfer=transfer, reason=d["reason"],
                                                        expected_version=version), _("已撤销转移申请。")),
        }
        call, ok = calls[d["decision"]]
        return run_service(self.request, call, ok)

    def back_url(self, transfer, result=None):
        return reverse("persons:transfer_list")
