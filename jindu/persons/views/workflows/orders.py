"""Community measures (社区戒毒（康复）): reporting deadlines, agreements, serious breaches with
the proposal of compulsory isolated rehabilitation, and completion of the measure."""

from __future__ import annotations

from django.urls import reverse
from django.utils.translation import gettext as _

from jindu.core.scope import CHANGE
from jindu.core.timeutils import local_today
from jindu.core.views.actions import RecordActionView, run_service
from jindu.persons import services, workflows
from jindu.persons.forms_workflows import CompletionForm, ProposalForm
from jindu.persons.models import Person
from jindu.persons.views.workflows.base import WorkflowPage, changeable_ids, chosen_tab, log_people, page_of


class OrderListView(WorkflowPage):
    """社区戒毒（康复）: reporting deadlines, agreements, serious breaches, completion notices."""

    template_name = "persons/workflow_order_list.html"
    section = "orders"
    TABS = ("reporting", "agreement", "breach", "completion")

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        request, user = self.request, self.request.user
        tab = chosen_tab(request, self.TABS)
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
        ctx.update(tab=tab, page=page, changeable=changeable_ids(user, page.object_list), proposal_form=ProposalForm(),
                   completion_form=CompletionForm(), today=local_today(),
                   window_days=workflows.COMPLETION_WINDOW_DAYS)
        return ctx


class _OrderAction(RecordActionView):
    """An action on one person under a community measure; back to the list's ``tab``."""

    model = Person
    action = CHANGE
    tab = ""

    def back_url(self, person, result=None):
        return reverse("persons:order_list") + f"?tab={self.tab}"


class BreachProposeView(_OrderAction):
    form_class = ProposalForm
    tab = "breach"

    def act(self, person, d):
        return run_service(self.request, lambda: services.propose_isolation(
            user=self.request.user, person=person, note=d["note"], document_number=d["document_number"]),
            _("已记录向公安机关提请强制隔离戒毒。"))


class CompletionRecordView(_OrderAction):
    form_class = CompletionForm
    tab = "completion"

    def act(self, person, d):
        return run_service(self.request, lambda: services.record_measure_completed(
            user=self.request.user, person=person, completed_on=d["completed_on"],
            document_number=d["document_number"]), _("已记录期满解除。"))
