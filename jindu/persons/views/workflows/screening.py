"""Rolling screening (滚动排查): rounds, one round's results, recording a result, a person
newly found during the round, and closing it."""

from __future__ import annotations

from django.db.models import Count, Q
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.generic import DetailView

from jindu.core.scope import ADD, CHANGE, has_model_permission
from jindu.core.views.actions import RecordActionView, run_service
from jindu.core.views.mixins import ScopedObjectMixin, ScopedPermissionMixin
from jindu.persons import services, workflows
from jindu.persons.choices import ScreeningOutcome
from jindu.persons.forms_workflows import NewlyFoundForm, ScreeningOpenForm, ScreeningResultForm
from jindu.persons.models import Person, ScreeningResult, ScreeningRound
from jindu.persons.services.screening import round_counts
from jindu.persons.views.workflows.base import NavMixin, ServiceFormView, WorkflowPage, log_people, page_of


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


class ScreeningCreateView(RecordActionView):
    """Open a round (no ``pk``); on success go to the new round's page."""

    model = ScreeningRound
    action = ADD

    def get_object(self):
        return None

    def get_form(self, obj):
        return ScreeningOpenForm(self.request.POST, user=self.request.user)

    def act(self, obj, d):
        return run_service(self.request, lambda: services.open_screening_round(
            user=self.request.user, division=d["division"], title=d["title"], due_on=d["due_on"]),
            lambda r: _("已开始滚动排查，列入 %(n)s 人。") % {"n": r.results.count()})

    def back_url(self, obj, screening_round=None):
        if screening_round:
            return reverse("persons:screening_detail", args=[screening_round.pk])
        return reverse("persons:screening_list")


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


class ScreeningResultView(ScopedPermissionMixin, ServiceFormView):
    """Record what the check of one person on the round's list found."""

    model = ScreeningResult
    action = CHANGE
    form_class = ScreeningResultForm
    template_name = "persons/workflow_screening_result.html"
    section = "screening"
    success_message = gettext_lazy("已记录核查结果。")

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated:
            self.result = get_object_or_404(
                ScreeningResult.objects.restrict(request.user, CHANGE).select_related("round", "person"),
                pk=kwargs["pk"])
        return super().dispatch(request, *args, **kwargs)

    def get_initial(self):
        return {"version": self.result.version}

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), "result": self.result}

    def save(self, form):
        d = form.cleaned_data
        return services.record_screening_result(
            user=self.request.user, result=self.result, outcome=d["outcome"], checked_on=d["checked_on"],
            notes=d["notes"], died_on=d["died_on"], to_division=d["to_division"], expected_version=d["version"])

    def refusal_text(self, exc):
        return str(exc) or _("超出您的管辖范围，未保存。")

    def get_success_url(self):
        return reverse("persons:screening_detail", args=[self.result.round_id])


class _RoundAction(RecordActionView):
    """An action on an open round (``pk``) in the user's change scope; back to its page."""

    def get_queryset(self):
        return ScreeningRound.objects.restrict(self.request.user, CHANGE)

    def back_url(self, screening_round, result=None):
        return reverse("persons:screening_detail", args=[screening_round.pk])


class ScreeningNewPersonView(_RoundAction):
    """Register a person found during the round who is not in the registry yet."""

    model = Person
    action = ADD

    def get_form(self, screening_round):
        return NewlyFoundForm(self.request.POST, screening_round=screening_round)

    def act(self, screening_round, d):
        return run_service(self.request, lambda: services.record_newly_found(
            user=self.request.user, screening_round=screening_round, data=self.form.person_data(),
            checked_on=d["checked_on"], notes=d["notes"]), _("已登记新发现人员。"))


class ScreeningCloseView(_RoundAction):
    model = ScreeningRound
    action = CHANGE

    def act(self, screening_round, d):
        return run_service(self.request, lambda: services.close_screening_round(
            user=self.request.user, screening_round=screening_round),
            lambda c: _("排查已完成：共 %(total)s 人，已核查 %(checked)s 人，未核查 %(unchecked)s 人。") % c)
