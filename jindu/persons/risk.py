"""Risk assessment and tiered classification (风险评估 / 分级分类) of people who use drugs.

Pure Python: no models, no database. The lead's services store an :class:`Assessment` (its
:meth:`Assessment.to_dict` is JSON) together with the instrument's ``code`` and ``version``.

**The instrument is data.** :meth:`Instrument.load_default` reads
``persons/data/risk_default.json``, the default of ``casework_rules.md`` §6.1: the seven
factors of 浙公通字〔2022〕65号 art. 2 (ZJ65, confirmed) scored 0–100 (points and thresholds
are *reasoned defaults*: no official points or thresholds were found), four tiers A / B / C1 /
C2 (ZJ65 art. 2), C2 tied to the three-year abstinence rule (上海市禁毒条例 art. 29, 山东省禁毒条例
art. 36), and hard overrides to A from the national 2016 high-risk list (禁毒办通〔2016〕37号,
read only through secondary sources). Every value in the file carries a ``basis`` (where it
comes from) and a ``status`` — ``confirmed`` (read in the cited source), ``reasoned_default``
(ours) or ``uncertain`` (weak source or inference) — so pages can flag unverified values
(:func:`provenance`). Local rules differ (see ``data/SOURCE.md``); a city loads its own file
through :meth:`Instrument.from_dict`, which validates it and lists every problem at once.

Shapes:

- ``answers``: ``{item_code: answer_code}`` for the scored items, plus ``{flag_code: "yes" |
  "no"}`` for the safety flags (questions that score nothing but force tier A).
- :func:`score` → :class:`Assessment`: total, the tier from the score alone, the final tier
  after overrides, the overrides that fired with a Chinese reason, points per item, caps.
- :func:`derive_answers` pre-fills what the timeline (``timeline.PersonState`` and optionally
  the events) can answer; :func:`state_overrides` shows the overrides the timeline forces.
- :func:`reassessment_triggers` lists the events since the last assessment that call for a
  new one (§6.1: positive or missed test, breach, new order, release, change of residence,
  unapproved absence).

Tier thresholds (default): A score ≥ 60 or any override; B 35–59; C ≤ 34, split into C2 when the
three-year rule is met (see :func:`c2_eligibility`) and C1 otherwise.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from django.utils.translation import gettext as _

from jindu.persons.choices import EventKind, Status, TestResult, Tier
from jindu.persons.timeline import PersonState, TimelineEvent

__all__ = [
    "VALUE_STATUSES",
    "STATE_CHECKS",
    "FLAG_ANSWERS",
    "DATA_DIR",
    "ConfigError",
    "AnswerError",
    "Sourced",
    "ValueSource",
    "Answer",
    "Item",
    "Group",
    "Flag",
    "Override",
    "TriggerRule",
    "Instrument",
    "ItemScore",
    "GroupScore",
    "OverrideHit",
    "Assessment",
    "DerivedAnswers",
    "Trigger",
    "provenance",
    "score",
    "c2_eligibility",
    "state_overrides",
    "derive_answers",
    "reassessment_triggers",
    "trigger_rule_for",
    "add_months",
    "months_between",
]

#: How sure a configured value is (casework_rules.md "Marking used on every value").
VALUE_STATUSES = ("confirmed", "reasoned_default", "uncertain")
#: Timeline facts an override may test (``"when": {"state": ...}``).
STATE_CHECKS = ("refused_measure", "serious_breach", "positive_within_days")
#: Answers of a safety flag.
FLAG_ANSWERS = ("yes", "no")
#: Shipped default configuration (risk instrument and schedules) and its SOURCE.md.
DATA_DIR = Path(__file__).resolve().parent / "data"

_TEST_KINDS = (EventKind.URINALYSIS.value, EventKind.HAIR_TEST.value)


# --- month arithmetic (shared with schedule.py) ------------------------------------------


def add_months(d: dt.date, months: int) -> dt.date:
    """``d`` plus ``months`` calendar months, clamped to the month's last day.

    2024-01-31 + 1 → 2024-02-29; 2023-01-31 + 1 → 2023-02-28; 2024-02-29 + 12 → 2025-02-28.
    Negative ``months`` go back the same way.
    """
    index = d.year * 12 + (d.month - 1) + months
    year, month0 = divmod(index, 12)
    month = month0 + 1
    if month == 12:
        last_day = 31
    else:
        last_day = (dt.date(year, month + 1, 1) - dt.timedelta(days=1)).day
    return dt.date(year, month, min(d.day, last_day))


def months_between(start: dt.date, end: dt.date) -> int:
    """Whole calendar months completed from ``start`` to ``end``: the largest ``m`` with
    ``add_months(start, m) <= end`` (negative when ``end`` is before ``start``).

    2024-01-31 → 2024-02-29 is 1 month; 2024-01-15 → 2024-02-14 is 0.
    """
    m = (end.year - start.year) * 12 + (end.month - start.month)
    while add_months(start, m) > end:
        m -= 1
    while add_months(start, m + 1) <= end:
        m += 1
    return m


# --- errors ------------------------------------------------------------------------------


class ConfigError(ValueError):
    """A configuration (instrument or schedule) is invalid.

    ``errors`` lists every problem as ``"<path>：<reason>"`` in Chinese, the path in JSON
    terms (``items[2].answers[0].points``), so an administrator can fix the file in one pass.
    """

    def __init__(self, errors: list[str]):
        self.errors = list(errors)
        super().__init__("\n".join(self.errors))


class AnswerError(ValueError):
    """Answers given to :func:`score` are invalid; ``errors`` lists each problem in Chinese,
    naming the item (its question text) and the reason."""

    def __init__(self, errors: list[str]):
        self.errors = list(errors)
        super().__init__("\n".join(self.errors))


class _Checker:
    """Collects validation errors with their JSON path; shared by risk and schedule configs."""

    def __init__(self):
        self.errors: list[str] = []

    def add(self, path: str, reason: str) -> None:
        self.errors.append(_("%(path)s：%(reason)s") % {"path": path or "（根）", "reason": reason})

    def obj(self, value: Any, path: str) -> dict | None:
        if not isinstance(value, dict):
            self.add(path, _("应为对象（JSON object）"))
            return None
        return value

    def lst(self, value: Any, path: str) -> list | None:
        if not isinstance(value, list):
            self.add(path, _("应为列表（JSON array）"))
            return None
        return value

    def text(self, d: dict, key: str, path: str) -> str | None:
        value = d.get(key)
        if not isinstance(value, str) or not value.strip():
            self.add(f"{path}.{key}" if path else key, _("缺少或为空，应为非空文字"))
            return None
        return value

    def integer(self, value: Any, path: str, *, minimum: int = 0, allow_none: bool = False) -> int | None:
        if value is None and allow_none:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            shown = json.dumps(value, ensure_ascii=False)
            self.add(path, _("应为不小于 %(min)s 的整数，实际为 %(value)s") % {"min": minimum, "value": shown})
            return None
        return value

    def sourced(self, d: dict, path: str) -> bool:
        """Check that ``d`` carries a non-empty ``basis`` and a known ``status``."""
        ok = self.text(d, "basis", path) is not None
        status = d.get("status")
        if status not in VALUE_STATUSES:
            self.add(
                f"{path}.status",
                _("应为 %(allowed)s 之一，实际为 %(value)s")
                % {"allowed": " / ".join(VALUE_STATUSES), "value": json.dumps(status, ensure_ascii=False)},
            )
            ok = False
        return ok

    def unique(self, codes: list[str], path: str) -> None:
        seen: set[str] = set()
        for code in codes:
            if code in seen:
                self.add(path, _("代码 %(code)s 重复") % {"code": code})
            seen.add(code)

    def raise_if_any(self) -> None:
        if self.errors:
            raise ConfigError(self.errors)


# --- configuration shapes ----------------------------------------------------------------


@dataclass(frozen=True)
class Sourced:
    """A configured value with its provenance: ``basis`` (source text) and ``status``
    (``confirmed`` / ``reasoned_default`` / ``uncertain``)."""

    value: Any
    basis: str
    status: str

    @classmethod
    def of(cls, d: Mapping[str, Any]) -> "Sourced":
        return cls(d.get("value"), d["basis"], d["status"])


@dataclass(frozen=True)
class ValueSource:
    """One configured value for the "where does this number come from" page.

    ``path`` is its JSON path in the configuration (``thresholds.A``), ``value`` the value
    (for an object without a ``value`` key, the object minus ``basis``/``status``).
    """

    path: str
    value: Any
    basis: str
    status: str

    @property
    def verified(self) -> bool:
        return self.status == "confirmed"


def provenance(data: Any, path: str = "") -> list[ValueSource]:
    """Every object carrying ``basis`` + ``status`` in a configuration dict, depth first.

    Works on the raw data of an :class:`Instrument` or a ``schedule.ScheduleConfig``
    (their ``to_dict()``). Filter on ``not v.verified`` to list the unverified values.
    """
    out: list[ValueSource] = []
    if isinstance(data, dict):
        if "basis" in data and "status" in data:
            if "value" in data:
                value = data["value"]
            else:
                value = {k: v for k, v in data.items() if k not in ("basis", "status")}
            out.append(ValueSource(path or "（根）", value, data["basis"], data["status"]))
        for key, value in data.items():
            if isinstance(value, (dict, list)):
                out.extend(provenance(value, f"{path}.{key}" if path else key))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            label = value.get("code") if isinstance(value, dict) and isinstance(value.get("code"), str) else i
            out.extend(provenance(value, f"{path}[{label}]"))
    return out


@dataclass(frozen=True)
class Answer:
    code: str
    label: str
    points: int
    basis: str
    status: str


@dataclass(frozen=True)
class Item:
    """A scored question. ``group`` names a :class:`Group` whose cap limits the group's sum."""

    code: str
    text: str
    factor: Sourced
    group: str | None
    max_points: Sourced
    answers: tuple[Answer, ...]

    def answer(self, code: str) -> Answer | None:
        for a in self.answers:
            if a.code == code:
                return a
        return None


@dataclass(frozen=True)
class Group:
    code: str
    label: str
    cap: int
    basis: str
    status: str


@dataclass(frozen=True)
class Flag:
    """A yes/no safety question that scores nothing; an override may force tier A on "yes"."""

    code: str
    text: str
    basis: str
    status: str


@dataclass(frozen=True)
class Override:
    """A situation that forces tier A whatever the score.

    Exactly one of ``state`` (a :data:`STATE_CHECKS` name evaluated on the ``PersonState``)
    or ``flag`` (a :class:`Flag` code answered "yes"). ``days`` is the window of
    ``positive_within_days``.
    """

    code: str
    label: str
    state: str | None
    flag: str | None
    days: Sourced | None
    basis: str
    status: str


@dataclass(frozen=True)
class TriggerRule:
    """An event that calls for a reassessment (casework_rules.md §6.1 "dynamic adjustment").

    Matches an event whose kind is in ``event_kinds``; for test kinds, ``results`` (when
    given) restricts the results; ``unapproved_only`` keeps only ``approved is False``
    (``left_county``).
    """

    code: str
    label: str
    event_kinds: tuple[str, ...]
    results: tuple[str, ...] | None
    unapproved_only: bool
    basis: str
    status: str

    def matches(self, event: TimelineEvent) -> bool:
        if event.kind not in self.event_kinds:
            return False
        if self.results is not None and event.result not in self.results:
            return False
        if self.unapproved_only and event.approved is not False:
            return False
        return True


@dataclass(frozen=True)
class Instrument:
    """A validated risk instrument. Build with :meth:`from_dict` / :meth:`load_default`."""

    code: str
    name: str
    version: str
    source: Sourced
    score_max: Sourced
    groups: tuple[Group, ...]
    items: tuple[Item, ...]
    flags: tuple[Flag, ...]
    thresholds: dict[str, Sourced] = field(compare=False)
    tiers: Sourced = field(compare=False)
    c2_rule: dict[str, Sourced] = field(compare=False)
    breach_thresholds: dict[str, Sourced] = field(compare=False)
    overrides: tuple[Override, ...] = ()
    triggers: tuple[TriggerRule, ...] = ()
    data: dict = field(default_factory=dict, compare=False, repr=False)

    # -- construction --

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Instrument":
        """Validate ``data`` (the JSON shape of ``risk_default.json``) and build an instrument.

        Raises :class:`ConfigError` listing every problem (path and reason, in Chinese):
        missing or empty fields, a value without ``basis``/``status``, unknown status,
        duplicate codes, negative points, an answer above its item's ``max_points``, a group
        that does not exist, maxima adding up to more than ``score_max``, thresholds not
        ``0 < B < A <= score_max``, unknown tiers, overrides naming an unknown state check
        or flag, triggers naming unknown event kinds or results.
        """
        c = _Checker()
        d = c.obj(copy.deepcopy(dict(data)) if isinstance(data, Mapping) else data, "")
        if d is None:
            c.raise_if_any()
        for key in ("code", "name", "version"):
            c.text(d, key, "")
        for key in ("source", "score_max", "tiers"):
            if (v := c.obj(d.get(key), key)) is not None:
                c.sourced(v, key)
        score_max = None
        if isinstance(d.get("score_max"), dict):
            score_max = c.integer(d["score_max"].get("value"), "score_max.value", minimum=1)
        tiers_value = d.get("tiers", {}).get("value") if isinstance(d.get("tiers"), dict) else None
        if tiers_value is not None and list(tiers_value) != [t.value for t in Tier]:
            c.add("tiers.value", _("应为 %(tiers)s") % {"tiers": json.dumps([t.value for t in Tier])})

        groups: dict[str, int | None] = {}
        for i, g in enumerate(c.lst(d.get("groups", []), "groups") or []):
            p = f"groups[{i}]"
            if (g := c.obj(g, p)) is None:
                continue
            code = c.text(g, "code", p)
            c.text(g, "label", p)
            cap = c.integer(g.get("cap"), f"{p}.cap", minimum=1)
            c.sourced(g, p)
            if code:
                if code in groups:
                    c.add(p, _("代码 %(code)s 重复") % {"code": code})
                groups[code] = cap

        item_codes: list[str] = []
        ungrouped_max = 0
        group_max: dict[str, int] = {}
        for i, it in enumerate(c.lst(d.get("items"), "items") or []):
            p = f"items[{i}]"
            if (it := c.obj(it, p)) is None:
                continue
            code = c.text(it, "code", p)
            if code:
                item_codes.append(code)
            c.text(it, "text", p)
            if (f := c.obj(it.get("factor"), f"{p}.factor")) is not None:
                c.sourced(f, f"{p}.factor")
                c.text(f, "value", f"{p}.factor")
            max_points = None
            if (m := c.obj(it.get("max_points"), f"{p}.max_points")) is not None:
                c.sourced(m, f"{p}.max_points")
                max_points = c.integer(m.get("value"), f"{p}.max_points.value", minimum=0)
            group = it.get("group")
            if group is not None and group not in groups:
                c.add(f"{p}.group", _("分组 %(group)s 不存在（应为 groups 中的代码或 null）") % {"group": group})
            answers = c.lst(it.get("answers"), f"{p}.answers") or []
            if isinstance(it.get("answers"), list) and not answers:
                c.add(f"{p}.answers", _("至少要有一个答案"))
            answer_codes = []
            for j, a in enumerate(answers):
                ap = f"{p}.answers[{j}]"
                if (a := c.obj(a, ap)) is None:
                    continue
                if acode := c.text(a, "code", ap):
                    answer_codes.append(acode)
                c.text(a, "label", ap)
                c.sourced(a, ap)
                points = c.integer(a.get("points"), f"{ap}.points", minimum=0)
                if points is not None and max_points is not None and points > max_points:
                    c.add(
                        f"{ap}.points",
                        _("分值 %(points)s 超过本项最高分 %(max)s") % {"points": points, "max": max_points},
                    )
            c.unique(answer_codes, f"{p}.answers")
            if max_points is not None:
                if group in groups:
                    group_max[group] = group_max.get(group, 0) + max_points
                elif group is None:
                    ungrouped_max += max_points
        c.unique(item_codes, "items")

        flag_codes: list[str] = []
        for i, fl in enumerate(c.lst(d.get("flags", []), "flags") or []):
            p = f"flags[{i}]"
            if (fl := c.obj(fl, p)) is None:
                continue
            if code := c.text(fl, "code", p):
                flag_codes.append(code)
            c.text(fl, "text", p)
            c.sourced(fl, p)
        c.unique(flag_codes, "flags")
        for code in set(flag_codes) & set(item_codes):
            c.add("flags", _("代码 %(code)s 与评分项目重复") % {"code": code})

        if score_max is not None:
            total = ungrouped_max + sum(min(v, groups.get(k) or v) for k, v in group_max.items())
            if total > score_max:
                c.add(
                    "items",
                    _("各项最高分合计 %(total)s 超过总分上限 score_max %(max)s") % {"total": total, "max": score_max},
                )

        th = c.obj(d.get("thresholds"), "thresholds") or {}
        a_min = b_min = None
        for tier in ("A", "B"):
            if (t := c.obj(th.get(tier), f"thresholds.{tier}")) is not None:
                c.sourced(t, f"thresholds.{tier}")
                value = c.integer(t.get("value"), f"thresholds.{tier}.value", minimum=1)
                if tier == "A":
                    a_min = value
                else:
                    b_min = value
        for extra in set(th) - {"A", "B"}:
            c.add(f"thresholds.{extra}", _("未知的等级阈值（只能设置 A、B；C 为低于 B 的分数）"))
        if a_min is not None and b_min is not None and not b_min < a_min:
            c.add("thresholds", _("B 级起点 %(b)s 应小于 A 级起点 %(a)s") % {"b": b_min, "a": a_min})
        if a_min is not None and score_max is not None and a_min > score_max:
            c.add("thresholds.A", _("A 级起点 %(a)s 超过总分上限 %(max)s") % {"a": a_min, "max": score_max})

        c2 = c.obj(d.get("c2_rule"), "c2_rule") or {}
        for key in ("requires_three_year_rule", "excluded_if_refused_measure", "excluded_if_serious_breach"):
            if (v := c.obj(c2.get(key), f"c2_rule.{key}")) is not None:
                c.sourced(v, f"c2_rule.{key}")
                if not isinstance(v.get("value"), bool):
                    c.add(f"c2_rule.{key}.value", _("应为 true 或 false"))

        bt = c.obj(d.get("breach_thresholds"), "breach_thresholds") or {}
        for key in ("refused_tests", "unapproved_departures", "days_away_over"):
            if (v := c.obj(bt.get(key), f"breach_thresholds.{key}")) is not None:
                c.sourced(v, f"breach_thresholds.{key}")
                c.integer(v.get("value"), f"breach_thresholds.{key}.value", minimum=1)

        override_codes = []
        for i, o in enumerate(c.lst(d.get("overrides", []), "overrides") or []):
            p = f"overrides[{i}]"
            if (o := c.obj(o, p)) is None:
                continue
            if code := c.text(o, "code", p):
                override_codes.append(code)
            c.text(o, "label", p)
            c.sourced(o, p)
            when = c.obj(o.get("when"), f"{p}.when")
            if when is None:
                continue
            if ("state" in when) == ("flag" in when):
                c.add(f"{p}.when", _("应恰好包含 state 或 flag 之一"))
            elif "state" in when:
                if when["state"] not in STATE_CHECKS:
                    c.add(
                        f"{p}.when.state",
                        _("未知的状态条件 %(value)s（可用：%(allowed)s）")
                        % {"value": when["state"], "allowed": "、".join(STATE_CHECKS)},
                    )
                if when["state"] == "positive_within_days":
                    if (days := c.obj(when.get("days"), f"{p}.when.days")) is not None:
                        c.sourced(days, f"{p}.when.days")
                        c.integer(days.get("value"), f"{p}.when.days.value", minimum=1)
            elif when["flag"] not in flag_codes:
                c.add(f"{p}.when.flag", _("安全问题 %(flag)s 不存在于 flags") % {"flag": when["flag"]})
        c.unique(override_codes, "overrides")

        kinds = {k.value for k in EventKind}
        results = {r.value for r in TestResult}
        trigger_codes = []
        for i, t in enumerate(c.lst(d.get("reassessment_triggers", []), "reassessment_triggers") or []):
            p = f"reassessment_triggers[{i}]"
            if (t := c.obj(t, p)) is None:
                continue
            if code := c.text(t, "code", p):
                trigger_codes.append(code)
            c.text(t, "label", p)
            c.sourced(t, p)
            ek = c.lst(t.get("event_kinds"), f"{p}.event_kinds") or []
            if isinstance(t.get("event_kinds"), list) and not ek:
                c.add(f"{p}.event_kinds", _("至少要有一种事件"))
            for kind in ek:
                if kind not in kinds:
                    c.add(f"{p}.event_kinds", _("未知的事件类型 %(kind)s") % {"kind": kind})
            if t.get("results") is not None:
                for r in c.lst(t["results"], f"{p}.results") or []:
                    if r not in results:
                        c.add(f"{p}.results", _("未知的检测结果 %(result)s") % {"result": r})
                if any(kind not in _TEST_KINDS for kind in ek):
                    c.add(f"{p}.results", _("只有尿检、毛发检测事件可以按检测结果筛选"))
        c.unique(trigger_codes, "reassessment_triggers")
        c.raise_if_any()
        return cls._build(d)

    @classmethod
    def _build(cls, d: dict) -> "Instrument":
        def override(o: dict) -> Override:
            when = o["when"]
            days = when.get("days")
            return Override(
                code=o["code"],
                label=o["label"],
                state=when.get("state"),
                flag=when.get("flag"),
                days=Sourced.of(days) if days else None,
                basis=o["basis"],
                status=o["status"],
            )

        return cls(
            code=d["code"],
            name=d["name"],
            version=d["version"],
            source=Sourced.of(d["source"]),
            score_max=Sourced.of(d["score_max"]),
            groups=tuple(Group(g["code"], g["label"], g["cap"], g["basis"], g["status"]) for g in d.get("groups", [])),
            items=tuple(
                Item(
                    code=it["code"],
                    text=it["text"],
                    factor=Sourced.of(it["factor"]),
                    group=it.get("group"),
                    max_points=Sourced.of(it["max_points"]),
                    answers=tuple(
                        Answer(a["code"], a["label"], a["points"], a["basis"], a["status"]) for a in it["answers"]
                    ),
                )
                for it in d["items"]
            ),
            flags=tuple(Flag(f["code"], f["text"], f["basis"], f["status"]) for f in d.get("flags", [])),
            thresholds={k: Sourced.of(v) for k, v in d["thresholds"].items()},
            tiers=Sourced.of(d["tiers"]),
            c2_rule={k: Sourced.of(v) for k, v in d["c2_rule"].items()},
            breach_thresholds={k: Sourced.of(v) for k, v in d["breach_thresholds"].items()},
            overrides=tuple(override(o) for o in d.get("overrides", [])),
            triggers=tuple(
                TriggerRule(
                    code=t["code"],
                    label=t["label"],
                    event_kinds=tuple(t["event_kinds"]),
                    results=tuple(t["results"]) if t.get("results") is not None else None,
                    unapproved_only=bool(t.get("unapproved_only", False)),
                    basis=t["basis"],
                    status=t["status"],
                )
                for t in d.get("reassessment_triggers", [])
            ),
            data=d,
        )

    @classmethod
    def from_json(cls, text: str) -> "Instrument":
        """Parse and validate JSON text; a syntax error is a :class:`ConfigError` too."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError([_("JSON 格式错误：第 %(line)s 行第 %(col)s 列：%(msg)s") % {
                "line": exc.lineno, "col": exc.colno, "msg": exc.msg}]) from exc
        return cls.from_dict(data)

    @classmethod
    def load_default(cls) -> "Instrument":
        """The shipped default (``persons/data/risk_default.json``), read once per process."""
        return _load_default_instrument()

    def to_dict(self) -> dict:
        """A deep copy of the validated configuration (JSON-serialisable), e.g. to snapshot
        the instrument an assessment used."""
        return copy.deepcopy(self.data)

    # -- look-ups --

    def item(self, code: str) -> Item | None:
        for it in self.items:
            if it.code == code:
                return it
        return None

    def flag(self, code: str) -> Flag | None:
        for fl in self.flags:
            if fl.code == code:
                return fl
        return None

    def group(self, code: str) -> Group | None:
        for g in self.groups:
            if g.code == code:
                return g
        return None

    def threshold(self, tier: str) -> int:
        return int(self.thresholds[tier].value)

    def rule(self, key: str) -> bool:
        return bool(self.c2_rule[key].value)

    def provenance(self) -> list[ValueSource]:
        """Every value with its basis and status (see :func:`provenance`)."""
        return provenance(self.data)


@lru_cache(maxsize=1)
def _load_default_instrument() -> Instrument:
    return Instrument.from_json((DATA_DIR / "risk_default.json").read_text(encoding="utf-8"))


# --- results -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ItemScore:
    """Points of one scored item. ``answer`` is ``None`` (0 points) when left unanswered."""

    item: str
    text: str
    answer: str | None
    answer_label: str | None
    points: int
    group: str | None


@dataclass(frozen=True)
class GroupScore:
    """A group's raw sum and what counts after its cap."""

    group: str
    label: str
    raw_points: int
    points: int
    cap: int


@dataclass(frozen=True)
class OverrideHit:
    """An override that fired: ``reason`` says why in Chinese, with dates and counts."""

    code: str
    label: str
    reason: str
    basis: str
    status: str


@dataclass(frozen=True)
class Assessment:
    """The outcome of :func:`score`.

    - ``score``: 0..``score_max`` after group caps.
    - ``score_tier``: the tier from the score and the C2 rule alone (``A``/``B``/``C1``/``C2``).
    - ``tier``: the computed tier: ``A`` when any override fired, else ``score_tier``. A
      manual override (with reason, audited) is the service's business, not this module's.
    - ``overrides``: the overrides that fired; ``items`` / ``groups``: points per item and
      group; ``flags``: the safety answers; ``c2_eligible`` / ``c2_reason``: the three-year
      test; ``missing``: codes left unanswered (only with ``complete=False``); ``notes``:
      Chinese remarks (e.g. timeline checks skipped because no state was given).
    """

    instrument_code: str
    instrument_version: str
    as_of: dt.date | None
    score: int
    score_tier: str
    tier: str
    overrides: tuple[OverrideHit, ...]
    items: tuple[ItemScore, ...]
    groups: tuple[GroupScore, ...]
    flags: dict[str, str]
    c2_eligible: bool
    c2_reason: str
    missing: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def overridden(self) -> bool:
        return bool(self.overrides)

    def to_dict(self) -> dict:
        """JSON-serialisable form (dates as ISO strings) to store with the assessment row."""
        return {
            "instrument_code": self.instrument_code,
            "instrument_version": self.instrument_version,
            "as_of": self.as_of.isoformat() if self.as_of else None,
            "score": self.score,
            "score_tier": self.score_tier,
            "tier": self.tier,
            "overrides": [o.__dict__.copy() for o in self.overrides],
            "items": [i.__dict__.copy() for i in self.items],
            "groups": [g.__dict__.copy() for g in self.groups],
            "flags": dict(self.flags),
            "c2_eligible": self.c2_eligible,
            "c2_reason": self.c2_reason,
            "missing": list(self.missing),
            "notes": list(self.notes),
        }


# --- scoring -----------------------------------------------------------------------------


def _detected_use_dates(state: PersonState, as_of: dt.date) -> list[dt.date]:
    dates = [d for d in state.positive_tests if d <= as_of]
    if state.last_detected_use_on and state.last_detected_use_on <= as_of:
        dates.append(state.last_detected_use_on)
    return dates


def _breach_met(instrument: Instrument, state: PersonState) -> str | None:
    """Chinese reason when the serious-breach test (JDTL 20) is met, else ``None``."""
    bt = instrument.breach_thresholds
    parts = []
    if state.refused_tests >= int(bt["refused_tests"].value):
        parts.append(_("拒绝或逃避检测 %(n)s 次") % {"n": state.refused_tests})
    if state.unapproved_departures >= int(bt["unapproved_departures"].value):
        parts.append(_("未经批准离开 %(n)s 次") % {"n": state.unapproved_departures})
    if state.days_away > int(bt["days_away_over"].value):
        parts.append(_("离开累计 %(n)s 日") % {"n": state.days_away})
    if parts:
        return _("严重违反协议（《戒毒条例》第二十条）：%(what)s") % {"what": "；".join(parts)}
    if state.serious_breach:
        return _("时间线记录严重违反社区戒毒（康复）协议")
    return None


def c2_eligibility(instrument: Instrument, state: PersonState | None, as_of: dt.date | None = None) -> tuple[bool, str]:
    """Whether a low score may be C2 (long-term low), with the reason in Chinese.

    Rule (casework_rules.md §6.1 and §5): the three-year abstinence test is met — the
    status is ``abstinent_3y`` or ``state.abstinent_three_years_on`` (computed by
    ``persons.rules`` from the clock of 上海市禁毒条例 art. 29 / 山东省禁毒条例 art. 36) is on or
    before ``as_of`` — with no detected use after the clock started, and (each switchable in
    ``c2_rule``) no refusal of the measure and no serious breach, now
    (``refused_measure``, JDTL 20 counters) or ever (``ever_refused_or_breached``). With
    ``requires_three_year_rule`` false, C2 is never computed (only a manual override sets it).
    """
    if not instrument.rule("requires_three_year_rule"):
        return False, _("本量表不自动评定C2级，须人工调整")
    if state is None:
        return False, _("未提供时间线状态，无法核对戒断三年")
    as_of = as_of or state.as_of
    if instrument.rule("excluded_if_refused_measure") and state.refused_measure:
        return False, _("曾拒绝接受社区戒毒（康复），不适用戒断三年")
    if instrument.rule("excluded_if_serious_breach") and _breach_met(instrument, state):
        return False, _("严重违反协议，不适用戒断三年")
    excluded = instrument.rule("excluded_if_refused_measure") or instrument.rule("excluded_if_serious_breach")
    if excluded and getattr(state, "ever_refused_or_breached", False):
        return False, _("曾拒绝或严重违反社区戒毒（康复），不适用戒断三年")
    clock = state.abstinence_clock_from
    uses = _detected_use_dates(state, as_of)
    if clock and any(u > clock for u in uses):
        return False, _("戒断起算日 %(clock)s 之后仍发现吸毒") % {"clock": clock.isoformat()}
    if state.status == Status.ABSTINENT_3Y:
        return True, _("状态为戒断三年未复吸")
    done_on = state.abstinent_three_years_on
    if done_on is None:
        return False, _("无法计算戒断三年的日期")
    if done_on <= as_of:
        return True, _("已于 %(date)s 满戒断三年") % {"date": done_on.isoformat()}
    return False, _("将于 %(date)s 满戒断三年") % {"date": done_on.isoformat()}


def state_overrides(instrument: Instrument, state: PersonState, as_of: dt.date | None = None) -> list[OverrideHit]:
    """The overrides the timeline forces (``when.state``), without any answers.

    - ``refused_measure``: ``state.refused_measure`` (JDF 38; refusal = not reporting within
      15 days without good reason, JDTL 14/38 — derived by ``persons.rules``).
    - ``serious_breach``: ``state.serious_breach`` or the counters reaching
      ``breach_thresholds`` (JDTL 20: ≥3 refusals/evasions, ≥3 unapproved departures,
      > 30 days away).
    - ``positive_within_days``: a positive test or detected use (``state.positive_tests``,
      ``state.last_detected_use_on``) on a date ``d`` with ``as_of - days <= d <= as_of``
      (90 days by default, reasoned default).
    """
    as_of = as_of or state.as_of
    hits = []
    for o in instrument.overrides:
        reason = None
        if o.state == "refused_measure" and state.refused_measure:
            reason = _("时间线记录拒绝接受社区戒毒（康复）")
        elif o.state == "serious_breach":
            reason = _breach_met(instrument, state)
        elif o.state == "positive_within_days":
            days = int(o.days.value) if o.days else 90
            recent = [d for d in _detected_use_dates(state, as_of) if (as_of - d).days <= days]
            if recent:
                last = max(recent)
                reason = _("%(date)s 检测阳性或查获吸毒（距评估日 %(n)s 日，%(days)s 日内）") % {
                    "date": last.isoformat(), "n": (as_of - last).days, "days": days}
        if reason:
            hits.append(OverrideHit(o.code, o.label, reason, o.basis, o.status))
    return hits


def score(
    instrument: Instrument,
    answers: Mapping[str, str],
    state: PersonState | None = None,
    *,
    as_of: dt.date | None = None,
    complete: bool = True,
) -> Assessment:
    """Score ``answers`` with ``instrument`` and work out the tier.

    ``answers``: ``{item_code: answer_code, flag_code: "yes"|"no"}``. ``state``: the person's
    ``PersonState`` (from ``persons.rules.derive_state``); without it the timeline overrides
    and the C2 test are skipped (noted in ``notes``) and the low tier is C1. ``as_of``
    defaults to ``state.as_of``.

    With ``complete=True`` (default) every item and flag must be answered; with
    ``complete=False`` unanswered items score 0, unanswered flags count as "no", and their
    codes are listed in ``missing``. Raises :class:`AnswerError` for unknown codes, answers
    an item does not offer, or (when complete) anything unanswered — all problems at once.
    Source: casework_rules.md §6.1 (scores, caps, thresholds, overrides; see the data file
    for each value's basis).
    """
    errors: list[str] = []
    known = {it.code for it in instrument.items} | {fl.code for fl in instrument.flags}
    for code in answers:
        if code not in known:
            errors.append(_("未知的评估项目：%(code)s") % {"code": code})
    missing: list[str] = []
    item_scores: list[ItemScore] = []
    for it in instrument.items:
        value = answers.get(it.code)
        if value in (None, ""):
            missing.append(it.code)
            item_scores.append(ItemScore(it.code, it.text, None, None, 0, it.group))
            continue
        ans = it.answer(value)
        if ans is None:
            errors.append(
                _("「%(item)s」没有答案“%(value)s”（可选：%(allowed)s）")
                % {"item": it.text, "value": value, "allowed": "、".join(a.code for a in it.answers)}
            )
            continue
        item_scores.append(ItemScore(it.code, it.text, ans.code, ans.label, ans.points, it.group))
    flags: dict[str, str] = {}
    for fl in instrument.flags:
        value = answers.get(fl.code)
        if value in (None, ""):
            missing.append(fl.code)
            flags[fl.code] = "no"
        elif value not in FLAG_ANSWERS:
            errors.append(_("「%(item)s」应回答 yes 或 no，实际为“%(value)s”") % {"item": fl.text, "value": value})
        else:
            flags[fl.code] = value
    if complete and missing:
        texts = [(instrument.item(c) or instrument.flag(c)).text for c in missing]
        errors.append(_("以下项目未作答：%(items)s") % {"items": "；".join(texts)})
    if errors:
        raise AnswerError(errors)

    total = 0
    group_scores = []
    raw_by_group: dict[str, int] = {}
    for s in item_scores:
        if s.group is None:
            total += s.points
        else:
            raw_by_group[s.group] = raw_by_group.get(s.group, 0) + s.points
    for g in instrument.groups:
        raw = raw_by_group.get(g.code, 0)
        capped = min(raw, g.cap)
        total += capped
        group_scores.append(GroupScore(g.code, g.label, raw, capped, g.cap))

    notes: list[str] = []
    as_of = as_of or (state.as_of if state else None)
    if state is None:
        notes.append(_("未提供时间线状态：未核对拒绝措施、严重违反协议、近期阳性等强制A级情形及C2条件"))
        c2_ok, c2_reason = False, _("未提供时间线状态，无法核对戒断三年")
        hits = []
    else:
        c2_ok, c2_reason = c2_eligibility(instrument, state, as_of)
        hits = state_overrides(instrument, state, as_of)
    for o in instrument.overrides:
        if o.flag and flags.get(o.flag) == "yes":
            fl = instrument.flag(o.flag)
            hits.append(OverrideHit(o.code, o.label, _("评估时确认：%(text)s") % {"text": fl.text}, o.basis, o.status))

    if total >= instrument.threshold("A"):
        score_tier = Tier.A.value
    elif total >= instrument.threshold("B"):
        score_tier = Tier.B.value
    else:
        score_tier = Tier.C2.value if c2_ok else Tier.C1.value
    tier = Tier.A.value if hits else score_tier
    return Assessment(
        instrument_code=instrument.code,
        instrument_version=instrument.version,
        as_of=as_of,
        score=total,
        score_tier=score_tier,
        tier=tier,
        overrides=tuple(hits),
        items=tuple(item_scores),
        groups=tuple(group_scores),
        flags=flags,
        c2_eligible=c2_ok,
        c2_reason=c2_reason,
        missing=tuple(missing),
        notes=tuple(notes),
    )


# --- pre-filling from the timeline ---------------------------------------------------------


class DerivedAnswers(dict):
    """``{item_code: answer_code}`` pre-filled from the timeline; ``reasons`` holds, per
    item, the Chinese explanation shown next to the pre-filled answer; ``overrides`` the
    overrides the timeline already forces (e.g. a positive test within 90 days), so the form
    can say "tier A whatever the score" before the worker answers."""

    def __init__(self):
        super().__init__()
        self.reasons: dict[str, str] = {}
        self.overrides: list[OverrideHit] = []

    def put(self, instrument: Instrument, item: str, answer: str, reason: str) -> None:
        it = instrument.item(item)
        if it is not None and it.answer(answer) is not None:
            self[item] = answer
            self.reasons[item] = reason


def _live_events(events: Iterable[TimelineEvent]) -> list[TimelineEvent]:
    """Events minus corrections and the events they void (records are corrected, never deleted)."""
    events = list(events)
    voided = {e.corrects_id for e in events if e.kind == EventKind.CORRECTION and e.corrects_id is not None}
    return [e for e in events if e.kind != EventKind.CORRECTION and (e.id is None or e.id not in voided)]


def _count_band(n: int) -> str:
    return "none" if n <= 0 else "one" if n == 1 else "two_or_more"


def derive_answers(
    state: PersonState,
    as_of: dt.date | None = None,
    *,
    events: Iterable[TimelineEvent] | None = None,
    instrument: Instrument | None = None,
) -> DerivedAnswers:
    """Pre-fill the items the timeline can answer (the worker confirms or changes them).

    Items of the default instrument filled (casework_rules.md §6.1; a custom instrument gets
    them when it keeps these item and answer codes):

    - ``rehab_episodes`` from ``state.rehab_episodes`` (measures ever ordered: 社戒, 社康, 强戒,
      the current one included): 0 ``none``, 1 ``one``, 2 ``two``, ≥3 ``three_or_more``.
    - ``abstinence``: whole calendar months from the latest of detected use, positive test and
      release from compulsory isolation up to ``as_of``: < 6 ``under_6m``, 6–11 ``6_to_12m``,
      12–23 ``12_to_24m``, 24–35 ``24_to_36m``, ≥ 36 ``36m_or_more``. Left empty when none of
      those dates is known.
    - ``missed_tests`` / ``unreported_absences``: with ``events``, counted over the 12 months
      up to ``as_of`` (``as_of - 12 months < date <= as_of``): tests missed or refused
      (``refused_test`` events, urinalysis / hair tests with result ``missed`` or ``refused``;
      one per day) and ``left_county`` events with ``approved is False`` and ``days`` ≥ 3
      (or unknown). Without events, the counters of the measure in force
      (``state.refused_tests`` / ``state.unapproved_departures``) are used and the reason says so.

    Not derivable here: drug type, severity, offence record, family, employment, safety flags.
    The "positive within 90 days" override (and refusal, serious breach) is not an item: the
    result's ``overrides`` lists those the timeline forces (:func:`state_overrides`).
    """
    instrument = instrument or Instrument.load_default()
    as_of = as_of or state.as_of
    out = DerivedAnswers()
    out.overrides = state_overrides(instrument, state, as_of)

    n = state.rehab_episodes
    band = "none" if n <= 0 else "one" if n == 1 else "two" if n == 2 else "three_or_more"
    out.put(instrument, "rehab_episodes", band, _("时间线记录戒毒措施 %(n)s 次") % {"n": n})

    candidates = _detected_use_dates(state, as_of)
    if state.last_release_on and state.last_release_on <= as_of:
        candidates.append(state.last_release_on)
    if candidates:
        since = max(candidates)
        months = months_between(since, as_of)
        band = (
            "under_6m" if months < 6 else "6_to_12m" if months < 12 else "12_to_24m" if months < 24
            else "24_to_36m" if months < 36 else "36m_or_more"
        )
        out.put(instrument, "abstinence", band, _("自 %(date)s 起已满 %(n)s 个月") % {"date": since.isoformat(), "n": months})

    if events is not None:
        start = add_months(as_of, -12)
        recent = [e for e in _live_events(events) if start < e.occurred_on <= as_of]
        missed_days = {
            e.occurred_on
            for e in recent
            if e.kind == EventKind.REFUSED_TEST
            or (e.kind in _TEST_KINDS and e.result in (TestResult.MISSED, TestResult.REFUSED))
        }
        absences = [
            e for e in recent
            if e.kind == EventKind.LEFT_COUNTY and e.approved is False and (e.days is None or e.days >= 3)
        ]
        first_day = start + dt.timedelta(days=1)
        window = _("%(start)s 至 %(end)s") % {"start": first_day.isoformat(), "end": as_of.isoformat()}
        out.put(instrument, "missed_tests", _count_band(len(missed_days)),
                _("%(window)s 未按时或拒绝检测 %(n)s 次") % {"window": window, "n": len(missed_days)})
        out.put(instrument, "unreported_absences", _count_band(len(absences)),
                _("%(window)s 未经批准离开 %(n)s 次") % {"window": window, "n": len(absences)})
    else:
        out.put(instrument, "missed_tests", _count_band(state.refused_tests),
                _("当前措施期间拒绝或逃避检测 %(n)s 次（未按近12个月核对）") % {"n": state.refused_tests})
        out.put(instrument, "unreported_absences", _count_band(state.unapproved_departures),
                _("当前措施期间未经批准离开 %(n)s 次（未按近12个月核对）") % {"n": state.unapproved_departures})
    return out


# --- reassessment triggers -----------------------------------------------------------------


@dataclass(frozen=True)
class Trigger:
    """An event that calls for a reassessment."""

    code: str
    label: str
    occurred_on: dt.date
    event_kind: str
    event_id: int | None
    basis: str
    status: str


def trigger_rule_for(event: TimelineEvent, instrument: Instrument | None = None) -> TriggerRule | None:
    """The first trigger rule ``event`` matches, or ``None`` (for a service recording one event)."""
    instrument = instrument or Instrument.load_default()
    for rule in instrument.triggers:
        if rule.matches(event):
            return rule
    return None


def reassessment_triggers(
    events: Iterable[TimelineEvent],
    *,
    since: dt.date | None = None,
    until: dt.date | None = None,
    instrument: Instrument | None = None,
) -> list[Trigger]:
    """Events that call for a reassessment, oldest first (casework_rules.md §6.1: positive or
    missed/refused test, detected use or relapse, breach or refusal of the measure, a new
    order, release from compulsory isolation, change of residence, unapproved absence).

    ``since``: the date of the last assessment — events on or before it are taken as already
    considered (an assessment made the same day as the event is assumed to know it).
    ``until``: ignore events after this date. Corrections and the events they void are
    skipped. Matching follows the instrument's ``reassessment_triggers`` (first match wins).
    """
    instrument = instrument or Instrument.load_default()
    out = []
    for e in _live_events(events):
        if since is not None and e.occurred_on <= since:
            continue
        if until is not None and e.occurred_on > until:
            continue
        rule = trigger_rule_for(e, instrument)
        if rule is not None:
            out.append(Trigger(rule.code, rule.label, e.occurred_on, e.kind, e.id, rule.basis, rule.status))
    out.sort(key=lambda t: t.occurred_on)
    return out
