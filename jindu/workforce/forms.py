"""Forms of the workforce pages: choice lists are limited to what the user may see or use."""

from __future__ import annotations

from django import forms
from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _

from jindu.core.scope import VIEW
from jindu.core.timeutils import local_today
from jindu.core.views.mixins import VersionField, divisions_where
from jindu.geo.choices import Level
from jindu.geo.forms import DivisionChoiceField
from jindu.workforce.choices import IN_POST_STATUSES, LeavingKind, RenewalDecision
from jindu.workforce.conf import workforce_settings
from jindu.workforce.models import ContractPeriod, Meeting, Team, TrainingRecord, Worker

DATE = forms.DateInput(attrs={"type": "date", "class": "form-control"})


class _Bootstrap:
    def _style(self):
        for field in self.fields.values():
            widget = field.widget
            if isinstance(widget, (forms.CheckboxInput,)):
                widget.attrs.setdefault("class", "form-check-input")
            elif isinstance(widget, (forms.Select, forms.SelectMultiple)):
                widget.attrs.setdefault("class", "form-select")
            elif not isinstance(widget, forms.HiddenInput):
                widget.attrs.setdefault("class", "form-control")


class TeamForm(_Bootstrap, forms.ModelForm):
    version = VersionField(required=False)

    class Meta:
        model = Team
        fields = ["name", "kind", "parent", "division", "leader", "is_active"]
        field_classes = {"division": DivisionChoiceField}

    def __init__(self, *args, user=None, action="add", **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["division"].queryset = divisions_where(user, Team, action).filter(
            level__in=(Level.DISTRICT, Level.TOWN)).order_by("code")
        self.fields["parent"].queryset = Team.objects.restrict(user, VIEW).order_by("division__code", "name")
        leaders = Worker.objects.restrict(user, VIEW).filter(status__in=IN_POST_STATUSES)
        self.fields["leader"].queryset = leaders.filter(team=self.instance) if self.instance.pk else leaders.none()
        if self.instance.pk:
            self.fields["version"].initial = self.instance.version
            self.fields["version"].required = True
        else:
            del self.fields["leader"]
        self._style()


class WorkerForm(_Bootstrap, forms.ModelForm):
    """Recruitment: the worker's existing account, team, position, dates, first contract."""

    contract_ends_on = forms.DateField(label=_("首个合同截止日期"), required=False, widget=DATE,
                                       help_text=_("填写后自动建立自入职日期起的首个合同期。"))

    class Meta:
        model = Worker
        fields = ["user", "name", "phone", "team", "position", "recruited_on", "probation_ends_on", "notes"]
        widgets = {"recruited_on": DATE, "probation_ends_on": DATE, "notes": forms.Textarea(attrs={"rows": 2})}

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        User = get_user_model()
        self.fields["user"].queryset = (User.objects.restrict(user, VIEW).filter(social_worker__isnull=True,
                                                                                  is_active=True).order_by("username"))
        self.fields["user"].label_from_instance = lambda u: f"{u}（{u.username}）"
        self.fields["team"].queryset = Team.objects.restrict(user, "add").filter(is_active=True).order_by(
            "division__code", "name")
        self.fields["recruited_on"].initial = local_today()
        self._style()


class WorkerEditForm(_Bootstrap, forms.ModelForm):
    version = VersionField()

    class Meta:
        model = Worker
        fields = ["name", "phone", "team", "position", "probation_ends_on", "notes"]
        widgets = {"probation_ends_on": DATE, "notes": forms.Textarea(attrs={"rows": 2})}

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["team"].queryset = Team.objects.restrict(user, VIEW).filter(is_active=True).order_by(
            "division__code", "name")
        self.fields["version"].initial = self.instance.version
        self._style()


class ConfirmForm(_Bootstrap, forms.Form):
    on = forms.DateField(label=_("转正日期"), widget=DATE)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["on"].initial = local_today()
        self._style()


class LeaveForm(_Bootstrap, forms.Form):
    kind = forms.ChoiceField(label=_("离职方式"), choices=LeavingKind.choices)
    on = forms.DateField(label=_("离职日期"), widget=DATE)
    reason = forms.CharField(label=_("离职原因"), widget=forms.Textarea(attrs={"rows": 2}), max_length=1000)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["on"].initial = local_today()
        self._style()


class ContractForm(_Bootstrap, forms.ModelForm):
    class Meta:
        model = ContractPeriod
        fields = ["starts_on", "ends_on", "note"]
        widgets = {"starts_on": DATE, "ends_on": DATE}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._style()


class TrainingForm(_Bootstrap, forms.ModelForm):
    class Meta:
        model = TrainingRecord
        fields = ["course", "provider", "started_on", "duration_h", "certificate"]
        widgets = {"started_on": DATE}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._style()


class MeetingForm(_Bootstrap, forms.ModelForm):
    class Meta:
        model = Meeting
        fields = ["team", "kind", "held_on", "place", "attendees", "minutes"]
        widgets = {"held_on": DATE, "minutes": forms.Textarea(attrs={"rows": 6}),
                   "attendees": forms.SelectMultiple(attrs={"size": 10})}

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["team"].queryset = Team.objects.restrict(user, "add").filter(is_active=True).order_by(
            "division__code", "name")
        self.fields["attendees"].queryset = (Worker.objects.restrict(user, VIEW).filter(status__in=IN_POST_STATUSES)
                                             .select_related("team").order_by("team__name", "name"))
        self.fields["attendees"].label_from_instance = lambda w: f"{w.name}（{w.team.name}）"
        self.fields["held_on"].initial = local_today()
        self._style()


class AssignForm(_Bootstrap, forms.Form):
    worker = forms.ModelChoiceField(label=_("责任社工"), queryset=Worker.objects.none())
    persons = forms.TypedMultipleChoiceField(label=_("人员"), coerce=int, choices=())
    reason = forms.CharField(label=_("说明"), required=False, max_length=500)

    def __init__(self, *args, workers=None, person_ids=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["worker"].queryset = workers if workers is not None else Worker.objects.none()
        self.fields["worker"].label_from_instance = lambda w: w.name
        self.fields["persons"].choices = [(i, i) for i in person_ids]
        self.fields["persons"].error_messages["required"] = _("请至少勾选一名人员。")
        self._style()


class AppraisalComputeForm(_Bootstrap, forms.Form):
    period_label = forms.CharField(label=_("考核期间"), max_length=20,
                                   help_text=_("如 2025（年度）、2025-Q2（季度）、2025-06（月度）。"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["period_label"].initial = str(local_today().year)
        self._style()


MARK_LABELS = {"attitude": _("工作态度"), "teamwork": _("团队协作"), "learning": _("学习培训")}


class MarksForm(_Bootstrap, forms.Form):
    version = VersionField()

    def __init__(self, *args, appraisal=None, **kwargs):
        super().__init__(*args, **kwargs)
        for code, top in workforce_settings()["marks"].items():
            self.fields[code] = forms.DecimalField(label=f"{MARK_LABELS.get(code, code)}（0–{top}）", min_value=0,
                                                   max_value=top, decimal_places=1, max_digits=4)
            if appraisal is not None and code in (appraisal.supervisor_marks or {}):
                self.fields[code].initial = appraisal.supervisor_marks[code]
        if appraisal is not None:
            self.fields["version"].initial = appraisal.version
        self._style()

    def marks(self) -> dict:
        return {k: v for k, v in self.cleaned_data.items() if k != "version"}


class DecisionForm(_Bootstrap, forms.Form):
    decision = forms.ChoiceField(label=_("续聘决定"), choices=[(RenewalDecision.RENEW, RenewalDecision.RENEW.label),
                                                                (RenewalDecision.NOT_RENEW,
                                                                 RenewalDecision.NOT_RENEW.label)])
    reason = forms.CharField(label=_("理由"), required=False, widget=forms.Textarea(attrs={"rows": 2}),
                             max_length=1000)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._style()
