from django import forms
from django.utils.translation import gettext_lazy as _

from jindu.core.scope import VIEW
from jindu.core.views.mixins import VersionField, divisions_where
from jindu.geo.choices import Level
from jindu.org.models import Unit
from jindu.org.services import UNIT_FIELDS


class DivisionChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return "\u3000" * max(obj.depth - 2, 0) + f"{obj.name}（{obj.code}）"


class DivisionMultipleChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj):
        return "\u3000" * max(obj.depth - 3, 0) + obj.name


class UnitForm(forms.ModelForm):
    """Unit create/edit. Choices are limited to where ``user`` may put the unit
    (``action`` is ``"add"`` or ``"change"``); the service re-checks after saving."""

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
        self.fields["jurisdiction"].queryset = places.filter(level__in=[Level.DISTRICT, Level.TOWN]).order_by("path")
        parents = Unit.objects.restrict(user, VIEW).order_by("name")
        if self.instance.pk:
            parents = parents.exclude(pk=self.instance.pk)
            self.fields["version"].required = True
            self.initial.setdefault("version", self.instance.version)
        self.fields["parent"].queryset = parents
        for name, field in self.fields.items():
            widget = field.widget
            if isinstance(widget, forms.CheckboxInput):
                widget.attrs.setdefault("class", "form-check-input")
            elif isinstance(widget, forms.Select) and not isinstance(widget, forms.SelectMultiple):
                widget.attrs.setdefault("class", "form-select")
            elif not isinstance(widget, forms.HiddenInput):
                widget.attrs.setdefault("class", "form-control")
