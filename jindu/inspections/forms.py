from __future__ import annotations

from django import forms
from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _

from jindu.core.scope import VIEW
from jindu.core.views.mixins import VersionField, divisions_where
from jindu.geo.choices import Level
from jindu.inspections.choices import ItemOutcome, TargetCategory
from jindu.inspections.models import ChecklistItem, ChecklistTemplate, Inspection, Target
from jindu.inspections.services import TARGET_FIELDS, campaign_model
from jindu.org.forms import DivisionChoiceField


def style(form: forms.BaseForm) -> None:
    for field in form.fields.values():
        widget = field.widget
        if isinstance(widget, (forms.CheckboxInput, forms.RadioSelect, forms.CheckboxSelectMultiple)):
            widget.attrs.setdefault("class", "form-check-input")
        elif isinstance(widget, forms.Select) and not isinstance(widget, forms.SelectMultiple):
            widget.attrs.setdefault("class", "form-select")
        elif not isinstance(widget, forms.HiddenInput):
            widget.attrs.setdefault("class", "form-control")


class TargetForm(forms.ModelForm):
    """Target create/edit; divisions offered are those where ``user`` may ``action`` targets."""

    version = VersionField(required=False)

    class Meta:
        model = Target
        fields = list(TARGET_FIELDS)
        field_classes = {"division": DivisionChoiceField}
        widgets = {"note": forms.Textarea(attrs={"rows": 3})}
        help_texts = {
            "division": _("检查对象所在镇街或村居，决定哪些用户可以看到。"),
            "longitude": _("十进制度数，如 110.330000；仅用于状态分布图，可留空。"),
        }

    def __init__(self, *args, user, action: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["division"].queryset = divisions_where(user, Target, action).filter(
            level__in=[Level.DISTRICT, Level.TOWN, Level.VILLAGE]).order_by("path")
        if self.instance.pk:
            self.fields["version"].required = True
            self.initial.setdefault("version", self.instance.version)
        style(self)


class UnitChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj):
        return f"{obj.name}（{obj.division.name}）"


class UserChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj):
        return str(obj)


class InspectionForm(forms.Form):
    """The phone-sized recording form: one radio row (合格/不合格/不适用) and a note per
    checklist item of ``template``, then the team and follow-up details."""

    inspected_at = forms.DateTimeField(
        label=_("检查时间"), input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    units = UnitChoiceField(label=_("检查单位（联合检查可多选）"), queryset=None, required=False,
                            widget=forms.SelectMultiple(attrs={"size": 5}))
    inspectors = UserChoiceField(label=_("其他检查人员"), queryset=None, required=False,
                                 widget=forms.SelectMultiple(attrs={"size": 4}))
    campaign = forms.ModelChoiceField(label=_("专项行动"), queryset=None, required=False,
                                      empty_label=_("（不属于专项行动）"))
    follow_up_of = forms.ModelChoiceField(label=_("复查（针对此前检查发现的隐患）"), queryset=None, required=False,
                                          empty_label=_("（首次检查，不是复查）"))
    hazard_deadline = forms.DateField(label=_("整改期限"), required=False,
                                      widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
    extra_hazards = forms.CharField(label=_("其他隐患（每行一条）"), required=False,
                                    widget=forms.Textarea(attrs={"rows": 2}))
    summary = forms.CharField(label=_("检查情况"), required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, user, target: Target, template: ChecklistTemplate, **kwargs):
        super().__init__(*args, **kwargs)
        from jindu.org.models import Unit

        self.template = template
        self.items = list(template.items.order_by("seq"))
        self.fields["units"].queryset = Unit.objects.restrict(user, VIEW).filter(is_active=True).select_related(
            "division").order_by("division__code", "name")
        User = get_user_model()
        self.fields["inspectors"].queryset = User.objects.restrict(user, VIEW).filter(is_active=True).exclude(
            pk=user.pk).order_by("username")
        self.fields["campaign"].queryset = campaign_model().objects.restrict(user, VIEW).order_by("-start_date")
        self.fields["follow_up_of"].queryset = Inspection.objects.restrict(user, VIEW).filter(
            target=target, hazards__status__in=["open", "rectified"]).distinct().order_by("-inspected_at")
        self.fields["hazard_deadline"].help_text = _("不填则按清单默认期限：检查日起 %(n)d 天。") % {
            "n": template.rectification_days}
        for item in self.items:
            self.fields[f"item_{item.pk}"] = forms.ChoiceField(
                label=f"{item.seq}. {item.text}", choices=ItemOutcome.choices, widget=forms.RadioSelect,
                error_messages={"required": _("第 %(n)d 条“%(t)s”：请选择结果。") % {"n": item.seq, "t": item.text}},
            )
            self.fields[f"note_{item.pk}"] = forms.CharField(label=_("说明"), required=False, max_length=500)
        style(self)

    def item_rows(self):
        """``(item, outcome bound field, note bound field)`` per checklist item, in order."""
        return [(item, self[f"item_{item.pk}"], self[f"note_{item.pk}"]) for item in self.items]

    def results(self) -> dict[int, tuple[str, str]]:
        return {item.pk: (self.cleaned_data[f"item_{item.pk}"], self.cleaned_data.get(f"note_{item.pk}") or "")
                for item in self.items}


class RectifyForm(forms.Form):
    version = VersionField()
    rectification_note = forms.CharField(label=_("整改情况"), widget=forms.Textarea(attrs={"rows": 3}),
                                         error_messages={"required": _("请填写整改情况。")})
    rectified_at = forms.DateTimeField(
        label=_("整改完成时间"), required=False, input_formats=["%Y-%m-%dT%H:%M"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text=_("不填则为当前时间。"),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        style(self)


class DeadlineForm(forms.Form):
    deadline = forms.DateField(label=_("新的整改期限"), widget=forms.DateInput(attrs={"type": "date"}))
    reason = forms.CharField(label=_("调整原因"), max_length=500, error_messages={"required": _("请填写调整原因。")})

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        style(self)


class NoteForm(forms.Form):
    note = forms.CharField(label=_("说明"), max_length=500, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        style(self)


class TemplateForm(forms.ModelForm):
    """Checklist profile fields; items come from :data:`ItemFormSet`."""

    version = VersionField(required=False)
    revision_note = forms.CharField(label=_("修订说明"), max_length=255, required=False)

    class Meta:
        model = ChecklistTemplate
        fields = ["code", "name", "category", "source", "description", "pass_score_pct", "rectification_days"]
        widgets = {"source": forms.Textarea(attrs={"rows": 3}), "description": forms.Textarea(attrs={"rows": 2})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["category"].choices = [c for c in TargetCategory.choices]
        if self.instance.pk:
            self.fields["code"].disabled = True
            self.fields["version"].required = True
            self.initial.setdefault("version", self.instance.version)
        else:
            del self.fields["revision_note"]
        style(self)

    def validate_unique(self):
        pass  # a revision shares its code with the previous ones; the service checks new codes


class ItemForm(forms.ModelForm):
    class Meta:
        model = ChecklistItem
        fields = ["code", "text", "points", "required", "basis"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        style(self)


ItemFormSet = forms.formset_factory(ItemForm, extra=2, can_delete=True)
