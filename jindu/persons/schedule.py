"""What case work is due for a person: tests, contacts, visits, assessments, plan reviews,
reporting — from the legal status, the measure month and the risk tier.

Pure Python: no models. The lead's selectors feed :func:`due_items` with the person's
``PersonState`` (``persons.rules.derive_state``), the current tier, the last date each kind
of work was done and, for reassessment triggers, the timeline events.

**The schedule is data** (``persons/data/schedule_default.json``, casework_rules.md §6.2–§6.4),
every value with ``basis`` and ``status`` like the risk instrument (see ``risk.provenance``):

- *Baseline by legal status* (§6.2, applied first): community drug rehabilitation (社区戒毒)
  urinalysis monthly in measure months 1–12, every 2 months in 13–24, every 3 months in 25–36
  (minimum 22); community rehabilitation (社区康复) 3-year order every 2 / 3 / 6 months
  (minimum 12), 2-year order every 2 months (minimum 12), other terms every 2 months. Local
  practice (湖南怀化 JDS, 福建仙游 PT12); no national text was found.
- *Tier overlay* (§6.3): per tier, the interval of urinalysis, hair test, social-worker contact,
  home visit and reassessment. For each kind the earlier due date of baseline, overlay and
  process clocks wins ("whichever is stricter").
- *Process clocks* (§6.4): reporting 15 days after the order (JDTL 14/38), first assessment 7
  days and individual plan 15 days after reporting, first urinalysis within 30 days, contact
  re-confirmation 7 days after release from compulsory isolation, reassessment 7 days after a
  trigger event, plan review every 6 months, final assessment in the last 30 days of a measure.

**Due dates are local dates**: due all that day, overdue from the next local midnight
(``jindu.core.timeutils.due_status``, reused here). Each kind is computed from the *last
time it was done*, so a record entered late with its real (past) date moves the next due
date forward: it never leaves a false "overdue" behind, and the past is never listed as a
series of missed slots — one item per kind, the next one due. Intervals in months are
calendar months clamped to the month's end (2024-01-31 + 1 month = 2024-02-29).
"""

from __future__ import annotations

import copy
import datetime as dt
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from jindu.core.timeutils import DueStatus, day_start, due_status
from jindu.persons.choices import Status, Tier
from jindu.persons.risk import (
    DATA_DIR,
    ConfigError,
    Instrument,
    Sourced,
    ValueSource,
    _Checker,
    add_months,
    months_between,
    provenance,
    reassessment_triggers,
)
from jindu.persons.timeline import PersonState, TimelineEvent

__all__ = [
    "KINDS",
    "OVERLAY_KINDS",
    "KIND_LABELS",
    "REQUIRED_CLOCKS",
    "Interval",
    "Phase",
    "Baseline",
    "OverlayRule",
    "StatusRule",
    "Clock",
    "ScheduleConfig",
    "DueItem",
    "due_items",
    "deadline_status",
    "measure_month",
    "expected_urinalyses",
    "add_months",
    "months_between",
]

#: Kinds of due work, in worklist order.
KINDS = ("report", "reassessment", "plan_review", "urinalysis", "hair_test", "contact", "home_visit")
#: Kinds a tier overlay may schedule (casework_rules.md §6.3).
OVERLAY_KINDS = ("urinalysis", "hair_test", "contact", "home_visit", "reassessment")
KIND_LABELS = {
    "report": gettext_lazy("报到"),
    "reassessment": gettext_lazy("风险评估"),
    "plan_review": gettext_lazy("个人计划制定与小结"),
    "urinalysis": gettext_lazy("尿检"),
    "hair_test": gettext_lazy("毛发检测"),
    "contact": gettext_lazy("联系（谈话、电话、视频）"),
    "home_visit": gettext_lazy("家访"),
}
#: Process clocks the scheduler reads; a configuration must define them.
REQUIRED_CLOCKS = (
    "report_days",
    "first_assessment_days",
    "plan_days",
    "first_urinalysis_days",
    "post_release_contact_days",
    "trigger_reassessment_days",
    "plan_review_months",
    "final_assessment_window_days",
)
_CLOCK_UNITS = ("days", "working_days", "months", "count")
_MEASURE_STATUSES = (Status.COMMUNITY_DRUG_REHAB.value, Status.COMMUNITY_REHAB.value)


def measure_month(start: dt.date, on: dt.date) -> int:
    """The month of a measure that ``on`` falls in, 1-based: month 1 is ``[start, start + 1
    month)``. Dates before ``start`` count as month 1."""
    return max(1, months_between(start, on) + 1)


# --- configuration -----------------------------------------------------------------------


@dataclass(frozen=True)
class Interval:
    """A calendar interval: ``months`` (clamped to month end) then ``days``."""

    months: int = 0
    days: int = 0

    def after(self, d: dt.date) -> dt.date:
        return add_months(d, self.months) + dt.timedelta(days=self.days)


@dataclass(frozen=True)
class Phase:
    """Measure months ``from_month``..``to_month`` (inclusive): one urinalysis every
    ``every_months`` months."""

    from_month: int
    to_month: int
    every_months: int
    basis: str
    status: str


@dataclass(frozen=True)
class Baseline:
    """The urinalysis baseline of one measure (and, for community rehabilitation, one term).

    ``term_months`` ``None`` is the fallback for the measure (any other term).
    """

    code: str
    label: str
    measure: str
    term_months: int | None
    phases: tuple[Phase, ...]
    min_total: Sourced

    def phase_for(self, month: int) -> Phase:
        """The phase of measure month ``month``; past the last phase, the last phase."""
        for ph in self.phases:
            if ph.from_month <= month <= ph.to_month:
                return ph
        return self.phases[-1]


@dataclass(frozen=True)
class OverlayRule:
    """A tier's interval for one kind; ``interval`` ``None`` means nothing routine.

    ``only_during_measure``: applies only under a community measure (C1 urinalysis).
    ``per_month``: the target count per month the interval stands for (informative).
    """

    kind: str
    interval: Interval | None
    only_during_measure: bool
    per_month: float | None
    basis: str
    status: str


@dataclass(frozen=True)
class StatusRule:
    """What work a legal status calls for: the baseline measure (``None``: none), the kinds
    the tier overlay may schedule, whether an entry assessment and a plan are due, and
    whether contact must be re-confirmed after release from compulsory isolation."""

    status: str
    baseline: str | None
    overlay_kinds: tuple[str, ...]
    entry_assessment: bool
    plan: bool
    post_release_contact: bool
    basis: str
    value_status: str


@dataclass(frozen=True)
class Clock:
    """A process clock (casework_rules.md §6.4): ``value`` in ``unit``."""

    code: str
    value: int
    unit: str
    label: str
    basis: str
    status: str


@dataclass(frozen=True)
class ScheduleConfig:
    """A validated schedule configuration. Build with :meth:`from_dict` / :meth:`load_default`."""

    code: str
    name: str
    version: str
    statuses: dict[str, StatusRule] = field(compare=False)
    baselines: dict[str, Baseline] = field(compare=False)
    overlay: dict[str, dict[str, OverlayRule]] = field(compare=False)
    clocks: dict[str, Clock] = field(compare=False)
    data: dict = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "ScheduleConfig":
        """Validate ``data`` (the JSON shape of ``schedule_default.json``) and build it.

        Raises ``risk.ConfigError`` listing every problem (path and reason, in Chinese):
        a status of ``choices.Status`` missing or unknown, an unknown baseline measure or
        overlay kind, phases not contiguous from month 1, an interval with both or neither of
        ``every_months`` / ``every_days``, a tier of ``choices.Tier`` missing, a required
        clock (:data:`REQUIRED_CLOCKS`) missing, a value without ``basis`` / ``status``.
        """
        c = _Checker()
        d = c.obj(copy.deepcopy(dict(data)) if isinstance(data, Mapping) else data, "")
        if d is None:
            c.raise_if_any()
        for key in ("code", "name", "version"):
            c.text(d, key, "")
        if (src := c.obj(d.get("source"), "source")) is not None:
            c.sourced(src, "source")

        measures: dict[str, list[int | None]] = {}
        for code, b in (c.obj(d.get("urine_baseline"), "urine_baseline") or {}).items():
            p = f"urine_baseline.{code}"
            if (b := c.obj(b, p)) is None:
                continue
            c.text(b, "label", p)
            measure = c.text(b, "measure", p)
            term = c.integer(b.get("term_months"), f"{p}.term_months", minimum=1, allow_none=True)
            if measure:
                if term in measures.setdefault(measure, []):
                    c.add(f"{p}.term_months", _("同一措施 %(m)s 的期限 %(t)s 重复") % {"m": measure, "t": term})
                measures[measure].append(term)
            phases = c.lst(b.get("phases"), f"{p}.phases") or []
            if isinstance(b.get("phases"), list) and not phases:
                c.add(f"{p}.phases", _("至少要有一个阶段"))
            expected_from = 1
            for i, ph in enumerate(phases):
                pp = f"{p}.phases[{i}]"
                if (ph := c.obj(ph, pp)) is None:
                    continue
                c.sourced(ph, pp)
                f = c.integer(ph.get("from_month"), f"{pp}.from_month", minimum=1)
                t = c.integer(ph.get("to_month"), f"{pp}.to_month", minimum=1)
                c.integer(ph.get("every_months"), f"{pp}.every_months", minimum=1)
                if f is not None and f != expected_from:
                    c.add(f"{pp}.from_month", _("应为 %(n)s（阶段须从第1个月起连续）") % {"n": expected_from})
                if f is not None and t is not None:
                    if t < f:
                        c.add(f"{pp}.to_month", _("不能早于 from_month %(f)s") % {"f": f})
                    expected_from = t + 1
            if (m := c.obj(b.get("min_total"), f"{p}.min_total")) is not None:
                c.sourced(m, f"{p}.min_total")
                c.integer(m.get("value"), f"{p}.min_total.value", minimum=1, allow_none=True)

        statuses = c.obj(d.get("statuses"), "statuses") or {}
        for s in Status:
            if s.value not in statuses:
                c.add("statuses", _("缺少状态 %(s)s 的规则") % {"s": s.value})
        for s, r in statuses.items():
            p = f"statuses.{s}"
            if s not in Status.values:
                c.add(p, _("未知的状态（应为 %(allowed)s 之一）") % {"allowed": "、".join(Status.values)})
            if (r := c.obj(r, p)) is None:
                continue
            c.sourced(r, p)
            if r.get("baseline") is not None and r["baseline"] not in measures:
                c.add(f"{p}.baseline", _("尿检基线 %(b)s 不存在于 urine_baseline") % {"b": r["baseline"]})
            for kind in c.lst(r.get("overlay_kinds"), f"{p}.overlay_kinds") or []:
                if kind not in OVERLAY_KINDS:
                    c.add(f"{p}.overlay_kinds", _("未知的工作类型 %(k)s（可用：%(allowed)s）") % {
                        "k": kind, "allowed": "、".join(OVERLAY_KINDS)})
            for key in ("entry_assessment", "plan", "post_release_contact"):
                if not isinstance(r.get(key), bool):
                    c.add(f"{p}.{key}", _("应为 true 或 false"))

        overlay = c.obj(d.get("tier_overlay"), "tier_overlay") or {}
        for tier in Tier.values:
            if tier not in overlay:
                c.add("tier_overlay", _("缺少等级 %(t)s") % {"t": tier})
        for tier, rules in overlay.items():
            p = f"tier_overlay.{tier}"
            if tier not in Tier.values:
                c.add(p, _("未知的风险等级（应为 %(allowed)s 之一）") % {"allowed": "、".join(Tier.values)})
            if (rules := c.obj(rules, p)) is None:
                continue
            for kind in OVERLAY_KINDS:
                if kind not in rules:
                    c.add(p, _("缺少工作类型 %(k)s（不安排时写 every_months: null）") % {"k": kind})
            for kind, rule in rules.items():
                kp = f"{p}.{kind}"
                if kind not in OVERLAY_KINDS:
                    c.add(kp, _("未知的工作类型（可用：%(allowed)s）") % {"allowed": "、".join(OVERLAY_KINDS)})
                if (rule := c.obj(rule, kp)) is None:
                    continue
                c.sourced(rule, kp)
                keys = [k for k in ("every_months", "every_days") if k in rule]
                if len(keys) != 1:
                    c.add(kp, _("应恰好包含 every_months 或 every_days 之一"))
                else:
                    c.integer(rule[keys[0]], f"{kp}.{keys[0]}", minimum=1, allow_none=True)
                if "only_during_measure" in rule and not isinstance(rule["only_during_measure"], bool):
                    c.add(f"{kp}.only_during_measure", _("应为 true 或 false"))

        clocks = c.obj(d.get("process_clocks"), "process_clocks") or {}
        for code in REQUIRED_CLOCKS:
            if code not in clocks:
                c.add("process_clocks", _("缺少时限 %(c)s") % {"c": code})
        for code, clock in clocks.items():
            p = f"process_clocks.{code}"
            if (clock := c.obj(clock, p)) is None:
                continue
            c.sourced(clock, p)
            c.text(clock, "label", p)
            c.integer(clock.get("value"), f"{p}.value", minimum=0)
            if clock.get("unit") not in _CLOCK_UNITS:
                c.add(f"{p}.unit", _("应为 %(allowed)s 之一") % {"allowed": " / ".join(_CLOCK_UNITS)})
        c.raise_if_any()
        return cls._build(d)

    @classmethod
    def _build(cls, d: dict) -> "ScheduleConfig":
        def rule(kind: str, r: dict) -> OverlayRule:
            if "every_days" in r:
                interval = Interval(days=r["every_days"]) if r["every_days"] else None
            else:
                interval = Interval(months=r["every_months"]) if r["every_months"] else None
            return OverlayRule(kind, interval, bool(r.get("only_during_measure", False)), r.get("per_month"),
                               r["basis"], r["status"])

        return cls(
            code=d["code"],
            name=d["name"],
            version=d["version"],
            statuses={
                s: StatusRule(s, r.get("baseline"), tuple(r["overlay_kinds"]), r["entry_assessment"], r["plan"],
                              r["post_release_contact"], r["basis"], r["status"])
                for s, r in d["statuses"].items()
            },
            baselines={
                code: Baseline(
                    code=code,
                    label=b["label"],
                    measure=b["measure"],
                    term_months=b.get("term_months"),
                    phases=tuple(Phase(p["from_month"], p["to_month"], p["every_months"], p["basis"], p["status"])
                                 for p in b["phases"]),
                    min_total=Sourced.of(b["min_total"]),
                )
                for code, b in d["urine_baseline"].items()
            },
            overlay={
                tier: {kind: rule(kind, r) for kind, r in rules.items()} for tier, rules in d["tier_overlay"].items()
            },
            clocks={
                code: Clock(code, c["value"], c["unit"], c["label"], c["basis"], c["status"])
                for code, c in d["process_clocks"].items()
            },
            data=d,
        )

    @classmethod
    def from_json(cls, text: str) -> "ScheduleConfig":
        """Parse and validate JSON text; a syntax error is a ``ConfigError`` too."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError([_("JSON 格式错误：第 %(line)s 行第 %(col)s 列：%(msg)s") % {
                "line": exc.lineno, "col": exc.colno, "msg": exc.msg}]) from exc
        return cls.from_dict(data)

    @classmethod
    def load_default(cls) -> "ScheduleConfig":
        """The shipped default (``persons/data/schedule_default.json``), read once per process."""
        return _load_default_schedule()

    def to_dict(self) -> dict:
        return copy.deepcopy(self.data)

    def provenance(self) -> list[ValueSource]:
        """Every value with its basis and status (``risk.provenance``)."""
        return provenance(self.data)

    def clock(self, code: str) -> int:
        """A process clock's value (days, working days, months or a count, per its ``unit``)."""
        return self.clocks[code].value

    def baseline_for(self, state: PersonState) -> Baseline | None:
        """The urinalysis baseline for the measure in force, or ``None``.

        Community rehabilitation picks the baseline whose ``term_months`` equals the order's
        term, computed from ``measure_started_on`` to ``measure_end_on`` and rounded to whole
        months (so an end date given as the expiry day or the day before both read 36);
        otherwise the measure's fallback (``term_months`` null).
        """
        rule = self.statuses.get(state.status)
        if rule is None or rule.baseline is None:
            return None
        candidates = [b for b in self.baselines.values() if b.measure == rule.baseline]
        term = None
        start = _measure_start(state)
        if start and state.measure_end_on:
            term = round((state.measure_end_on - start).days / 30.436875)
        for b in candidates:
            if b.term_months is not None and b.term_months == term:
                return b
        for b in candidates:
            if b.term_months is None:
                return b
        return None


@lru_cache(maxsize=1)
def _load_default_schedule() -> ScheduleConfig:
    return ScheduleConfig.from_json((DATA_DIR / "schedule_default.json").read_text(encoding="utf-8"))


# --- due items -----------------------------------------------------------------------------


@dataclass(frozen=True)
class DueItem:
    """One piece of work due for a person.

    - ``kind``: one of :data:`KINDS`.
    - ``due_on``: the local date it is due (due all that day, overdue from the next local
      midnight).
    - ``status``: ``"upcoming"`` / ``"due_today"`` / ``"overdue"`` at ``as_of``
      (``timeutils.due_status``).
    - ``rule``: which rule set the date (``baseline.community_drug_rehab.m13-24``,
      ``tier.A.home_visit``, ``clock.report``, ``clock.first_assessment``,
      ``trigger.positive_test`` …); ``basis``: its source in Chinese; ``value_status``:
      ``confirmed`` / ``reasoned_default`` / ``uncertain``.
    - ``anchor``: the date the interval or clock counts from (last done, reporting, release,
      trigger event); ``last_done``: the last done date given for this kind.
    - ``window_start``: for the final assessment of a measure, the first day it may be done.
    """

    kind: str
    due_on: dt.date
    status: DueStatus
    rule: str
    basis: str
    value_status: str
    anchor: dt.date | None
    last_done: dt.date | None
    window_start: dt.date | None = None

    @property
    def label(self) -> str:
        return str(KIND_LABELS[self.kind])


def deadline_status(
    due_on: dt.date,
    *,
    done_on: dt.date | None = None,
    not_before: dt.date | None = None,
    now: dt.datetime | None = None,
) -> str:
    """Status of a one-off deadline: ``"done"`` when ``done_on`` is given (and not before
    ``not_before``, e.g. the date the task arose) — even when done after ``due_on``: a late
    record is late, never "overdue" — else ``timeutils.due_status(due_on, now)``.
    """
    if done_on is not None and (not_before is None or done_on >= not_before):
        return "done"
    return due_status(due_on, now)


def _measure_start(state: PersonState) -> dt.date | None:
    return state.measure_started_on or state.reported_on or state.measure_ordered_on


def _entry_date(state: PersonState) -> dt.date | None:
    """When the person came under management: reporting for a community measure, else the
    date the status began."""
    if state.status in _MEASURE_STATUSES:
        return state.reported_on or _measure_start(state)
    return state.status_since or state.first_found_on


def expected_urinalyses(state: PersonState, as_of: dt.date, config: ScheduleConfig | None = None) -> int | None:
    """Urinalyses the baseline expects by ``as_of``: one per interval slot of the measure that
    has ended (slots run from the measure start; 22 slots over a 3-year 社区戒毒 — JDS/PT12,
    casework_rules.md §3.3/§6.2). ``None`` when no baseline applies. Compare with the tests
    actually done for the "done vs due" indicator; ``Baseline.min_total`` is the total."""
    config = config or ScheduleConfig.load_default()
    baseline = config.baseline_for(state)
    start = _measure_start(state)
    if baseline is None or start is None:
        return None
    last_month = baseline.phases[-1].to_month
    m = n = 0
    while m < last_month:
        m += baseline.phase_for(m + 1).every_months
        if add_months(start, m) > as_of:
            break
        n += 1
    return n


def due_items(
    *,
    state: PersonState,
    tier: str | None,
    last_done: Mapping[str, dt.date | None],
    as_of: dt.date,
    config: ScheduleConfig | None = None,
    events: Iterable[TimelineEvent] = (),
    instrument: Instrument | None = None,
    plan_review_on: dt.date | None = None,
) -> list[DueItem]:
    """The work due for one person, one item per kind, sorted by ``due_on``.

    Arguments:

    - ``state``: the person's ``PersonState`` at (or near) ``as_of``.
    - ``tier``: the current tier (``choices.Tier`` value) or ``None`` (never assessed: only
      the entry assessment and the baseline apply).
    - ``last_done``: ``{kind: date | None}``, the last local date each kind was done —
      ``"urinalysis"``, ``"hair_test"``, ``"contact"`` (any contact, a home visit included),
      ``"home_visit"``, ``"reassessment"`` (last assessment), ``"plan_review"`` (plan made or
      last reviewed). Missing keys mean never. Dates may be in the past (late entries).
    - ``events``: the timeline, for reassessment triggers after the last assessment
      (``risk.reassessment_triggers`` with ``instrument``, default the shipped one).
    - ``plan_review_on``: the review date written in the person's plan, if any.

    Rules (configuration ``config``, default the shipped one; casework_rules.md §6.2–§6.4):

    - ``report``: status ``awaiting_report`` → ``state.report_due_on`` (or order + 15 days,
      JDTL 14/38).
    - ``urinalysis``: under a community measure, the baseline — first test within
      ``first_urinalysis_days`` of the measure start, then last test + the interval of the
      measure month the last test fell in; none past the measure end. The tier overlay
      applies too; the earlier date wins.
    - ``hair_test`` / ``contact`` / ``home_visit``: the tier overlay: last done + interval,
      or, never done, from the later of the management start and the last assessment.
      ``contact`` also: re-confirmation within ``post_release_contact_days`` of release from
      compulsory isolation if no contact since.
    - ``reassessment``: the entry assessment (``first_assessment_days`` after reporting /
      entry) if none since; else last + the tier's interval; a trigger event after the last
      assessment + ``trigger_reassessment_days``; the final assessment of a measure (due on
      its end date, window ``final_assessment_window_days``).
    - ``plan_review``: the plan ``plan_days`` after reporting if none since; then every
      ``plan_review_months``; or ``plan_review_on`` when earlier.

    Raises ``ValueError`` for an unknown tier or ``last_done`` kind.
    """
    config = config or ScheduleConfig.load_default()
    if tier is not None and tier not in Tier.values:
        raise ValueError(_("未知的风险等级：%(t)s") % {"t": tier})
    for kind in last_done:
        if kind not in KINDS:
            raise ValueError(_("未知的工作类型：%(k)s") % {"k": kind})
    rule = config.statuses.get(state.status)
    if rule is None:
        return []
    done = {k: v for k, v in last_done.items() if v is not None}
    now = day_start(as_of)
    candidates: dict[str, list[DueItem]] = {}

    def add(kind, due_on, rule_code, basis, value_status, anchor, window_start=None):
        candidates.setdefault(kind, []).append(
            DueItem(kind, due_on, due_status(due_on, now), rule_code, basis, value_status, anchor,
                    done.get(kind), window_start)
        )

    def clock(code: str) -> tuple[int, str, str]:
        c = config.clocks[code]
        return c.value, c.basis, c.status

    in_measure = rule.baseline is not None
    start = _measure_start(state)
    entry = _entry_date(state)

    # Reporting (JDTL 14 / 38).
    if state.status == Status.AWAITING_REPORT and state.reported_on is None:
        days, basis, vs = clock("report_days")
        due = state.report_due_on
        if due is None and state.measure_ordered_on is not None:
            due = state.measure_ordered_on + dt.timedelta(days=days)
        if due is not None:
            add("report", due, "clock.report", basis, vs, state.measure_ordered_on)

    # Urinalysis baseline (§6.2).
    baseline = config.baseline_for(state) if in_measure else None
    if baseline is not None and start is not None:
        last = done.get("urinalysis")
        if last is not None and last >= start:
            ph = baseline.phase_for(measure_month(start, last))
            due = add_months(last, ph.every_months)
            rule_code = f"baseline.{baseline.code}.m{ph.from_month}-{ph.to_month}"
            basis, vs, anchor = ph.basis, ph.status, last
        else:
            days, basis, vs = clock("first_urinalysis_days")
            due, rule_code, anchor = start + dt.timedelta(days=days), "clock.first_urinalysis", start
        if state.measure_end_on is None or due <= state.measure_end_on:
            add("urinalysis", due, rule_code, basis, vs, anchor)

    # Entry assessment and plan (§6.4).
    if rule.entry_assessment and entry is not None:
        last = done.get("reassessment")
        if last is None or last < entry:
            days, basis, vs = clock("first_assessment_days")
            add("reassessment", entry + dt.timedelta(days=days), "clock.first_assessment", basis, vs, entry)
    if rule.plan and entry is not None:
        last = done.get("plan_review")
        if last is None or last < entry:
            days, basis, vs = clock("plan_days")
            add("plan_review", entry + dt.timedelta(days=days), "clock.plan", basis, vs, entry)
        else:
            months, basis, vs = clock("plan_review_months")
            add("plan_review", add_months(last, months), "clock.plan_review", basis, vs, last)
        if plan_review_on is not None and (last is None or last < plan_review_on):
            add("plan_review", plan_review_on, "plan.review_on", _("个人计划中确定的复核日期"), "confirmed", last)

    # Final assessment within the last days of a community measure (§6.4).
    if in_measure and state.measure_end_on is not None:
        window, basis, vs = clock("final_assessment_window_days")
        window_start = state.measure_end_on - dt.timedelta(days=window)
        last = done.get("reassessment")
        if last is None or last < window_start:
            add("reassessment", state.measure_end_on, "clock.final_assessment", basis, vs, window_start, window_start)

    # Reassessment triggers (§6.1).
    if "reassessment" in rule.overlay_kinds or rule.entry_assessment:
        since = done.get("reassessment")
        if since is None and not rule.entry_assessment:
            since = state.status_since
        # Never assessed under a status with an entry assessment: that assessment is what is due.
        triggers = (
            [] if since is None
            else reassessment_triggers(events, since=since, until=as_of, instrument=instrument)
        )
        if triggers:
            t = triggers[0]
            days, basis, vs = clock("trigger_reassessment_days")
            add("reassessment", t.occurred_on + dt.timedelta(days=days), f"trigger.{t.code}",
                _("%(label)s（%(date)s）：%(basis)s")
                % {"label": t.label, "date": t.occurred_on.isoformat(), "basis": basis},
                vs, t.occurred_on)

    # Contact re-confirmation after release from compulsory isolation (§3.7, §6.4).
    release = state.last_release_on
    if rule.post_release_contact and release is not None and release <= as_of:
        last = done.get("contact")
        if last is None or last < release:
            days, basis, vs = clock("post_release_contact_days")
            add("contact", release + dt.timedelta(days=days), "clock.post_release_contact", basis, vs, release)

    # Tier overlay (§6.3).
    if tier is not None:
        management_start = start if in_measure else (state.status_since or state.first_found_on)
        for kind in rule.overlay_kinds:
            r = config.overlay[tier].get(kind)
            if r is None or r.interval is None or (r.only_during_measure and not in_measure):
                continue
            last = done.get(kind)
            if last is not None:
                anchor = last
            elif kind == "reassessment":
                if rule.entry_assessment:
                    continue  # the entry assessment above is what is due
                anchor = management_start
            else:
                anchor = max([d for d in (management_start, done.get("reassessment")) if d is not None], default=None)
            if anchor is None:
                anchor = as_of
            add(kind, r.interval.after(anchor), f"tier.{tier}.{kind}", r.basis, r.status, anchor)

    # Whichever is stricter: the earliest date per kind (ties: the first rule added).
    out = [min(items, key=lambda i: i.due_on) for items in candidates.values()]
    out.sort(key=lambda i: (i.due_on, KINDS.index(i.kind)))
    return out
