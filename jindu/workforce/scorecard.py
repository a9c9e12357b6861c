"""A worker's period scorecard from the case work: pure Python, fed by ``selectors``.

Components (each a rate 0–1 with the counts behind it):

- **contacts** — contacts (interview, home visit, phone, video) done on time vs due;
- **tests** — urinalyses done (a negative, positive or invalid result; a refusal or a missed
  test is not done) on time vs due;
- **reassessments** — risk assessments done on time vs due;
- **handovers** — handovers after release from compulsory isolation whose reporting deadline
  (release + 15 days, 戒毒条例 art. 38) fell in the period, reported by the deadline;
- **no_overdue** — share of the caseload with nothing overdue on the worklist
  (``persons.DueItem``) on the day the scorecard is computed.

**On time vs due (windows).** For one person and one kind of work with the interval ``I`` of
the person's risk tier (``conf.DEFAULTS["intervals"]``, the tier overlay of the persons
schedule): the first deadline is ``I`` after the last record before the period (or the
period's first day when that deadline has already passed, or ``I`` after the first day when
there is no earlier record); each deadline inside the period is *due* once; it is *on time*
when a record falls after the previous record and on or before the deadline, and the next
deadline runs from that record; otherwise it is *missed* and the next deadline runs from the
missed one. So three silent months of a monthly contact are three misses, and a late record
satisfies the following window, never the missed one.

Simplifications (stated so users can judge the numbers): the tier and the caseload are read
as they are when the scorecard is computed; the tier overlay is used, not the stricter
legal-status baseline of the worklist; people in compulsory isolation, the dead and those who
left the country are not scored; a component with nothing due is left out and the other
weights scaled up to keep the scale (nothing due anywhere: full points).
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import asdict, dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Iterable, Mapping

COMPONENTS = ("contacts", "tests", "reassessments", "handovers", "no_overdue")


def add_interval(d: dt.date, interval: tuple[int, str]) -> dt.date:
    """``d`` plus ``(n, "days")`` or ``(n, "months")``; months are calendar months clamped to
    the month's end (2024-01-31 + 1 month = 2024-02-29). Raises ``ValueError`` otherwise."""
    n, unit = interval
    if unit == "days":
        return d + dt.timedelta(days=n)
    if unit == "months":
        m = d.month - 1 + n
        year, month = d.year + m // 12, m % 12 + 1
        return dt.date(year, month, min(d.day, calendar.monthrange(year, month)[1]))
    raise ValueError(f"unknown interval unit {unit!r}")


@dataclass
class Tally:
    due: int = 0
    on_time: int = 0
    missed: int = 0
    done: int = 0  # records inside the period, on time or not

    def add(self, other: "Tally") -> None:
        self.due += other.due
        self.on_time += other.on_time
        self.missed += other.missed
        self.done += other.done

    @property
    def rate(self) -> Decimal | None:
        return None if not self.due else (Decimal(self.on_time) / Decimal(self.due))


def windows(records: Iterable[dt.date], *, first: dt.date, last: dt.date, interval: tuple[int, str] | None) -> Tally:
    """Due / on-time / missed windows of one kind of work for one person in ``first..last``
    (see the module docstring); ``records`` are the dates the work was done (any order, any
    range). ``interval`` ``None``: not scheduled, nothing due."""
    dates = sorted(set(records))
    tally = Tally(done=sum(1 for d in dates if first <= d <= last))
    if interval is None:
        return tally
    before = [d for d in dates if d < first]
    anchor = before[-1] if before else None
    deadline = add_interval(anchor, interval) if anchor else add_interval(first, interval)
    if deadline < first:
        deadline = first  # already overdue when the period starts: one missed window at its start
    previous = anchor or dt.date.min
    inside = [d for d in dates if d >= first]
    guard = 0
    while deadline <= last:
        guard += 1
        if guard > 10_000:  # pragma: no cover - intervals are at least a day
            break
        tally.due += 1
        hits = [d for d in inside if previous < d <= deadline]
        if hits:
            tally.on_time += 1
            previous = hits[-1]
        else:
            tally.missed += 1
            previous = deadline
        deadline = add_interval(previous, interval)
    return tally


@dataclass
class PersonWork:
    """The case work of one person of the caseload, as the selectors read it."""

    person_id: int
    tier: str
    contacts: list[dt.date] = field(default_factory=list)
    tests: list[dt.date] = field(default_factory=list)
    assessments: list[dt.date] = field(default_factory=list)
    overdue_items: int = 0


@dataclass
class HandoverWork:
    """One handover: the reporting deadline and the date the person reported (if any)."""

    person_id: int
    deadline: dt.date
    reported_on: dt.date | None


def _q2(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def compute(people: list[PersonWork], handovers: list[HandoverWork], *, first: dt.date, last: dt.date,
            intervals: Mapping[str, Mapping[str, Any]], weights: Mapping[str, int]) -> dict[str, Any]:
    """The scorecard as a JSON-ready dict::

        {"period": {"first", "last"}, "caseload": n,
         "components": {name: {"due", "on_time", "missed", "done", "rate", "weight", "points"}},
         "computed_score": "63.50", "max_score": 70}

    ``rate`` and ``points`` are decimal strings (``None`` when nothing was due); ``weights``
    are the points of each component (``conf.DEFAULTS["weights"]``).
    """
    def interval(kind: str, tier: str):
        value = (intervals.get(kind) or {}).get(tier)
        return tuple(value) if value else None

    tallies = {name: Tally() for name in COMPONENTS}
    for p in people:
        tallies["contacts"].add(windows(p.contacts, first=first, last=last, interval=interval("contact", p.tier)))
        tallies["tests"].add(windows(p.tests, first=first, last=last, interval=interval("urinalysis", p.tier)))
        tallies["reassessments"].add(
            windows(p.assessments, first=first, last=last, interval=interval("reassessment", p.tier)))
        clear = Tally(due=1, on_time=1 if p.overdue_items == 0 else 0, missed=1 if p.overdue_items else 0,
                      done=0)
        tallies["no_overdue"].add(clear)
    for h in handovers:
        if first <= h.deadline <= last:
            ok = h.reported_on is not None and h.reported_on <= h.deadline
            tallies["handovers"].add(Tally(due=1, on_time=1 if ok else 0, missed=0 if ok else 1,
                                           done=1 if h.reported_on else 0))
    max_score = sum(int(weights.get(n, 0)) for n in COMPONENTS)
    scored = [n for n in COMPONENTS if tallies[n].due and weights.get(n)]
    scored_weight = sum(int(weights[n]) for n in scored)
    components: dict[str, Any] = {}
    total = Decimal(0)
    for name in COMPONENTS:
        t = tallies[name]
        weight = int(weights.get(name, 0))
        points = None
        if name in scored:
            # Scale up so the components with something due share the whole scale.
            points = _q2(t.rate * Decimal(weight) * Decimal(max_score) / Decimal(scored_weight))
            total += points
        components[name] = {**asdict(t), "rate": None if t.rate is None else str(_q2(t.rate)),
                            "weight": weight, "points": None if points is None else str(points)}
    computed = _q2(total) if scored else Decimal(max_score)
    return {
        "period": {"first": first.isoformat(), "last": last.isoformat()},
        "caseload": len(people),
        "components": components,
        "computed_score": str(min(computed, Decimal(max_score))),
        "max_score": max_score,
    }
