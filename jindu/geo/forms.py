"""The division pickers every app's forms use (:class:`DivisionChoiceField`,
:class:`DivisionMultipleChoiceField`); grid and population forms: one validation path for
the pages, the imports and manual entry."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.utils.translation import gettext_lazy as _

from jindu.core.scope import ADD, CHANGE
from jindu.core.text import normalize_text
from jindu.geo.choices import Level
from jindu.geo.models import Division, Population, short_code_for
from jindu.geo.services import (
    GRID_NAME_MAX,
    check_grid_code,
    clean_grid_name,
    duplicate_population_message,
    population_fingerprint,
)


def villages_for_grids(user: Any):
    """Villages where ``user`` may add grids (``geo.add_division`` in their subtree)."""
    return Division.objects.restrict(user, ADD).filter(level=Level.VILLAGE, is_active=True)


def division_label(division: Division) -> str:
    """How a division is named in every division picker: its parent, then itself, then its
    code as long as its level needs — ``"府城街道 · 红城湖社区（460107001001）"``,
    ``"琼山区 · 府城街道（460107001）"``, ``"红城湖社区 · 第一网格（460107001001-01）"``.

    The parent tells same-named villages (or towns) apart; the code is what users type to
    find one. Reads ``division.parent`` — select it with the division (the fields below
    do) or each label costs a query.
    """
    parent = division.parent if division.parent_id else None
    name = f"{parent.name} · {division.name}" if parent is not None else division.name
    return f"{name}（{short_code_for(division.code, division.level)}）"


class _DivisionChoices:
    """What the division pickers share: labels from :func:`division_label`, the parents
    fetched in the same query as the choices, and ``data-searchable`` on the widget so
    ``jindu/static/jindu/searchable-select.js`` lets users type a name or a code (a plain
    ``<select>`` without JavaScript). The queryset — the form's scoping — is used as given."""

    def _set_queryset(self, queryset):
        if queryset is not None:
            queryset = queryset.select_related("parent")
        super()._set_queryset(queryset)

    queryset = property(forms.ModelChoiceField._get_queryset, _set_queryset)

    def label_from_instance(self, obj):
        return division_label(obj)

    def widget_attrs(self, widget):
        attrs = super().widget_attrs(widget)
        if isinstance(widget, forms.Select):
            attrs.update({
                "data-searchable": "",
                "data-searchable-placeholder": _("输入名称或区划代码查找"),
                "data-searchable-empty": _("没有匹配的区划"),
            })
        return attrs


class DivisionChoiceField(_DivisionChoices, forms.ModelChoiceField):
    """One division, chosen from the form's queryset (see :class:`_DivisionChoices`)."""


class DivisionMultipleChoiceField(_DivisionChoices, forms.ModelMultipleChoiceField):
    """Several divisions, chosen from the form's queryset (see :class:`_DivisionChoices`)."""


class GridForm(forms.ModelForm):
    """A new grid under a village (``parent``), or — in imports — a row matching an
    existing grid by village and name, which must not contradict its code.

    The writes go through :mod:`jindu.geo.services`, which re-checks everything under lock.
    """

    parent = DivisionChoiceField(queryset=Division.objects.none(), label=_("村居"))
    name = forms.CharField(label=_("网格名称"), max_length=GRID_NAME_MAX)
    code = forms.CharField(
        label=_("网格编码"), required=False, max_length=32,
        help_text=_("可不填，系统按“村居代码-序号”自动编号。"),
    )

    class Meta:
        model = Division
        fields = ["parent", "name", "code"]

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk is None:
            self.instance.level = Level.GRID
        self.fields["parent"].queryset = villages_for_grids(user)
        for field in self.fields.values():
            field.widget.attrs.setdefault("class", "form-control")
        self.fields["parent"].widget.attrs["class"] = "form-select"

    def clean_name(self):
        try:
            return clean_grid_name(self.cleaned_data.get("name", ""))
        except ValidationError as exc:
            raise ValidationError(exc.message_dict["name"]) from None

    def clean(self):
        cleaned = super().clean()
        village, name, code = cleaned.get("parent"), cleaned.get("name"), cleaned.get("code") or ""
        if village is None or not name:
            return cleaned
        if self.instance.pk:
            # Matched an existing grid by (village, name): a code in the row must be its own.
            if code and code != self.instance.code:
                self.add_error("code", _("网格“%(name)s”已存在，编码为 %(code)s，与填写的 %(given)s 不符。")
                               % {"name": name, "code": self.instance.code, "given": code})
            return cleaned
        if Division.objects.filter(parent=village, level=Level.GRID, name=name).exists():
            self.add_error("name", _("%(village)s已有名为“%(name)s”的网格（含已停用网格）。")
                           % {"village": village.name, "name": name})
        if code:
            try:
                cleaned["code"] = check_grid_code(code, village)
            except ValidationError as exc:
                self.add_error("code", exc.message_dict["code"])
        return cleaned

    def _post_clean(self):
        # Model validation would demand a code and a level; the service sets both.
        pass

    def has_changed(self):
        # An import row matching an existing grid (same village and name, same or no code)
        # changes nothing; grids are renamed on their page, not by import.
        return self.instance.pk is None


class GridRenameForm(forms.Form):
    # The name the editor saw: a rename over someone else's newer rename is refused.
    current_name = forms.CharField(required=False, widget=forms.HiddenInput)
    name = forms.CharField(label=_("新名称"), max_length=GRID_NAME_MAX)
    reason = forms.CharField(label=_("原因"), max_length=500, required=False)


class GridDeactivateForm(forms.Form):
    reason = forms.CharField(label=_("原因"), max_length=500, required=False)


# -- population figures ---------------------------------------------------------------------

POPULATION_YEAR_MIN = 1949
POPULATION_YEAR_MAX = 2100


def divisions_for_population(user: Any, action: str = ADD):
    """Statistical divisions (no grids) where ``user`` may ``action`` population figures
    (``geo.<action>_population`` in a subtree containing them)."""
    from jindu.core.views.mixins import divisions_where

    return divisions_where(user, Population, action).exclude(level=Level.GRID).filter(is_active=True)


class PopulationForm(forms.ModelForm):
    """One population figure (division × year × kind) with its source; the page's form and
    every import row's validation (:class:`jindu.geo.importers.PopulationImporter`).

    A second figure of the same division, year and kind is refused with a Chinese message
    naming the existing figure (the database constraint ``geo_population_unique`` is the
    last guard, turned into the same message by :func:`jindu.geo.services.create_population`).
    """

    division = DivisionChoiceField(
        queryset=Division.objects.none(), label=_("区划"),
        error_messages={"required": _("请选择区划。"),
                        "invalid_choice": _("所选区划不存在，或不在您可以录入人口数据的范围内。")},
    )
    year = forms.IntegerField(
        label=_("年度"), min_value=POPULATION_YEAR_MIN, max_value=POPULATION_YEAR_MAX,
        error_messages={"required": _("请填写年度。"), "invalid": _("年度应为四位数字，如 2020。"),
                        "min_value": _("年度不能早于 %(limit_value)s 年。"),
                        "max_value": _("年度不能晚于 %(limit_value)s 年。")},
    )
    kind = forms.ChoiceField(
        label=_("口径"), choices=(),
        error_messages={"required": _("请选择口径。"), "invalid_choice": _("口径应为普查常住人口、年末常住人口或户籍人口。")},
    )
    population = forms.IntegerField(
        label=_("人口数"), min_value=1, max_value=2_000_000_000,
        help_text=_("单位：人，填写整数（如 2873358），不要填“万人”。"),
        error_messages={"required": _("请填写人口数。"), "invalid": _("人口数应为整数（单位：人）。"),
                        "min_value": _("人口数应大于 0。"), "max_value": _("人口数过大，请核对单位（人）。")},
    )
    source_doc = forms.CharField(
        label=_("来源文件"), max_length=1000,
        help_text=_("发布机关与文件名称，如“海口市第七次全国人口普查公报（海口市统计局，2021-06）”。"),
        error_messages={"required": _("请填写来源文件：人口数必须注明出处。")},
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    source_ref = forms.CharField(
        label=_("出处"), max_length=2000, required=False,
        help_text=_("可不填：页码、表号或网址。"), widget=forms.Textarea(attrs={"rows": 2}),
    )
    confidence = forms.ChoiceField(
        label=_("可信度"), required=False,
        choices=[("", _("未注明")), ("high", _("高（官方公报、统计年鉴）")), ("medium", _("中（转载、二手资料）")),
                 ("low", _("低（待核实）"))],
        error_messages={"invalid_choice": _("可信度应为高、中、低或不填。")},
    )
    # The stored figure the editor loaded (see population_fingerprint); edits only.
    loaded = forms.CharField(required=False, widget=forms.HiddenInput)

    class Meta:
        model = Population
        fields = ["division", "year", "kind", "population", "source_doc", "source_ref", "confidence"]

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["kind"].choices = [("", "---------"), *Population.Kind.choices]
        editing = self.instance.pk is not None
        self.fields["division"].queryset = divisions_for_population(user, CHANGE if editing else ADD).order_by("code")
        if editing:
            # Also when bound: has_changed() compares against it (an unchanged import row).
            self.initial.setdefault("loaded", population_fingerprint(self.instance))
        for field in self.fields.values():
            field.widget.attrs.setdefault("class", "form-control")
        for name in ("division", "kind", "confidence"):
            self.fields[name].widget.attrs["class"] = "form-select"

    def clean_source_doc(self):
        text = normalize_text(self.cleaned_data.get("source_doc", ""))
        if not text:
            raise ValidationError(_("请填写来源文件：人口数必须注明出处。"))
        return text

    def clean_source_ref(self):
        return normalize_text(self.cleaned_data.get("source_ref", ""))

    def clean(self):
        cleaned = super().clean()
        division, year, kind = cleaned.get("division"), cleaned.get("year"), cleaned.get("kind")
        if division is None or year is None or not kind:
            return cleaned
        existing = Population.objects.filter(division=division, year=year, kind=kind).exclude(pk=self.instance.pk)
        other = existing.first()
        if other is not None:
            self.add_error(None, duplicate_population_message(other))
        return cleaned

    def validate_unique(self):
        # clean() already checked (division, year, kind) with a message naming the figure;
        # Django's generic "already exists" text would repeat it less clearly.
        pass

    def _post_clean(self):
        super()._post_clean()
        # Model.full_clean() also validates the unique constraint (Django ≥ 4.1): drop that
        # generic text, clean() has said it better.
        errors = self._errors.get(NON_FIELD_ERRORS) if self._errors else None
        if errors:
            kept = [e for e in errors.as_data() if e.code != "unique_together"]
            if kept:
                self._errors[NON_FIELD_ERRORS] = self.error_class(
                    kept, error_class="nonfield", renderer=self.renderer)
            else:
                del self._errors[NON_FIELD_ERRORS]
