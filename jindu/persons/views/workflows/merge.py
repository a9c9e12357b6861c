"""Merge proposals (疑似重复人员): the list of proposals and the city office's decision."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.generic import TemplateView

from jindu.core.scope import VIEW, grant_roots
from jindu.core.views.actions import RecordActionView, run_service
from jindu.core.views.mixins import ScopedPermissionMixin
from jindu.persons import services, workflows
from jindu.persons.choices import ProposalStatus
from jindu.persons.forms_workflows import MergeDecisionForm
from jindu.persons.models import MergeProposal
from jindu.persons.services import merge as merge_services
from jindu.persons.views.workflows.base import NavMixin, log_people, page_of


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


class MergeDecideView(MergePermissionMixin, RecordActionView):
    """Accept a proposal (keeping either record) or reject it."""

    model = MergeProposal
    action = VIEW
    form_class = MergeDecisionForm

    def get_queryset(self):
        return workflows.merge_proposals(self.request.user, None)

    def act(self, proposal, d):
        user = self.request.user
        if d["decision"] == "accept":
            keep = proposal.duplicate if d.get("keep") == "duplicate" else proposal.keep
            return run_service(self.request, lambda: services.accept_merge(
                user=user, proposal=proposal, keep=keep, reason=d["reason"], expected_version=d.get("version")),
                _("已合并，全部记录已归入保留人员。"))
        return run_service(self.request, lambda: services.reject_merge(
            user=user, proposal=proposal, reason=d["reason"], expected_version=d.get("version")), _("已驳回。"))

    def back_url(self, proposal, result=None):
        return reverse("persons:merge_list")
