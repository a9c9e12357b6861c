"""Target import from xlsx/csv: one row per target, created or updated by
(所属区划, 检查对象类型, 名称).

Rows are validated by :class:`jindu.inspections.forms.TargetForm` (the form of the target
edit page) and written by :func:`jindu.inspections.services.create_target` /
``update_target``, so an imported target gets the same checks, audit event, version and
scope re-check as one typed in.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from jindu.core.imports import ChoiceColumn, DecimalColumn, Importer, PhoneColumn, TextColumn, register
from jindu.core.scope import ADD, CHANGE
from jindu.inspections.choices import TargetKind
from jindu.inspections.forms import TargetForm
from jindu.inspections.models import Target
from jindu.inspections.services import TARGET_FIELDS, create_target, update_target
from jindu.org.importers import DivisionColumn


@register
class TargetImporter(Importer):
    name = "inspections.target"
    label = _("检查对象")
    model = Target
    form_class = TargetForm
    key_fields = ("division", "kind", "name")
    personal_data = True
    columns = [
        TextColumn("name", _("名称")),
        ChoiceColumn("kind", _("检查对象类型"), choices=TargetKind),
        DivisionColumn("division", _("所属区划"), aliases=(_("区划代码"),)),
        TextColumn("address", _("地址")),
        DecimalColumn("longitude", _("经度")),
        DecimalColumn("latitude", _("纬度")),
        TextColumn("licence_number", _("许可证/执照编号")),
        TextColumn("operator_name", _("负责人")),
        PhoneColumn("operator_phone", _("负责人电话")),
    ]

    def get_form_kwargs(self, *, user, instance):
        return {"user": user, "action": ADD if instance.pk is None else CHANGE}

    def save(self, form, *, user, created):
        if created:
            data = {f: form.cleaned_data[f] for f in TARGET_FIELDS if f in form.cleaned_data}
            return create_target(user=user, data=data)
        changed = set(form.changed_data)
        data = {f: form.cleaned_data[f] for f in TARGET_FIELDS if f in changed and f in form.cleaned_data}
        target, _changed = update_target(user=user, target=form.instance, data=data,
                                         expected_version=form.cleaned_data.get("version") or form.instance.version)
        return target
