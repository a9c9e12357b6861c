"""Temporary access (临时查阅) to a person outside the user's jurisdiction: requests,
approval, rejection and revocation."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views import View

from jindu.core.scope import ADD, VIEW, grant_roots, has_model_permission, subtree_q
from jindu.core.views.actions import RecordActionView, run_service
from jindu.core.views.mixins import ScopedPermissionMixin
from jindu.persons import services, workflows
from jindu.persons.forms_workflows import AccessDecisionForm, AccessRequestForm
from jindu.persons.models import TemporaryAccess
from jindu.persons.services import access as access_services
from jindu.persons.views import add_service_errors
from jindu.persons.views.workflows.base import WorkflowPage, log_people, page_of


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
    """Ask to see one person (by identity number); a refusal shows the list page again with
    the form and its errors."""

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
                add_service_errors(form, exc)
            else:
                messages.success(request, _("已提交临时查阅申请，等待审批。"))
                return HttpResponseRedirect(reverse("persons:access_list"))
        view = AccessListView()
        view.setup(request)
        return view.render_to_response(view.get_context_data(form=form))


class AccessDecideView(RecordActionView):
    """Approve or reject a request (approvers of the person's jurisdiction), or revoke one."""

    model = TemporaryAccess
    action = VIEW
    form_class = AccessDecisionForm

    def get_queryset(self):
        user = self.request.user
        cond = subtree_q(grant_roots(user, access_services.APPROVE_PERMISSION), "person__residence_division__path")
        reachable = Q(user=user) if cond is None else (Q(user=user) | cond)
        return TemporaryAccess.objects.filter(reachable).select_related("person__residence_division")

    def act(self, access, d):
        user = self.request.user
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
        return run_service(self.request, call, ok)

    def back_url(self, access, result=None):
        return reverse("persons:access_list")
