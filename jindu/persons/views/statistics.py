"""The registry's statistics page (人员统计): people by status, tier, drug and division; new
finds and relapses; share of current users in the population with the figure's source; the
execution and handover rates; contacts and tests done vs due; help given.

Every figure comes from :mod:`jindu.persons.indicators` (scoped to the user, grouped queries).
The page shows counts only, no person, so it writes no access-log row.
"""

from __future__ import annotations

from decimal import Decimal

from django import forms
from django.utils.translation import gettext_lazy as _
from django.views.generic import TemplateView

from jindu.core.scope import VIEW
from jindu.core.timeutils import local_today, parse_period, year_period
from jindu.core.views.mixins import ScopedPermissionMixin
from jindu.geo.choices import Level
from jindu.geo.forms import DivisionChoiceField
from jindu.geo.models import Division
from jindu.persons import indicators
from jindu.persons.choices import CURRENT_USER_STATUSES, Status
from jindu.persons.models import Person

LEVEL_CHOICES = [(Level.DISTRICT, _("区县")), (Level.TOWN, _("镇街")), (Level.VILLAGE, _("村居"))]
#: Status columns of the by-division table (the others add up into "其他").
STATUS_COLUMNS = (Status.COMMUNITY_DRUG_REHAB, Status.COMMUNITY_REHAB, Status.ISOLATION, Status.ABSTINENT_3Y)
DRUG_ROWS = 12
#: Divisions named in the "no population figure" notice before it says "等 N 个".
MISSING_NAMES = 10


class StatisticsForm(forms.Form):
    """Picks the period (a label: ``2025``, ``2025-Q1``, ``2025-03``), the division and the
    level the people are grouped by."""

    period = forms.CharField(label=_("统计周期"), max_length=10, required=False,
                             help_text=_("年（2025）、季度（2025-Q1）或月（2025-03）"),
                             widget=forms.TextInput(attrs={"class": "form-control", "placeholder": "2025-03"}))
    division = DivisionChoiceField(label=_("区划"), queryset=Division.objects.none(), required=False,
                                   empty_label=_("全部（本人辖区）"), widget=forms.Select(attrs={"class": "form-select"}))
    level = forms.ChoiceField(label=_("分组层级"), choices=LEVEL_CHOICES, required=False,
                              widget=forms.Select(attrs={"class": "form-select"}))

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["division"].queryset = (Division.objects.restrict(user, VIEW)
                                            .filter(level__in=(Level.DISTRICT, Level.TOWN)).order_by("path"))

    def clean_period(self):
        value = (self.cleaned_data.get("period") or "").strip()
        if not value:
            return year_period(local_today().year)
        try:
            period = parse_period(value)
        except ValueError:
            raise forms.ValidationError(_("统计周期格式不正确：应为年（2025）、季度（2025-Q1）或月（2025-03），收到“%(value)s”。")
                                        % {"value": value}) from None
        if period.kind not in ("year", "quarter", "month"):
            raise forms.ValidationError(_("统计周期只能是年、季度或月，收到“%(value)s”。") % {"value": value})
        return period

    def clean_level(self):
        return self.cleaned_data.get("level") or ""


def _default_level(division: Division | None, roots: list[Division]) -> str:
    """Group one level below the selection: towns of a district, villages of a town."""
    top = division or (roots[0] if len(roots) == 1 else None)
    if top is not None and top.level == Level.DISTRICT:
        return Level.TOWN
    if top is not None and top.level in (Level.TOWN, Level.VILLAGE):
        return Level.VILLAGE
    return Level.DISTRICT


def _number(value: Decimal | int | None) -> str | int | None:
    """A chart value: counts as JSON numbers, decimals as their exact text (ECharts reads
    numeric strings), so no float rounding reaches the chart either."""
    if value is None:
        return None
    return str(value) if isinstance(value, Decimal) else value


def _share_table(rows, total) -> list:
    for r in rows:
        r.total = False
    if total is not None:
        total.total = True
        return [*rows, total]
    return list(rows)


def _missing_population(rows) -> dict | None:
    """The divisions of the share table without a population figure, for the notice that
    names the missing figure: ``{"count", "names" (the first MISSING_NAMES, then "等"),
    "below_district" (a town or village among them)}``
    or ``None`` when every division has one. Population figures are an input with a source
    (``geo.Population``); the shipped ones stop at districts (census bulletins of the city
    and its districts, ``jindu/geo/data/population.md``), so towns and villages have none
    until an administrator enters them — never an estimate."""
    missing = [r.division for r in rows if r.population is None]
    if not missing:
        return None
    names = "、".join(d.name for d in missing[:MISSING_NAMES])
    if len(missing) > MISSING_NAMES:
        names = _("%(names)s等") % {"names": names}
    return {"count": len(missing), "names": names,
            "below_district": any(d.level in (Level.TOWN, Level.VILLAGE) for d in missing)}


def _rate_row(r, *, total: bool = False) -> dict:
    """One line of the rates table: execution, on-time reporting, pickup — each with the
    numbers it is computed from (releases still inside their 15 days are not counted)."""
    return {"division": r.division, "total": total, "cells": [
        {"rate": r.execution_rate, "part": r.executed, "whole": r.decisions},
        {"rate": r.handover_rate, "part": r.reported_on_time, "whole": r.releases - r.pending},
        {"rate": r.pickup_rate, "part": r.received_on_day, "whole": r.releases},
    ]}


class StatisticsView(ScopedPermissionMixin, TemplateView):
    """人员统计: the registry's indicators for a period and a division of the user's scope."""

    model = Person
    action = VIEW
    template_name = "persons/statistics.html"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        user = self.request.user
        form = StatisticsForm(self.request.GET or None, user=user)
        ctx.update(form=form, tab="statistics")
        if self.request.GET and not form.is_valid():
            ctx["stats"] = None
            return ctx
        data = form.cleaned_data if self.request.GET else {}
        period = data.get("period") or year_period(local_today().year)
        division = data.get("division")
        visible = list(form.fields["division"].queryset)
        roots = [d for d in visible if not any(d.path.startswith(o.path) and d != o for o in visible)]
        level = data.get("level") or _default_level(division, roots)
        ctx.update(period=period, division=division, level=level, level_label=dict(LEVEL_CHOICES)[level])
        ctx["stats"] = self._stats(user, period, division, level)
        ctx["charts"] = self._charts(ctx["stats"])
        return ctx

    def _stats(self, user, period, division, level):
        today = local_today()
        as_of = min(period.last, today)
        series = indicators.series_periods(period)
        by_division = indicators.people_by_division(user, level, division=division, as_of=as_of)
        by_status = indicators.status_rows(by_division)
        share_rows, share_total = indicators.current_user_share(user, period.last.year, level=level,
                                                                division=division, as_of=as_of,
                                                                by_division=by_division)
        finds = indicators.new_finds(user, series, division=division)
        relapses = indicators.relapses(user, series, division=division)
        rates = indicators.handover_rates(user, period, division=division, today=today)
        rate_rows = indicators.handover_rates_by_division(user, period, parent=division, today=today)
        help_summary = indicators.help_given(user, period, division=division)
        return {
            "as_of": as_of,
            "is_current": as_of == today,
            "current_users": sum(r.count for r in by_status if r.key in CURRENT_USER_STATUSES),
            "registered": sum(r.count for r in by_status),
            "by_status": by_status,
            "by_tier": indicators.people_by_tier(user, division=division),
            "by_drug": indicators.people_by_drug(user, division=division)[:DRUG_ROWS],
            "by_division": [
                {"row": r, "cols": [r.by_status.get(s.value, 0) for s in STATUS_COLUMNS]} for r in by_division],
            "status_columns": [s.label for s in STATUS_COLUMNS],
            "share_rows": share_rows,
            "share_table": _share_table(share_rows, share_total),
            "share_chart": [r for r in share_rows if r.per_mille is not None],
            "share_missing": _missing_population(share_rows),
            "share_year": period.last.year,
            "finds": finds,
            "relapses": relapses,
            "finds_total": sum(p.count for p in finds),
            "relapses_total": sum(p.count for p in relapses),
            "rates": rates,
            "rate_table": [_rate_row(r) for r in rate_rows] + [_rate_row(rates, total=True)],
            "urinalysis": indicators.urinalyses_done_vs_due(user, period, division=division),
            "contacts": indicators.contacts_done_vs_due(user, period, division=division),
            "tests": indicators.tests_done(user, period, division=division),
            "help": help_summary,
        }

    def _charts(self, s):
        return {
            "status": {"type": "pie", "title": str(_("按管控状态")),
                       "data": [{"name": r.label, "value": r.count} for r in s["by_status"] if r.count]},
            "tier": {"type": "pie", "title": str(_("按风险等级（现有吸毒人员）")),
                     "data": [{"name": r.label, "value": r.count} for r in s["by_tier"] if r.count]},
            "trend": {"type": "line", "categories": [p.period.label for p in s["finds"]],
                      "series": [{"name": str(_("新发现吸毒人员")), "data": [p.count for p in s["finds"]]},
                                 {"name": str(_("复吸（人次）")), "data": [p.count for p in s["relapses"]]}]},
            "division": {"type": "bar", "stack": True,
                         "categories": [d["row"].label for d in s["by_division"]],
                         "series": [{"name": str(_("现有吸毒人员")), "data": [d["row"].current for d in s["by_division"]]},
                                    {"name": str(_("其他在册人员")),
                                     "data": [d["row"].total - d["row"].current for d in s["by_division"]]}]},
            # Only the divisions with a share: a bar of "no figure" would read as zero.
            "share": {"type": "bar", "unit": "‰",
                      "categories": [r.division.name for r in s["share_chart"]],
                      "series": [{"name": str(_("现有吸毒人员占比（‰）")),
                                  "data": [_number(r.per_mille) for r in s["share_chart"]]}]},
            "help": {"type": "bar", "categories": [r.label for r in s["help"].rows],
                     "series": [{"name": str(_("帮扶人次")), "data": [r.person_times for r in s["help"].rows]},
                                {"name": str(_("帮扶人数")), "data": [r.people for r in s["help"].rows]}]},
        }
