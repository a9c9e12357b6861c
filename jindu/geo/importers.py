"""Grid import from xlsx/csv: one row per grid under a village (村居代码, 网格名称, 网格编码);
population figures (:class:`PopulationImporter`, below).

Rows are validated by :class:`jindu.geo.forms.GridForm` (the form of the village page)
and written by :func:`jindu.geo.services.create_grid`, so an imported grid gets the same
checks, code allocation, audit event and scope re-check as one added by hand. A row whose
village and name match an existing grid changes nothing (reported as unchanged); a code
contradicting that grid's is refused.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from jindu.core.imports import ChoiceColumn, CodeColumn, ForeignKeyColumn, Importer, IntegerColumn, TextColumn, register
from jindu.core.scope import ADD, CHANGE
from jindu.geo.forms import GridForm, PopulationForm, divisions_for_population, villages_for_grids
from jindu.geo.models import Division, Population
from jindu.geo.services import POPULATION_FIELDS, create_grid, create_population, update_population


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


def _padded_division_code(code: str) -> str:
    # 460107 → 460107000000: the short codes people write for districts and towns.
    return code.ljust(12, "0") if code.isdigit() and len(code) in (2, 4, 6, 9) else code


def _divisions_for_population(user):
    return divisions_for_population(user, ADD) | divisions_for_population(user, CHANGE)


@register
class PopulationImporter(Importer):
    """Population figures (区划代码, 年度, 口径, 人口数, 来源文件, 出处, 可信度), one row each.

    Rows are validated by :class:`jindu.geo.forms.PopulationForm` and written by
    :func:`jindu.geo.services.create_population` / :func:`~jindu.geo.services.update_population`
    (history, audit event, scope re-check). A row matching an existing figure (division,
    year, kind) with the same values changes nothing, so a repeated import is a no-op; with
    other values it corrects the figure. A division outside where the user may add or
    change figures is refused with its row number; nothing of the file is written then.
    """

    name = "geo.population"
    label = _("人口数据")
    model = Population
    form_class = PopulationForm
    key_fields = ("division", "year", "kind")
    columns = [
        ForeignKeyColumn(
            "division", _("区划代码"), queryset=_divisions_for_population, name_field=None,
            normalize_code=_padded_division_code,
            help=_("12位统计用区划代码（也可填6位区县、9位镇街代码），单元格须为文本格式，如 460107000000"),
        ),
        IntegerColumn("year", _("年度"), help=_("四位年份，如 2020")),
        ChoiceColumn("kind", _("口径"), choices=Population.Kind),
        IntegerColumn("population", _("人口数"), help=_("单位：人，整数（不要填“万人”）")),
        TextColumn("source_doc", _("来源文件"), help=_("必填：发布机关与文件名称")),
        TextColumn("source_ref", _("出处"), required=False, help=_("可不填：页码、表号或网址")),
        ChoiceColumn("confidence", _("可信度"), required=False,
                     choices=[("high", _("高")), ("medium", _("中")), ("low", _("低"))]),
    ]

    def get_form_kwargs(self, *, user, instance):
        return {"user": user}

    def save(self, form, *, user, created):
        data = {f: form.cleaned_data[f] for f in POPULATION_FIELDS if f in form.cleaned_data}
        if created:
            return create_population(user=user, data=data)
        figure, _changed = update_population(user=user, figure=form.instance, data=data, reason=str(_("Excel 导入")))
        return figure
