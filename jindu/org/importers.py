"""Unit import from xlsx/csv: one row per unit, created or updated by (所属区划, 单位名称).

Rows are validated by :class:`jindu.org.forms.UnitForm` (the form of the unit edit page)
and written by :func:`jindu.org.services.create_unit` / ``update_unit``, so an imported
unit gets the same checks, audit event, version and scope re-check as one typed in.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _

from jindu.core.imports import ChoiceColumn, ForeignKeyColumn, Importer, PhoneColumn, TextColumn, register
from jindu.core.scope import ADD, CHANGE, VIEW
from jindu.geo.models import Division
from jindu.org.choices import UnitKind
from jindu.org.forms import UnitForm
from jindu.org.models import Unit
from jindu.org.services import UNIT_FIELDS, create_unit, update_unit


def pad_division_code(code: str) -> str:
    """Short statistical codes (6-digit district, 9-digit town) → the 12-digit code."""
    if code.isdigit() and len(code) in (2, 4, 6, 9):
        return code.ljust(12, "0")
    return code


def visible_divisions(user: Any):
    return Division.objects.restrict(user, VIEW)


class DivisionColumn(ForeignKeyColumn):
    """A division by its 12-digit statistical code (6/9-digit short codes are padded) or by
    its exact name; an ambiguous name is refused asking for the code. Only divisions the
    user may see are found."""

    def __init__(self, field: str, header: Any, **kwargs: Any):
        kwargs.setdefault("queryset", visible_divisions)
        kwargs.setdefault("code_length", 12)
        kwargs.setdefault("normalize_code", pad_division_code)
        kwargs.setdefault("help", _("12位统计用区划代码（如 460106000000），或唯一的区划名称"))
        super().__init__(field, header, **kwargs)


@register
class UnitImporter(Importer):
    name = "org.unit"
    label = _("单位")
    model = Unit
    form_class = UnitForm
    key_fields = ("division", "name")
    columns = [
        TextColumn("name", _("单位名称")),
        TextColumn("short_name", _("简称")),
        ChoiceColumn("kind", _("单位类型"), choices=UnitKind),
        DivisionColumn("division", _("所属区划"), aliases=(_("区划代码"),)),
        TextColumn("head_name", _("负责人")),
        TextColumn("head_title", _("负责人职务")),
        PhoneColumn("phone", _("联系电话")),
        TextColumn("address", _("地址")),
    ]

    def get_form_kwargs(self, *, user, instance):
        return {"user": user, "action": ADD if instance.pk is None else CHANGE}

    def save(self, form, *, user, created):
        if created:
            data = {f: form.cleaned_data[f] for f in UNIT_FIELDS if f in form.cleaned_data}
            return create_unit(user=user, data=data, jurisdiction=form.cleaned_data.get("jurisdiction") or [])
        # An update writes only what the row changes: fields the file has no column for
        # (the form got their current values) are never touched (B2).
        changed = set(form.changed_data)
        data = {f: form.cleaned_data[f] for f in UNIT_FIELDS if f in changed and f in form.cleaned_data}
        jurisdiction = form.cleaned_data.get("jurisdiction") if "jurisdiction" in changed else None
        unit, _changed = update_unit(
            user=user, unit=form.instance, data=data, jurisdiction=jurisdiction,
            expected_version=form.cleaned_data.get("version") or form.instance.version,
        )
        return unit
