"""Forms of the workflow pages (handover, community measures, transfers, screening, merge,
driving licences, temporary access). Choices offered are limited to what the user may use;
the services re-check everything on save."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from jindu.core.fields import IdentityNumberFormField
from jindu.core.idnumbers import DocumentType
from jindu.core.scope import ADD, CHANGE
from jindu.core.timeutils import local_today
from jindu.core.views.mixins import VersionField, divisions_where
from jindu.geo.choices import Level
from jindu.geo.forms import DivisionChoiceField
from jindu.geo.models import Division
from jindu.persons.choices import ScreeningOutcome
from jindu.persons.models import Person, ScreeningRound

DATE_WIDGET = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


def style(form: forms.BaseForm) -> None:
    for field in form.fields.values():
        widget = field.widget
        if isinstance(widget, (forms.CheckboxInput, forms.RadioSelect)):
            widget.attrs.setdefault("class", "form-check-input")
        elif isinstance(widget, forms.Select):
            widget.attrs.setdefault("class", "form-select")
        elif not isinstance(widget, forms.HiddenInput):
            widget.attrs.setdefault("class", "form-control")
        if isinstance(widget, forms.Textarea):
            widget.attrs.setdefault("rows", 2)


def date_field(label, *, required: bool = True, initial_today: bool = True) -> forms.DateField:
    return forms.DateField(label=label, required=required, widget=DATE_WIDGET,
                           initial=local_today if initial_today else None)


class StyledForm(forms.Form):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        style(self)


class PersonLookupMixin(forms.Form):
    """Finds the person by exact identity number among the people the user may change (or
    takes a person given by the page); never says whether a number exists elsewhere."""

    identity_number = IdentityNumberFormField(label=_("身份证号码"), required=False,
                                              help_text=_("输入完整的18位（或15位）身份证号码"))

    def __init__(self, *args, user=None, person=None, **kwargs):
        self.user = user
        self.person = person
        super().__init__(*args, **kwargs)
        if person is not None:
            del self.fields["identity_number"]

    def clean(self):
        data = super().clean()
        if self.person is None and not self.errors:
            from jindu.core.fields import identity_lookup

            number = data.get("identity_number")
            if not number:
                self.add_error("identity_number", _("请填写身份证号码"))
                return data
            found = (Person.objects.restrict(self.user, CHANGE).filter(merged_into__isnull=True)
                     .filter(**identity_lookup("identity_number", number)).first())
            if found is None:
                self.add_error("identity_number", _("您的管辖范围内没有该证件号码的登记人员"))
            self.person = found
        return data


class ReleaseNoticeForm(PersonLookupMixin, StyledForm):
    facility = forms.CharField(label=_("戒毒场所"), max_length=200, required=False)
    notice_received_on = date_field(_("收到出所通知日期"))
    expected_release_on = date_field(_("预计出所日期"), initial_today=False)
    notes = forms.CharField(label=_("备注"), required=False, widget=forms.Textarea)


class HandoverStepForm(StyledForm):
    """The fields of one handover step (``step``: pickup, report, agreement, fail)."""

    version = VersionField()
    released_on = date_field(_("实际出所日期"), required=False)
    received_on = date_field(_("接回日期"), required=False)
    reported_on = date_field(_("报到日期"), required=False)
    agreement_signed_on = date_field(_("签订协议日期"), required=False)
    reason = forms.CharField(label=_("原因"), required=False, widget=forms.Textarea)

    STEP_FIELDS = {
        "pickup": ("released_on", "received_on"),
        "report": ("released_on", "reported_on"),
        "agreement": ("agreement_signed_on",),
        "fail": ("reason",),
    }

    def __init__(self, *args, step: str = "pickup", handover=None, **kwargs):
        super().__init__(*args, **kwargs)
        keep = set(self.STEP_FIELDS.get(step, ())) | {"version"}
        if step == "report" and handover is not None and handover.released_on:
            keep.discard("released_on")
        for name in list(self.fields):
            if name not in keep:
                del self.fields[name]
        if handover is not None:
            self.fields["version"].initial = handover.version
            if "released_on" in self.fields:
                self.fields["released_on"].initial = handover.expected_release_on


class ReasonForm(StyledForm):
    reason = forms.CharField(label=_("理由"), widget=forms.Textarea)
    version = VersionField(required=False)


class ProposalForm(StyledForm):
    note = forms.CharField(label=_("提请意见"), widget=forms.Textarea)
    document_number = forms.CharField(label=_("提请文书编号"), max_length=100, required=False)


class CompletionForm(StyledForm):
    completed_on = date_field(_("解除日期"))
    document_number = forms.CharField(label=_("解除通知书编号"), max_length=100, required=False)


class TransferRequestForm(PersonLookupMixin, StyledForm):
    to_division = DivisionChoiceField(label=_("新居住地（村、社区）"), queryset=Division.objects.none())
    new_address = forms.CharField(label=_("新居住地址"), max_length=255, required=False)
    reason = forms.CharField(label=_("转移原因"), widget=forms.Textarea)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Any village of the city may receive (the other side decides); the sender need not see it.
        self.fields["to_division"].queryset = (Division.objects.filter(level__in=(Level.VILLAGE, Level.GRID))
                                               .select_related("parent").order_by("code"))


class TransferDecisionForm(StyledForm):
    decision = forms.ChoiceField(label=_("处理"), choices=(("accept", _("接收")), ("reject", _("退回")),
                                                          ("cancel", _("撤销"))))
    reason = forms.CharField(label=_("处理意见"), required=False, widget=forms.Textarea)
    version = VersionField(required=False)


class ScreeningOpenForm(StyledForm):
    division = DivisionChoiceField(label=_("排查镇街"), queryset=Division.objects.none())
    title = forms.CharField(label=_("名称"), max_length=100)
    due_on = date_field(_("完成期限"), initial_today=False)

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["division"].queryset = (divisions_where(user, ScreeningRound, ADD).filter(level=Level.TOWN)
                                            .select_related("parent").order_by("code"))


class ScreeningResultForm(StyledForm):
    outcome = forms.ChoiceField(label=_("核查结果"), choices=[
        (v, label) for v, label in ScreeningOutcome.choices if v != ScreeningOutcome.NEWLY_FOUND])
    checked_on = date_field(_("核查日期"))
    died_on = date_field(_("死亡日期"), required=False, initial_today=False)
    to_division = DivisionChoiceField(label=_("迁入地（村、社区）"), required=False,
                                      queryset=Division.objects.none())
    notes = forms.CharField(label=_("说明"), required=False, widget=forms.Textarea)
    version = VersionField(required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["to_division"].queryset = (Division.objects.filter(level__in=(Level.VILLAGE, Level.GRID))
                                               .select_related("parent").order_by("code"))


class NewlyFoundForm(StyledForm):
    identity_number = IdentityNumberFormField(label=_("身份证号码"))
    name = forms.CharField(label=_("姓名"), max_length=100)
    residence_division = DivisionChoiceField(label=_("居住地（村居）"), queryset=Division.objects.none())
    residence_address = forms.CharField(label=_("居住地址"), max_length=255, required=False)
    checked_on = date_field(_("发现日期"))
    notes = forms.CharField(label=_("说明"), required=False, widget=forms.Textarea)

    def __init__(self, *args, screening_round=None, **kwargs):
        super().__init__(*args, **kwargs)
        if screening_round is not None:
            self.fields["residence_division"].queryset = (
                Division.objects.filter(parent=screening_round.division).order_by("code").select_related("parent"))

    def person_data(self) -> dict:
        data = {k: self.cleaned_data[k] for k in ("identity_number", "name", "residence_division",
                                                  "residence_address")}
        data["document_type"] = DocumentType.RESIDENT_ID
        return data


class MergeDecisionForm(StyledForm):
    decision = forms.ChoiceField(label=_("决定"), choices=(("accept", _("合并")), ("reject", _("不是同一人"))))
    keep = forms.ChoiceField(label=_("保留的记录"), required=False, choices=(("keep", _("保留左侧（较早）记录")),
                                                                        ("duplicate", _("保留右侧记录"))))
    reason = forms.CharField(label=_("理由"), widget=forms.Textarea)
    version = VersionField(required=False)


class LicenceCancelForm(StyledForm):
    cancelled_on = date_field(_("注销日期"))
    document_number = forms.CharField(label=_("文书编号"), max_length=100, required=False)
    version = VersionField()


class AccessRequestForm(StyledForm):
    identity_number = IdentityNumberFormField(label=_("身份证号码"), help_text=_("只能按完整证件号码精确查找"))
    reason = forms.CharField(label=_("申请理由"), widget=forms.Textarea)


class AccessDecisionForm(StyledForm):
    decision = forms.ChoiceField(label=_("审批"), choices=(("approve", _("批准")), ("reject", _("驳回")),
                                                          ("revoke", _("撤销"))))
    days = forms.IntegerField(label=_("有效天数"), required=False, min_value=1)
    reason = forms.CharField(label=_("理由"), required=False, widget=forms.Textarea)
    version = VersionField(required=False)

