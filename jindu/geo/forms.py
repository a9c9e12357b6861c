"""Grid forms: one validation path for the village page, the API-free import and manual entry."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from jindu.core.scope import ADD
from jindu.geo.choices import Level
from jindu.geo.models import Division
from jindu.geo.services import GRID_NAME_MAX, check_grid_code, clean_grid_name


def villages_for_grids(user: Any):
    """Villages where ``user`` may add grids (``geo.add_division`` in their subtree)."""
    return Division.objects.restrict(user, ADD).filter(level=Level.VILLAGE, is_active=True)


class VillageChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return f"{obj.name}（{obj.code}）"


class GridForm(forms.ModelForm):
    """A new grid under a village (``parent``), or — in imports — a row matching an
    existing grid by village and name, which must not contradict its code.

    The writes go through :mod:`jindu.geo.services`, which re-checks everything under lock.
    """

    parent = VillageChoiceField(queryset=Division.objects.none(), label=_("村居"))
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
