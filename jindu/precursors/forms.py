"""Forms of the precursors pages. They only collect input: every write is a service call
(:mod:`jindu.precursors.services`), whose ``ValidationError`` messages are put back on the
form by the views. Choice lists offer only rows the user may use (enterprises where the
user may add ledger entries, divisions where they may put an enterprise, and so on).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from jindu.core.scope import VIEW
from jindu.core.views.mixins import VersionField, divisions_where
from jindu.geo.choices import Level
from jindu.org.forms import DivisionChoiceField
from jindu.org.models import Unit
from jindu.precursors import selectors
from jindu.precursors.choices import Direction, QuantityUnit, Resolution
from jindu.precursors.models import Chemical, Enterprise, LedgerEntry, Licence, StockCount

_DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


def style(form: forms.BaseForm) -> None:
    for f in form.fields.values():
        widget = f.widget
        if isinstance(widget, (forms.CheckboxInput, forms.RadioSelect, forms.CheckboxSelectMultiple)):
            widget.attrs.setdefault("class", "form-check-input")
        elif isinstance(widget, forms.Select) and not isinstance(widget, forms.SelectMultiple):
            widget.attrs.setdefault("class", "form-select")
        elif not isinstance(widget, forms.HiddenInput):
            widget.attrs.setdefault("class", "form-control")


class ChemicalChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return f"{obj.get_category_display()} · {obj.name_zh}"


class EnterpriseChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return f"{obj.name}（{obj.credit_code or obj.legacy_code or obj.division.name}）"


class UnitMultipleChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj):
        return obj.name


def fix_single_enterprise(form: forms.BaseForm) -> None:
    """When ``form``'s ``enterprise`` field offers exactly one enterprise (an enterprise
    user's own), send it as a hidden value and show it as text (``form.fixed_enterprise``),
    so its full name and credit code are never cut off in a select. The posted value is
    still checked against the choices: another enterprise's id is refused."""
    field = form.fields["enterprise"]
    only = list(field.queryset[:2])
    form.fixed_enterprise = None
    if len(only) != 1:
        return
    form.fixed_enterprise = only[0]
    field.widget = forms.HiddenInput()
    form.initial["enterprise"] = only[0].pk


def chemicals(user: Any):
    return Chemical.objects.restrict(user, VIEW).filter(is_active=True).order_by("category", "id")


#: Fields of :class:`Enterprise` a page may set (``account_users`` through
#: ``services.set_enterprise_accounts``).
ENTERPRISE_FIELDS = ("name", "credit_code", "legacy_code", "kind", "division", "address", "supervising_units",
                     "contact_name", "contact_phone", "risk_level", "status", "note")


class EnterpriseForm(forms.ModelForm):
    """Enterprise create/edit; divisions offered are those where ``user`` may ``action``
    enterprises, supervising departments the active units the user may see."""

    version = VersionField(required=False)

    class Meta:
        model = Enterprise
        fields = list(ENTERPRISE_FIELDS)
        field_classes = {"division": DivisionChoiceField, "supervising_units": UnitMultipleChoiceField}
        widgets = {"note": forms.Textarea(attrs={"rows": 3}),
                   "supervising_units": forms.SelectMultiple(attrs={"size": 6})}
        help_texts = {
            "credit_code": _("18位统一社会信用代码；旧档案只有组织机构代码或注册号的，填在下一栏。"),
            "division": _("企业所在镇街或村居，决定哪些用户可以看到。"),
            "supervising_units": _("将该企业列入其监管责任田的部门（公安、应急管理、药品监管、市场监管等），可多选。"),
        }

    def __init__(self, *args, user, action: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["division"].queryset = divisions_where(user, Enterprise, action).filter(
            level__in=[Level.DISTRICT, Level.TOWN, Level.VILLAGE]).order_by("path")
        units = Unit.objects.restrict(user, VIEW).filter(is_active=True)
        if self.instance.pk:
            # Keep current supervisors selectable even where the editor cannot see them.
            units = units | Unit.objects.filter(pk__in=self.instance.supervising_units.values("pk"))
        self.fields["supervising_units"].queryset = units.distinct().order_by("kind", "name")
        if self.instance.pk:
            self.fields["version"].required = True
            self.initial.setdefault("version", self.instance.version)
        style(self)

    def validate_unique(self):
        pass  # the service's full_clean and the database constraints decide


LICENCE_FIELDS = ("kind", "number", "issuer", "issued_on", "valid_from", "valid_until", "one_trip",
                  "counterparty_credit_code", "counterparty_name", "note")


class LicenceForm(forms.ModelForm):
    """A licence, filing certificate or permit of one enterprise; its chemicals come from
    :data:`LicenceLineFormSet`."""

    class Meta:
        model = Licence
        fields = list(LICENCE_FIELDS)
        widgets = {"issued_on": _DATE, "valid_from": _DATE, "valid_until": _DATE,
                   "note": forms.Textarea(attrs={"rows": 2})}
        help_texts = {
            "number": _("按证照原样填写，括号样式会自动统一。"),
            "counterparty_name": _("购买许可/备案填供货方，运输许可/备案填收货方（证照上载明时）。"),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        style(self)

    def validate_unique(self):
        pass


class LicenceLineForm(forms.Form):
    chemical = ChemicalChoiceField(label=_("品种"), queryset=Chemical.objects.none(), required=False)
    quantity_limit_kg = forms.DecimalField(label=_("限量（千克）"), required=False, min_value=0, max_digits=16,
                                           decimal_places=3)

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["chemical"].queryset = chemicals(user)
        style(self)


class _BaseLineFormSet(forms.BaseFormSet):
    def __init__(self, *args, user=None, **kwargs):
        self.user = user
        super().__init__(*args, **kwargs)

    def get_form_kwargs(self, index):
        return {**super().get_form_kwargs(index), "user": self.user}

    def clean(self):
        seen = set()
        for f in self.forms:
            data = getattr(f, "cleaned_data", None) or {}
            chem = data.get("chemical")
            if chem is None:
                if data.get("quantity_limit_kg") is not None:
                    raise forms.ValidationError(_("填写了限量的行必须选择品种。"))
                continue
            if chem.pk in seen:
                raise forms.ValidationError(_("品种“%(n)s”重复。") % {"n": chem.name_zh})
            seen.add(chem.pk)
        if not seen:
            raise forms.ValidationError(_("请至少选择一个品种。"))

    def lines(self) -> list[tuple[Chemical, Any]]:
        rows = [getattr(f, "cleaned_data", None) or {} for f in self.forms]
        return [(d["chemical"], d.get("quantity_limit_kg")) for d in rows if d.get("chemical") is not None]


LicenceLineFormSet = forms.formset_factory(LicenceLineForm, formset=_BaseLineFormSet, extra=4)


#: Keys of ``services.post_entry``'s ``data`` a page collects.
ENTRY_FIELDS = ("chemical", "occurred_on", "direction", "quantity_entered", "unit_entered", "density_kg_per_l",
                "piece_mass_kg", "counterparty_credit_code", "counterparty_name", "document_number",
                "permit_number", "transport_permit_number", "purpose", "expires_on", "reported_on")


class LedgerEntryForm(forms.Form):
    """One ledger line. ``enterprise`` lists the enterprises where ``user`` may add entries
    (an enterprise user's own; a regulator's within the jurisdiction) and is fixed when
    there is only one."""

    enterprise = EnterpriseChoiceField(label=_("企业"), queryset=Enterprise.objects.none(),
                                       empty_label=_("（请选择企业）"))
    chemical = ChemicalChoiceField(label=_("品种"), queryset=Chemical.objects.none(), empty_label=_("（请选择品种）"))
    occurred_on = forms.DateField(label=_("发生日期"), widget=_DATE)
    direction = forms.ChoiceField(label=_("方向"), choices=Direction.choices)
    quantity_entered = forms.DecimalField(label=_("数量"), min_value=0, max_digits=16, decimal_places=4)
    unit_entered = forms.ChoiceField(label=_("单位"), choices=QuantityUnit.choices, initial=QuantityUnit.KG)
    density_kg_per_l = forms.DecimalField(
        label=_("密度（千克/升）"), required=False, min_value=0, max_digits=7, decimal_places=4,
        help_text=_("按升或毫升录入时使用；不填则用品种目录中的常用密度。"))
    piece_mass_kg = forms.DecimalField(label=_("每件净重（千克）"), required=False, min_value=0, max_digits=10,
                                       decimal_places=4, help_text=_("按件/瓶录入时必填。"))
    counterparty_credit_code = forms.CharField(label=_("对方信用代码"), required=False, max_length=20,
                                               help_text=_("对方为本市登记企业时填写，自动关联。"))
    counterparty_name = forms.CharField(label=_("对方单位"), required=False, max_length=200)
    document_number = forms.CharField(label=_("单据编号"), required=False, max_length=80)
    permit_number = forms.CharField(label=_("许可/备案编号"), required=False, max_length=120)
    transport_permit_number = forms.CharField(label=_("运输许可/备案编号"), required=False, max_length=80)
    purpose = forms.CharField(label=_("用途"), required=False, max_length=200)
    expires_on = forms.DateField(label=_("失效日期"), required=False, widget=_DATE)
    reported_on = forms.DateField(label=_("报告公安日期"), required=False, widget=_DATE,
                                  help_text=_("销售第一类品种应于5日内、第二三类于30日内报告（条例第十九条）。"))

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["enterprise"].queryset = selectors.enterprises_where(user, LedgerEntry, "add").order_by("name")
        self.fields["chemical"].queryset = chemicals(user)
        fix_single_enterprise(self)
        style(self)

    def entry_data(self) -> dict[str, Any]:
        return {k: self.cleaned_data.get(k) for k in ENTRY_FIELDS}


class StockCountForm(forms.Form):
    enterprise = EnterpriseChoiceField(label=_("企业"), queryset=Enterprise.objects.none(),
                                       empty_label=_("（请选择企业）"))
    chemical = ChemicalChoiceField(label=_("品种"), queryset=Chemical.objects.none(), empty_label=_("（请选择品种）"))
    counted_on = forms.DateField(label=_("盘点日期"), widget=_DATE)
    quantity_kg = forms.DecimalField(label=_("实盘数量（千克）"), min_value=0, max_digits=18, decimal_places=3)
    counted_by = forms.CharField(label=_("盘点人"), required=False, max_length=100)
    note = forms.CharField(label=_("备注"), required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["enterprise"].queryset = selectors.enterprises_where(user, StockCount, "add").order_by("name")
        self.fields["chemical"].queryset = chemicals(user)
        fix_single_enterprise(self)
        style(self)


class RevokeForm(forms.Form):
    """Revoke or cancel a licence (``services.revoke_licence`` checks the date: not in the
    future, not before the licence's validity starts)."""

    revoked_on = forms.DateField(label=_("吊销/注销日期"), widget=_DATE,
                                 help_text=_("按决定书载明的日期填写，可早于今天。"),
                                 error_messages={"required": _("请填写吊销/注销日期（决定书载明的日期）。"),
                                                 "invalid": _("吊销/注销日期不是有效日期（应为 YYYY-MM-DD）。")})
    reason = forms.CharField(label=_("吊销/注销原因"), max_length=500,
                             error_messages={"required": _("请填写吊销/注销原因。")})

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        style(self)


class VoidForm(forms.Form):
    reason = forms.CharField(label=_("作废原因"), max_length=255,
                             error_messages={"required": _("请填写作废原因。")})

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        style(self)


class AssigneeChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        unit = getattr(obj, "unit", None)
        return f"{obj}（{unit.name}）" if unit else str(obj)


class AssignForm(forms.Form):
    prefix = "assign"  # several workflow forms share one page: distinct names and ids
    version = VersionField()
    assignee = AssigneeChoiceField(label=_("承办人"), queryset=None, empty_label=_("（请选择）"))
    deadline = forms.DateField(label=_("办理期限"), widget=_DATE,
                               help_text=_("当地日期：期限当天全天有效，次日零时起为逾期。"))

    def __init__(self, *args, assignees, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["assignee"].queryset = assignees
        style(self)


class WorkForm(forms.Form):
    prefix = "work"  # several workflow forms share one page: distinct names and ids
    version = VersionField()
    notes = forms.CharField(label=_("核查情况"), widget=forms.Textarea(attrs={"rows": 3}),
                            error_messages={"required": _("请填写核查情况。")})

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        style(self)


class CloseForm(forms.Form):
    prefix = "close"  # several workflow forms share one page: distinct names and ids
    version = VersionField()
    resolution = forms.ChoiceField(label=_("办结方式"), choices=[("", _("（请选择）")), *Resolution.choices])
    note = forms.CharField(label=_("办结说明"), widget=forms.Textarea(attrs={"rows": 3}),
                           error_messages={"required": _("请填写办结说明。")})
    case_number = forms.CharField(label=_("移交案件编号"), required=False, max_length=64,
                                  help_text=_("办结方式为“已移交立案”时填写。"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        style(self)


class ReopenForm(forms.Form):
    prefix = "reopen"  # several workflow forms share one page: distinct names and ids
    version = VersionField()
    reason = forms.CharField(label=_("重新打开原因"), max_length=500,
                             error_messages={"required": _("请填写重新打开的原因。")})

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        style(self)
