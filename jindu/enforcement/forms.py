from django import forms
from django.utils.translation import gettext_lazy as _

from jindu.core.scope import VIEW
from jindu.core.views.mixins import VersionField, divisions_where
from jindu.enforcement.models import Campaign, Case, DriverTest, Gang, ScreeningSession, Seizure, Suspect
from jindu.enforcement.services import (
    CAMPAIGN_FIELDS,
    CASE_FIELDS,
    DRIVER_TEST_FIELDS,
    GANG_FIELDS,
    SEIZURE_FIELDS,
    SESSION_FIELDS,
    SUSPECT_FIELDS,
)
from jindu.geo.choices import Level
from jindu.geo.forms import DivisionChoiceField
from jindu.org.choices import UnitKind
from jindu.org.models import Unit
from jindu.substances.models import Substance

_DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


def _style(form: forms.BaseForm) -> None:
    for field in form.fields.values():
        widget = field.widget
        if isinstance(widget, forms.CheckboxInput):
            widget.attrs.setdefault("class", "form-check-input")
        elif isinstance(widget, forms.Select) and not isinstance(widget, forms.SelectMultiple):
            widget.attrs.setdefault("class", "form-select")
        elif not isinstance(widget, forms.HiddenInput):
            widget.attrs.setdefault("class", "form-control")


class _VersionedForm(forms.ModelForm):
    version = VersionField(required=False)

    def _init_version(self):
        if self.instance.pk:
            self.fields["version"].required = True
            self.initial.setdefault("version", self.instance.version)


class CampaignForm(_VersionedForm):
    class Meta:
        model = Campaign
        fields = list(CAMPAIGN_FIELDS)
        field_classes = {"division": DivisionChoiceField}
        widgets = {"start_date": _DATE, "end_date": _DATE, "description": forms.Textarea(attrs={"rows": 3})}

    def __init__(self, *args, user, action: str, **kwargs):
        super().__init__(*args, **kwargs)
        self._init_version()
        self.fields["division"].queryset = divisions_where(user, Campaign, action).filter(
            level__in=[Level.PROVINCE, Level.CITY, Level.DISTRICT]).order_by("path")
        _style(self)


class CaseForm(_VersionedForm):
    """Case create/edit; divisions and handling units limited to the user's scope."""

    class Meta:
        model = Case
        fields = [*CASE_FIELDS, "campaigns", "linked_cases"]
        field_classes = {"division": DivisionChoiceField}
        widgets = {
            "filed_on": _DATE, "solved_on": _DATE, "transferred_on": _DATE, "closed_on": _DATE,
            "summary": forms.Textarea(attrs={"rows": 4}),
            "campaigns": forms.SelectMultiple(attrs={"size": 6}),
            "linked_cases": forms.SelectMultiple(attrs={"size": 6}),
        }
        help_texts = {
            "division": _("案件所属的区县或镇街，决定哪些用户可以看到该案件。"),
            "campaigns": _("可多选：本案在哪些专项行动中破获。"),
        }

    def __init__(self, *args, user, action: str, **kwargs):
        super().__init__(*args, **kwargs)
        self._init_version()
        self.fields["division"].queryset = divisions_where(user, Case, action).filter(
            level__in=[Level.CITY, Level.DISTRICT, Level.TOWN]).order_by("path")
        self.fields["handling_unit"].queryset = Unit.objects.restrict(user, VIEW).filter(
            kind=UnitKind.POLICE).order_by("division__code", "name")
        self.fields["campaigns"].queryset = Campaign.objects.restrict(user, VIEW).order_by("-start_date")
        linked = Case.objects.restrict(user, VIEW).order_by("-filed_on")
        if self.instance.pk:
            linked = linked.exclude(pk=self.instance.pk)
        self.fields["linked_cases"].queryset = linked
        self.fields["linked_cases"].required = False
        self.fields["campaigns"].required = False
        _style(self)


class SuspectForm(_VersionedForm):
    class Meta:
        model = Suspect
        fields = list(SUSPECT_FIELDS)
        widgets = {"caught_on": _DATE}

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self._init_version()
        _style(self)


class SeizureForm(_VersionedForm):
    class Meta:
        model = Seizure
        fields = list(SEIZURE_FIELDS)
        widgets = {"seized_on": _DATE}
        help_texts = {"net_weight_g": _("净重按克填写，最多三位小数；不按纯度折算（刑法第三百五十七条第二款）。")}

    def __init__(self, *args, case: Case | None, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self._init_version()
        if case is not None and case.pk:
            self.instance.case = case
            self.fields["suspect"].queryset = case.suspects.order_by("id")
        else:  # a case not saved yet (import): the row names its suspect itself
            self.fields["suspect"].queryset = Suspect.objects.none()
        self.fields["substance"].queryset = Substance.objects.filter(is_active=True)
        _style(self)


class GangForm(_VersionedForm):
    class Meta:
        model = Gang
        fields = [*GANG_FIELDS, "members"]
        field_classes = {"division": DivisionChoiceField}
        widgets = {"broken_up_on": _DATE, "note": forms.Textarea(attrs={"rows": 3}),
                   "members": forms.SelectMultiple(attrs={"size": 10})}

    def __init__(self, *args, user, action: str, **kwargs):
        super().__init__(*args, **kwargs)
        self._init_version()
        places = divisions_where(user, Gang, action)
        self.fields["division"].queryset = places.filter(level__in=[Level.CITY, Level.DISTRICT, Level.TOWN]).order_by(
            "path")
        members = Suspect.objects.restrict(user, VIEW).select_related("case")
        if self.instance.pk:
            members = members.filter(case__division__path__startswith=self.instance.division.path)
        else:
            members = members.none()
            self.fields["members"].help_text = _("保存团伙后，可在编辑页添加成员。")
        self.fields["members"].queryset = members.order_by("case__number", "id")
        self.fields["members"].required = False
        self.fields["members"].label_from_instance = lambda s: f"{s.name}（{s.case.number}）"
        _style(self)


class ScreeningSessionForm(_VersionedForm):
    class Meta:
        model = ScreeningSession
        fields = [*SESSION_FIELDS]
        field_classes = {"division": DivisionChoiceField}
        widgets = {"held_on": _DATE, "note": forms.Textarea(attrs={"rows": 3})}

    def __init__(self, *args, user, action: str, **kwargs):
        super().__init__(*args, **kwargs)
        self._init_version()
        self.fields["division"].queryset = divisions_where(user, ScreeningSession, action).filter(
            level__in=[Level.CITY, Level.DISTRICT, Level.TOWN]).order_by("path")
        self.fields["unit"].queryset = Unit.objects.restrict(user, VIEW).order_by("division__code", "name")
        _style(self)


class DriverTestForm(forms.ModelForm):
    class Meta:
        model = DriverTest
        fields = list(DRIVER_TEST_FIELDS)

    def __init__(self, *args, session: ScreeningSession, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.instance.session = session
        self.fields["substance"].queryset = Substance.objects.filter(is_active=True, street_relevant=True)
        _style(self)


class CaseStatisticsForm(forms.Form):
    """Statistics page filters: inclusive local dates, district, kind, drug, campaign."""

    date_from = forms.DateField(label=_("起始日期"), widget=_DATE)
    date_to = forms.DateField(label=_("截止日期"), widget=_DATE)
    district = DivisionChoiceField(label=_("区县"), queryset=None, required=False, empty_label=_("全部"))
    kind = forms.ChoiceField(label=_("案件类别"), required=False)
    substance = forms.ModelChoiceField(label=_("毒品种类"), queryset=None, required=False, empty_label=_("全部"))
    campaign = forms.ModelChoiceField(label=_("专项行动"), queryset=None, required=False, empty_label=_("全部"))

    def __init__(self, *args, user, **kwargs):
        from jindu.enforcement.choices import CaseKind
        from jindu.geo.models import Division

        super().__init__(*args, **kwargs)
        self.fields["district"].queryset = Division.objects.restrict(user, VIEW).filter(
            level=Level.DISTRICT).order_by("code")
        self.fields["kind"].choices = [("", _("全部")), *CaseKind.choices]
        self.fields["substance"].queryset = Substance.objects.filter(street_relevant=True)
        self.fields["campaign"].queryset = Campaign.objects.restrict(user, VIEW).order_by("-start_date")
        _style(self)

    def clean(self):
        data = super().clean()
        if data.get("date_from") and data.get("date_to") and data["date_from"] > data["date_to"]:
            self.add_error("date_to", _("截止日期不能早于起始日期。"))
        return data
