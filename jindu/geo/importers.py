"""Grid import from xlsx/csv: one row per grid under a village (村居代码, 网格名称, 网格编码).

Rows are validated by :class:`jindu.geo.forms.GridForm` (the form of the village page)
and written by :func:`jindu.geo.services.create_grid`, so an imported grid gets the same
checks, code allocation, audit event and scope re-check as one added by hand. A row whose
village and name match an existing grid changes nothing (reported as unchanged); a code
contradicting that grid's is refused.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from jindu.core.imports import CodeColumn, ForeignKeyColumn, Importer, TextColumn, register
from jindu.geo.forms import GridForm, villages_for_grids
from jindu.geo.models import Division
from jindu.geo.services import create_grid


@register
class GridImporter(Importer):
    name = "geo.grid"
    label = _("网格")
    model = Division
    form_class = GridForm
    key_fields = ("parent", "name")
    columns = [
        ForeignKeyColumn(
            "parent", _("村居代码"), queryset=villages_for_grids, code_length=12, name_field=None,
            help=_("12位村居（社区）统计用区划代码，单元格须为文本格式，如 460106001001"),
        ),
        TextColumn("name", _("网格名称")),
        CodeColumn("code", _("网格编码"), required=False,
                   help=_("可不填；填写时须为“村居代码-序号”，如 460106001001-01")),
    ]

    def get_form_kwargs(self, *, user, instance):
        return {"user": user}

    def match_queryset(self, *, user):
        return super().match_queryset(user=user).filter(level="grid")

    def save(self, form, *, user, created):
        data = form.cleaned_data
        return create_grid(user=user, village=data["parent"], name=data["name"], code=data.get("code") or None)
