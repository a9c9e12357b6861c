"""Case-work forms on one person's file: contact or home visit, drug test, help given, the
individual plan, and the risk assessment. Each saves through :mod:`jindu.persons.services`
(which audits and recomputes what is due) and returns to ``?next=`` (the worklist the form
was opened from) or to the person's file.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.generic import FormView

from jindu.core.models import StaleEditError
from jindu.core.scope import ADD, CHANGE
from jindu.core.views.mixins import STALE_MESSAGE
from jindu.persons import risk, services
from jindu.persons.choices import ContactKind, EventKind, TestResult, Tier
from jindu.persons.forms import AssistanceForm, ContactForm, DrugTestForm, PlanForm, RiskAssessmentForm
from jindu.persons.models import Assistance, CasePlan, Contact, Event, RiskAssessment
from jindu.persons.services.casework import assessment_triggers, needs_reassessment, person_state
from jindu.persons.views import add_service_errors
from jindu.persons.views.persons import _PersonActionMixin

STATUS_LABELS = {
    "confirmed": gettext_lazy("已核实"),
    "reasoned_default": gettext_lazy("推理默认值"),
    "uncertain": gettext_lazy("未核实"),
}


class _CaseworkFormView(_PersonActionMixin, FormView):
    action = ADD
    title = ""
    anchor = ""

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx["title"] = self.title
        return ctx

    def save(self, form):  # pragma: no cover - abstract
        raise NotImplementedError

    def success(self, saved) -> str:  # pragma: no cover - abstract
        raise NotImplementedError

    def form_valid(self, form):
        try:
            saved = self.save(form)
        except StaleEditError as exc:
            form.add_error(None, STALE_MESSAGE % {"expected": exc.expected, "actual": exc.actual})
            return self.form_invalid(form)
        except ValidationError as exc:
            add_service_errors(form, exc)
            return self.form_invalid(form)
        except PermissionDenied:
            form.add_error(None, _("保存失败：该人员超出您的管辖范围。"))
            return self.form_invalid(form)
        return self.done(self.success(saved), self.anchor)


class ContactCreateView(_CaseworkFormView):
    """A contact: interview, home visit (``?kind=home_visit``), phone or video call."""

    model = Contact
    form_class = ContactForm
    template_name = "persons/casework_form.html"
    anchor = "#contacts"

    @property
    def title(self):
        return _("记录家访") if self.request.GET.get("kind") == ContactKind.HOME_VISIT else _("记录联系（谈话、家访）")

    def get_initial(self):
        kind = self.request.GET.get("kind")
        return {"kind": kind} if kind in ContactKind.values else {"kind": ContactKind.INTERVIEW}

    def save(self, form):
        return services.record_contact(user=self.request.user, person=self.person, data=form.cleaned_data)

    def success(self, saved):
        return _("已记录%(kind)s（%(date)s）。") % {"kind": saved.get_kind_display(), "date": saved.occurred_on}


class DrugTestCreateView(_CaseworkFormView):
    """A urinalysis or hair test (``?kind=hair_test``), recorded on the timeline."""

    model = Event
    form_class = DrugTestForm
    template_name = "persons/casework_form.html"
    anchor = "#tests"

    @property
    def title(self):
        return _("记录毛发检测") if self.request.GET.get("kind") == EventKind.HAIR_TEST else _("记录尿检")

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "user": self.request.user}

    def get_initial(self):
        kind = self.request.GET.get("kind")
        return {"kind": kind if kind in (EventKind.URINALYSIS, EventKind.HAIR_TEST) else EventKind.URINALYSIS}

    def save(self, form):
        data = {k: v for k, v in form.cleaned_data.items() if v not in (None, "")}
        return services.record_test(user=self.request.user, person=self.person, data=data)

    def success(self, saved):
        message = _("已记录%(kind)s：%(result)s（%(date)s）。") % {
            "kind": saved.get_kind_display(), "result": saved.get_result_display(), "date": saved.occurred_on}
        if needs_reassessment(saved):
            url = reverse("persons:risk_assess", args=[self.person.pk])
            trigger = "positive_test" if saved.result == TestResult.POSITIVE else "missed_test"
            message = format_html('{} {} <a href="{}?trigger={}">{}</a>', message,
                                  _("按评估量表，该结果需要重新评估风险。"), url, trigger, _("立即评估"))
        return message


class AssistanceCreateView(_CaseworkFormView):
    model = Assistance
    form_class = AssistanceForm
    template_name = "persons/casework_form.html"
    anchor = "#assistance"
    title = gettext_lazy("记录帮扶救助")

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "user": self.request.user}

    def save(self, form):
        return services.record_assistance(user=self.request.user, person=self.person, data=form.cleaned_data)

    def success(self, saved):
        return _("已记录帮扶：%(kind)s（%(date)s）。") % {"kind": saved.get_kind_display(), "date": saved.given_on}


class PlanCreateView(_CaseworkFormView):
    """A new individual plan; it replaces the active one (which stays in the file)."""

    model = CasePlan
    form_class = PlanForm
    template_name = "persons/casework_form.html"
    anchor = "#plan"
    title = gettext_lazy("制定帮扶计划（一人一策）")

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "user": self.request.user, "person": self.person}

    def get_initial(self):
        current = self.person.plans.filter(is_active=True).order_by("-starts_on", "-pk").first()
        if current is None:
            return {}
        # Reviewing a plan usually keeps most of it: start from the current text.
        return {"goals": current.goals, "measures": current.measures,
                "responsible_worker": current.responsible_worker_id}

    def save(self, form):
        data = {k: v for k, v in form.cleaned_data.items() if k != "version"}
        return services.save_plan(user=self.request.user, person=self.person, data=data)

    def success(self, saved):
        return _("已保存帮扶计划，回顾日期 %(date)s。") % {"date": saved.review_on}


class PlanUpdateView(_CaseworkFormView):
    model = CasePlan
    action = CHANGE
    form_class = PlanForm
    template_name = "persons/casework_form.html"
    anchor = "#plan"
    title = gettext_lazy("修改帮扶计划")

    def get_plan(self) -> CasePlan:
        if not hasattr(self, "_plan"):
            self._plan = get_object_or_404(CasePlan.objects.filter(person=self.person), pk=self.kwargs["plan_pk"])
        return self._plan

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "user": self.request.user, "person": self.person,
                "instance": self.get_plan()}

    def save(self, form):
        data = {k: v for k, v in form.cleaned_data.items() if k != "version"}
        return services.save_plan(user=self.request.user, person=self.person, data=data, plan=self.get_plan(),
                                  expected_version=form.cleaned_data["version"])

    def success(self, saved):
        return _("已保存帮扶计划，回顾日期 %(date)s。") % {"date": saved.review_on}


class RiskAssessView(_CaseworkFormView):
    """A risk assessment with the default instrument: answers pre-filled from the timeline
    (``risk.derive_answers``), each answer's points and each configured value's status
    (confirmed / reasoned default / unverified) shown, the overrides the timeline forces
    listed, and a manual tier with a reason."""

    model = RiskAssessment
    form_class = RiskAssessmentForm
    template_name = "persons/risk_form.html"
    anchor = "#assessments"
    title = gettext_lazy("风险评估")

    def setup(self, request, *args, **kwargs):
        super().setup(request, *args, **kwargs)
        self.instrument = risk.Instrument.load_default()

    def prefill(self):
        if not hasattr(self, "_prefill"):
            state, events = person_state(self.person)
            self._prefill = (state, risk.derive_answers(state, state.as_of, events=events, instrument=self.instrument))
        return self._prefill

    def get_form_kwargs(self):
        _state, derived = self.prefill()
        return {**super().get_form_kwargs(), "instrument": self.instrument, "triggers": assessment_triggers(),
                "derived": derived}

    def get_initial(self):
        trigger = self.request.GET.get("trigger")
        if trigger not in dict(assessment_triggers()):
            trigger = "periodic" if self.person.assessments.exists() else "entry"
        return {"trigger": trigger}

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        form = ctx["form"]
        state, derived = self.prefill()
        items = []
        for item in self.instrument.items:
            field = form[f"item_{item.code}"]
            items.append({
                "item": item, "field": field, "value": field.value(),
                "factor_status": STATUS_LABELS.get(item.factor.status, item.factor.status),
                "derived": derived.get(item.code), "derived_reason": derived.reasons.get(item.code, ""),
                "answers": [{"answer": a, "status": a.status, "status_label": STATUS_LABELS.get(a.status, a.status)}
                            for a in item.answers],
            })
        flags = [{"flag": f, "field": form[f"flag_{f.code}"], "value": form[f"flag_{f.code}"].value(),
                  "status_label": STATUS_LABELS.get(f.status, f.status)} for f in self.instrument.flags]
        thresholds = [{"tier": t, "value": s.value, "basis": s.basis, "status": s.status,
                       "status_label": STATUS_LABELS.get(s.status, s.status)}
                      for t, s in self.instrument.thresholds.items()]
        ctx.update(
            instrument=self.instrument, items=items, flags=flags, thresholds=thresholds,
            state=state, forced=risk.state_overrides(self.instrument, state),
            c2=risk.c2_eligibility(self.instrument, state),
            status_labels=STATUS_LABELS,
            unverified=sum(1 for v in self.instrument.provenance() if not v.verified),
            score_config_data={
                "thresholds": {t: int(s.value) for t, s in self.instrument.thresholds.items()},
                "groups": {g.code: g.cap for g in self.instrument.groups},
                "items": {i.code: i.group for i in self.instrument.items},
            },
            current_tier=self.person.tier,
        )
        return ctx

    def save(self, form):
        try:
            return services.assess_risk(
                user=self.request.user, person=self.person, assessed_on=form.cleaned_data["assessed_on"],
                answers=form.answers(), trigger=form.cleaned_data["trigger"],
                tier=form.cleaned_data["tier"] or None, override_reason=form.cleaned_data["override_reason"])
        except ValidationError as exc:
            if hasattr(exc, "error_dict") and "answers" in exc.error_dict:
                raise ValidationError({"__all__": exc.message_dict["answers"]}) from None
            raise

    def success(self, saved):
        message = _("评估完成：总分 %(score)s，计算等级 %(computed)s，评定等级 %(tier)s。") % {
            "score": saved.score, "computed": Tier(saved.computed_tier).label, "tier": Tier(saved.tier).label}
        if saved.tier != saved.computed_tier:
            message += " " + _("人工调整已记入审计日志。")
        return message
