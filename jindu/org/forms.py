from django import forms
from django.utils.translation import gettext_lazy as _

from jindu.core.scope import ADD, VIEW
from jindu.core.views.mixins import VersionField, divisions_where
from jindu.geo.choices import Level
from jindu.geo.forms import DivisionChoiceField, DivisionMultipleChoiceField
from jindu.geo.models import Division
from jindu.org.choices import CommissionRole
from jindu.org.models import Pairing, Unit
from jindu.org.services import UNIT_FIELDS


class UnitForm(forms.ModelForm):
    """Unit create/edit. Choices are limited to where ``user`` may put the unit
    (``action`` is ``"add"`` or ``"change"``); the service re-checks after saving.

    Values the user cannot change keep their current value (B2): a parent unit outside
    what the user may see is shown read-only (the field is disabled, so whatever is
    posted is ignored), and served divisions outside where the user may place units are
    kept whatever is submitted. Only the choices offered for a *change* are limited to
    the user's scope.
    """

    version = VersionField(required=False)

    class Meta:
        model = Unit
        fields = [*UNIT_FIELDS, "jurisdiction"]
        field_classes = {"division": DivisionChoiceField, "jurisdiction": DivisionMultipleChoiceField}
        widgets = {"jurisdiction": forms.SelectMultiple(attrs={"size": 10})}
        help_texts = {
            "division": _("单位驻地，决定哪些用户可以看到该单位。"),
            "jurisdiction": _("单位服务的区县或镇街（可多选）。"),
        }

    def __init__(self, *args, user, action: str, **kwargs):
        super().__init__(*args, **kwargs)
        places = divisions_where(user, Unit, action)
        self.fields["division"].queryset = places.filter(
            level__in=[Level.CITY, Level.DISTRICT, Level.TOWN, Level.VILLAGE]
        ).order_by("path")
        served = places.filter(level__in=[Level.DISTRICT, Level.TOWN])
        self._locked_jurisdiction: list[Division] = []
        parents = Unit.objects.restrict(user, VIEW).order_by("name")
        if self.instance.pk:
            parents = parents.exclude(pk=self.instance.pk)
            self.fields["version"].required = True
            self.initial.setdefault("version", self.instance.version)
            self._lock_out_of_scope_parent(parents)
            self._locked_jurisdiction = list(
                self.instance.jurisdiction.exclude(pk__in=served.values("pk")).order_by("code")
            )
        if self._locked_jurisdiction:
            self._drop_locked_from_data()
            names = "、".join(d.name for d in self._locked_jurisdiction)
            self.fields["jurisdiction"].help_text = _(
                "单位服务的区县或镇街（可多选）。另服务于 %(names)s：不在您的管辖范围内，保存时保持不变。"
            ) % {"names": names}
        self.fields["jurisdiction"].queryset = served.order_by("path")
        if not self.fields["parent"].disabled:
            self.fields["parent"].queryset = parents
        for name, field in self.fields.items():
            widget = field.widget
            if isinstance(widget, forms.CheckboxInput):
                widget.attrs.setdefault("class", "form-check-input")
            elif isinstance(widget, forms.Select) and not isinstance(widget, forms.SelectMultiple):
                widget.attrs.setdefault("class", "form-select")
            elif not isinstance(widget, forms.HiddenInput):
                widget.attrs.setdefault("class", "form-control")

    def _lock_out_of_scope_parent(self, parents) -> None:
        parent_id = self.instance.parent_id
        if parent_id is None or parents.filter(pk=parent_id).exists():
            return
        field = self.fields["parent"]
        # Disabled: Django takes the value from ``initial`` (the current parent) and
        # ignores the posted one; the only choice is that parent, so it still validates.
        field.disabled = True
        field.queryset = Unit.objects.filter(pk=parent_id)
        field.initial = parent_id
        self.initial["parent"] = parent_id
        field.help_text = _("上级单位不在您的管辖范围内，不能在此修改；保存时保持不变。")

    def _drop_locked_from_data(self) -> None:
        # Initial and posted (or imported: the importer starts from the current values) ids of locked
        # divisions are not among the choices; they are added back in clean_jurisdiction.
        locked = {str(d.pk) for d in self._locked_jurisdiction}
        if "jurisdiction" in self.initial:
            self.initial["jurisdiction"] = [
                d for d in self.initial["jurisdiction"] if str(getattr(d, "pk", d)) not in locked
            ]
        if not self.is_bound:
            return
        key = self.add_prefix("jurisdiction")
        data = self.data.copy()
        if hasattr(data, "setlist"):
            data.setlist(key, [v for v in data.getlist(key) if str(v) not in locked])
        elif isinstance(data.get(key), (list, tuple)):
            data[key] = [v for v in data[key] if str(v) not in locked]
        self.data = data

    def clean_jurisdiction(self):
        chosen = list(self.cleaned_data.get("jurisdiction") or [])
        if not self._locked_jurisdiction:
            return chosen
        have = {d.pk for d in chosen}
        return chosen + [d for d in self._locked_jurisdiction if d.pk not in have]


class UnitChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return f"{obj.name}（{obj.division.name}）"


def _style(form: forms.Form) -> None:
    for field in form.fields.values():
        widget = field.widget
        if isinstance(widget, forms.Select):
            widget.attrs.setdefault("class", "form-select form-select-sm")
        elif not isinstance(widget, forms.HiddenInput):
            widget.attrs.setdefault("class", "form-control form-control-sm")


class YearField(forms.IntegerField):
    def __init__(self, **kwargs):
        kwargs.setdefault("label", _("年度"))
        kwargs.setdefault("min_value", 1990)
        kwargs.setdefault("max_value", 2100)
        super().__init__(**kwargs)


class MembershipAddForm(forms.Form):
    """Add one unit to a year's commission list; units offered are those the user sees."""

    year = YearField(widget=forms.HiddenInput)
    unit = UnitChoiceField(label=_("单位"), queryset=Unit.objects.none())
    role = forms.ChoiceField(label=_("职责"), choices=CommissionRole.choices, initial=CommissionRole.MEMBER)

    def __init__(self, *args, user, year: int | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        units = Unit.objects.restrict(user, VIEW).filter(is_active=True).select_related("division")
        if year is not None:
            units = units.exclude(memberships__year=year)
        self.fields["unit"].queryset = units.order_by("division__code", "name")
        _style(self)


class CopyYearForm(forms.Form):
    from_year = YearField(label=_("从年度"))
    to_year = YearField(label=_("到年度"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _style(self)


class PairingCreateForm(forms.Form):
    """Pair a unit with a town for a year: towns where the user may add pairings, units
    the user may see (the service re-checks both)."""

    year = YearField(widget=forms.HiddenInput)
    town = DivisionChoiceField(label=_("镇街"), queryset=Division.objects.none())
    unit = UnitChoiceField(label=_("挂点单位"), queryset=Unit.objects.none())
    note = forms.CharField(label=_("备注"), max_length=255, required=False)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["town"].queryset = (
            divisions_where(user, Pairing, ADD).filter(level=Level.TOWN).select_related("parent").order_by("code")
        )
        self.fields["unit"].queryset = (
            Unit.objects.restrict(user, VIEW).filter(is_active=True).select_related("division")
            .order_by("division__code", "name")
        )
        _style(self)


class DeleteReasonForm(forms.Form):
    reason = forms.CharField(label=_("原因"), max_length=500,
                             error_messages={"required": _("请填写删除原因。")})
