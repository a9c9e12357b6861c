"""Forms of the registry pages and the case work. Choices offered are limited to what the user
may use (divisions where they may add people, units and workers they may see); the services
re-check everything on save."""

from __future__ import annotations

from django import forms
from django.contrib.auth import get_user_model
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from jindu.core.idnumbers import may_view_identity_number
from jindu.core.scope import ADD, VIEW
from jindu.core.timeutils import local_today
from jindu.core.views.mixins import VersionField, divisions_where
from jindu.geo.choices import Level
from jindu.geo.forms import DivisionChoiceField
from jindu.geo.models import Division
from jindu.org.models import Unit
from jindu.persons.choices import AssistanceKind, ContactKind, EventKind, EventSource, Sex, TestResult, Tier
from jindu.persons.models import Assistance, CasePlan, Contact, Event, Person
from jindu.persons.services.registry import PERSON_FIELDS
from jindu.substances.models import Substance

DATE_WIDGET = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


def style(form: forms.BaseForm) -> None:
    for field in form.fields.values():
        widget = field.widget
        if isinstance(widget, (forms.CheckboxInput, forms.RadioSelect, forms.CheckboxSelectMultiple)):
            widget.attrs.setdefault("class", "form-check-input")
        elif isinstance(widget, forms.Select):
            widget.attrs.setdefault("class", "form-select")
        elif not isinstance(widget, forms.HiddenInput):
            widget.attrs.setdefault("class", "form-control")


class WorkerChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return obj.full_name or obj.username


def substances_for(user):
    """Substances offered in forms and filters: those seen in street cases plus any already
    recorded for someone (the full list has 527 rows)."""
    used = Person.drugs.through.objects.values("substance_id")
    return (Substance.objects.restrict(user, VIEW).filter(Q(street_relevant=True) | Q(pk__in=used))
            .order_by("-street_relevant", "name_zh"))


def workers_for(user, division: Division | None = None, keep: int | None = None):
    """Users who may be put in charge of people: holders of an assigned-only role (the
    drug-control social workers) in a division at or above ``division`` (or anywhere in the
    user's scope), plus the acting user and the user with pk ``keep`` (the current value)."""
    User = get_user_model()
    if division is not None:
        prefixes = [division.path[: i + 1] for i, ch in enumerate(division.path) if ch == "/"]
        places = Q(role_assignments__division__path__in=prefixes)
    else:
        visible = Division.objects.restrict(user, VIEW).values("pk")
        places = Q(role_assignments__division__in=visible)
    q = Q(role_assignments__role__assigned_only=True) & places
    if getattr(user, "pk", None):
        q |= Q(pk=user.pk)
    if keep is not None:
        q |= Q(pk=keep)
    return User.objects.filter(q, is_active=True).distinct().order_by("full_name", "username")


class PersonForm(forms.ModelForm):
    """Register a person (``action="add"``) or edit one (``"change"``: the residence village
    moves only by transfer, so it is not offered; the identity number is offered only to users
    who may see it in full, otherwise it is kept as is)."""

    version = VersionField(required=False)

    class Meta:
        model = Person
        fields = [*PERSON_FIELDS, "drugs"]
        field_classes = {"residence_division": DivisionChoiceField, "household_division": DivisionChoiceField}
        widgets = {"birth_date": DATE_WIDGET, "registered_on": DATE_WIDGET,
                   "drugs": forms.SelectMultiple(attrs={"size": 8})}
        help_texts = {
            "identity_number": _("居民身份证可输入 18 位或 15 位号码，全角数字、小写 x 均可。"),
            "birth_date": _("居民身份证号码自动得出出生日期和性别，可不填。"),
            "residence_division": _("居住地村（社区）决定管辖范围。"),
        }

    def __init__(self, *args, user, action: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        places = divisions_where(user, Person, ADD).filter(level__in=[Level.VILLAGE, Level.GRID])
        places = places.select_related("parent").order_by("path")
        self.fields["residence_division"].queryset = places
        # Current values stay valid choices even when outside what the user could pick now
        # (recorded by another office): an edit of other fields must not fail on them.
        self.fields["household_division"].queryset = (
            Division.objects.filter(Q(pk__in=places.values("pk")) | Q(pk=self.instance.household_division_id))
            .select_related("parent").order_by("path"))
        self.fields["household_division"].required = False
        self.fields["registering_unit"].queryset = Unit.objects.filter(
            Q(pk__in=Unit.objects.restrict(user, VIEW).values("pk")) | Q(pk=self.instance.registering_unit_id)
        ).order_by("name")
        self.fields["drugs"].queryset = substances_for(user)
        self.fields["drugs"].required = False
        self.fields["sex"].required = False
        self.fields["registered_on"].required = False
        self.fields["registered_on"].initial = local_today()
        if self.instance.pk:
            del self.fields["residence_division"]
            self.fields["version"].required = True
            self.initial.setdefault("version", self.instance.version)
            if not may_view_identity_number(user, self.instance.residence_division):
                # The form would otherwise send the full number to someone who may not see it.
                del self.fields["identity_number"]
                del self.fields["document_type"]
        style(self)

    def clean_sex(self):
        return self.cleaned_data.get("sex") or Sex.UNKNOWN

    def service_data(self) -> dict:
        return {k: v for k, v in self.cleaned_data.items() if k in PERSON_FIELDS}


class EventForm(forms.ModelForm):
    """One timeline event (a correction has its own form: it names the record it voids)."""

    class Meta:
        model = Event
        fields = ["kind", "occurred_on", "source", "document_number", "result", "substance", "term_months", "days",
                  "approved", "notes"]
        widgets = {"occurred_on": DATE_WIDGET, "notes": forms.Textarea(attrs={"rows": 3})}
        help_texts = {
            "result": _("仅尿检、毛发检测填写。"),
            "term_months": _("责令社区康复写明期限的、延长强制隔离戒毒的月数。"),
            "days": _("离开县（市、区）的天数。"),
            "approved": _("离开县（市、区）是否经批准或报告。"),
        }

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["kind"].choices = [c for c in EventKind.choices if c[0] != EventKind.CORRECTION]
        self.fields["substance"].queryset = substances_for(user)
        self.fields["approved"] = forms.NullBooleanField(
            label=_("已批准（报告）"), required=False, help_text=self.Meta.help_texts["approved"],
            widget=forms.NullBooleanSelect)
        self.fields["occurred_on"].initial = local_today()
        style(self)


class CorrectionForm(forms.Form):
    reason = forms.CharField(label=_("更正理由"), widget=forms.Textarea(attrs={"rows": 3}), max_length=2000,
                             error_messages={"required": _("请填写更正理由")})

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        style(self)


class ContactForm(forms.ModelForm):
    class Meta:
        model = Contact
        fields = ["kind", "occurred_on", "place", "notes"]
        widgets = {"occurred_on": DATE_WIDGET, "notes": forms.Textarea(attrs={"rows": 4})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["kind"].choices = ContactKind.choices
        self.fields["occurred_on"].initial = local_today()
        style(self)


class DrugTestForm(forms.ModelForm):
    """A urinalysis or hair test, recorded as a timeline event."""

    class Meta:
        model = Event
        fields = ["kind", "occurred_on", "result", "substance", "source", "document_number", "notes"]
        widgets = {"occurred_on": DATE_WIDGET, "notes": forms.Textarea(attrs={"rows": 3})}
        labels = {"occurred_on": _("检测日期"), "kind": _("检测类型"), "document_number": _("检测编号")}
        help_texts = {"substance": _("阳性时填写检出物质。")}

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["kind"].choices = [(EventKind.URINALYSIS, EventKind.URINALYSIS.label),
                                       (EventKind.HAIR_TEST, EventKind.HAIR_TEST.label)]
        self.fields["result"].choices = [("", "---------"), *TestResult.choices]
        self.fields["result"].required = True
        self.fields["result"].error_messages["required"] = _("请填写检测结果")
        self.fields["substance"].queryset = substances_for(user)
        self.fields["source"].initial = EventSource.SOCIAL_WORKER
        self.fields["occurred_on"].initial = local_today()
        style(self)


class AssistanceForm(forms.ModelForm):
    class Meta:
        model = Assistance
        fields = ["kind", "given_on", "amount_yuan", "job_found", "provider", "description"]
        widgets = {"given_on": DATE_WIDGET, "description": forms.Textarea(attrs={"rows": 3})}
        help_texts = {"job_found": _("通过本次帮扶实现就业的请勾选（计入“实现就业人数”）。"),
                      "amount_yuan": _("发放资金或物资折合金额，单位：元，可不填。")}

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["kind"].choices = AssistanceKind.choices
        self.fields["provider"].queryset = Unit.objects.restrict(user, VIEW).order_by("name")
        self.fields["amount_yuan"].min_value = 0
        self.fields["given_on"].initial = local_today()
        style(self)


class PlanForm(forms.ModelForm):
    """The individual plan (一人一策); editing carries the version it was loaded with."""

    version = VersionField(required=False)

    class Meta:
        model = CasePlan
        fields = ["goals", "measures", "responsible_worker", "starts_on", "review_on"]
        field_classes = {"responsible_worker": WorkerChoiceField}
        widgets = {"starts_on": DATE_WIDGET, "review_on": DATE_WIDGET,
                   "goals": forms.Textarea(attrs={"rows": 3}), "measures": forms.Textarea(attrs={"rows": 4})}
        help_texts = {"review_on": _("到期前列入“帮扶计划回顾”待办。")}

    def __init__(self, *args, user, person: Person, **kwargs):
        super().__init__(*args, **kwargs)
        current = self.instance.responsible_worker_id if self.instance.pk else None
        self.fields["responsible_worker"].queryset = workers_for(user, person.residence_division, keep=current)
        self.fields["responsible_worker"].required = True
        self.fields["starts_on"].initial = local_today()
        if self.instance.pk:
            self.fields["version"].required = True
            self.initial.setdefault("version", self.instance.version)
        else:
            self.fields["responsible_worker"].initial = person.assigned_worker_id or getattr(user, "pk", None)
        style(self)


class AssignWorkerForm(forms.Form):
    worker = WorkerChoiceField(label=_("责任社工"), queryset=Person.objects.none(), required=False,
                               empty_label=_("（不指定）"))
    reason = forms.CharField(label=_("原因"), max_length=500, required=False)

    def __init__(self, *args, user, person: Person, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["worker"].queryset = workers_for(user, person.residence_division, keep=person.assigned_worker_id)
        self.fields["worker"].initial = person.assigned_worker_id
        style(self)


TIER_CHOICES = [("", _("按计算结果")), *Tier.choices]


class RiskAssessmentForm(forms.Form):
    """A risk assessment with the default instrument: one required choice per item and per
    safety flag (pre-filled from the timeline by ``risk.derive_answers``), the trigger, and an
    optional final tier that differs from the computed one (then a reason is required: the
    service says so naming the field)."""

    assessed_on = forms.DateField(label=_("评估日期"), widget=DATE_WIDGET)
    trigger = forms.ChoiceField(label=_("评估原因"))
    tier = forms.ChoiceField(label=_("评定等级（人工调整）"), choices=TIER_CHOICES, required=False,
                             help_text=_("与计算等级不同时须填写理由，并记入审计日志。"))
    override_reason = forms.CharField(label=_("人工调整理由"), required=False, max_length=2000,
                                      widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, instrument, triggers, derived=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.instrument = instrument
        derived = derived or {}
        self.fields["trigger"].choices = triggers
        self.fields["assessed_on"].initial = local_today()
        for item in instrument.items:
            self.fields[f"item_{item.code}"] = forms.ChoiceField(
                label=item.text, choices=[(a.code, a.label) for a in item.answers], widget=forms.RadioSelect,
                initial=derived.get(item.code),
                error_messages={"required": _("请选择“%(item)s”") % {"item": item.text}})
        for flag in instrument.flags:
            self.fields[f"flag_{flag.code}"] = forms.ChoiceField(
                label=flag.text, choices=[("no", _("否")), ("yes", _("是"))], widget=forms.RadioSelect,
                initial="no", error_messages={"required": _("请选择“%(item)s”") % {"item": flag.text}})
        style(self)

    def answers(self) -> dict[str, str]:
        out = {}
        for name, value in self.cleaned_data.items():
            if name.startswith("item_"):
                out[name[len("item_"):]] = value
            elif name.startswith("flag_"):
                out[name[len("flag_"):]] = value
        return out

    def field_for(self, code: str) -> str:
        if self.instrument.item(code) is not None:
            return f"item_{code}"
        return f"flag_{code}"
