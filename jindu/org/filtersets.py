"""Unit list filters, shared by the list page, its export and the API (one definition).

Filter values that cannot be read are errors, never ignored: a filter dropped silently
would widen the result (``?is_active=maybe`` listing every unit). The list page shows
the errors and no rows; the API answers 400 (django-filter's backend); the export view
sends the user back to the list, which shows them.
"""

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from jindu.core.scope import VIEW
from jindu.geo.choices import Level
from jindu.geo.models import Division
from jindu.org.choices import UnitKind
from jindu.org.models import Unit


def _divisions(level):
    def qs(request):
        if request is None:
            return Division.objects.none()
        return Division.objects.restrict(request.user, VIEW).filter(level=level).order_by("code")

    return qs


class StrictBooleanField(forms.Field):
    """``true``/``false`` (also ``1``/``0``, any case) → ``True``/``False``; empty → ``None``;
    anything else is a ``ValidationError`` (Django's ``NullBooleanField`` would read it as
    "no filter")."""

    widget = forms.Select
    TRUE = frozenset({"true", "1"})
    FALSE = frozenset({"false", "0"})

    def to_python(self, value):
        if value is None or value is True or value is False:
            return value
        text = str(value).strip().lower()
        if text in self.empty_values:
            return None
        if text in self.TRUE:
            return True
        if text in self.FALSE:
            return False
        raise ValidationError(_("“%(value)s”不是有效的取值，应为 true 或 false。"), code="invalid",
                              params={"value": value})

    def validate(self, value):
        pass


class StrictBooleanFilter(django_filters.BooleanFilter):
    field_class = StrictBooleanField


class UnitFilterSet(django_filters.FilterSet):
    """Unit list filters; only fields every role may see (no contact details).

    ``?name=`` matches the name or short name (``?q=`` is accepted as its older spelling).
    Used unchanged by the list page and :class:`jindu.org.exporters.UnitExporter`.
    """

    name = django_filters.CharFilter(label=_("名称"), method="filter_name")
    kind = django_filters.ChoiceFilter(label=_("单位类型"), choices=UnitKind.choices, empty_label=_("全部类型"))
    district = django_filters.ModelChoiceFilter(
        label=_("区县"), queryset=_divisions(Level.DISTRICT), method="filter_subtree", empty_label=_("全部区县")
    )
    town = django_filters.ModelChoiceFilter(
        label=_("镇街"), queryset=_divisions(Level.TOWN), method="filter_subtree", empty_label=_("全部镇街")
    )
    is_active = StrictBooleanFilter(
        label=_("状态"),
        widget=forms.Select(choices=[("", _("全部")), ("true", _("有效")), ("false", _("已停用"))]),
    )

    class Meta:
        model = Unit
        fields = ["name", "kind", "district", "town", "is_active"]

    def __init__(self, data=None, *args, **kwargs):
        if data is not None and data.get("q") and not data.get("name"):
            data = data.copy()
            data["name"] = data["q"]
        super().__init__(data, *args, **kwargs)
        for field in self.form.fields.values():
            is_select = isinstance(field.widget, forms.Select)
            field.widget.attrs.setdefault("class", "form-select" if is_select else "form-control")

    def error_text(self) -> str:
        """The form's errors as one Chinese sentence (``"状态：……；区县：……"``)."""
        parts = []
        for name, errors in self.form.errors.items():
            label = self.form.fields[name].label if name in self.form.fields else ""
            parts += [f"{label}：{e}" if label else str(e) for e in errors]
        return "；".join(parts)

    def filter_name(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(Q(name__icontains=value) | Q(short_name__icontains=value))

    def filter_subtree(self, queryset, name, value):
        return queryset.filter(division__path__startswith=value.path)
