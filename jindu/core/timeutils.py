"""Local time (Asia/Shanghai): local dates, calendar periods, deadlines, date filters.

Rules (DESIGN.md "Time"): datetimes are aware and stored in UTC; a *local date* is the
date on the wall clock in ``settings.TIME_ZONE`` (Asia/Shanghai). A period (day, ISO week,
month, quarter, year) is a half-open range of aware datetimes ``[start, end)`` from local
midnight to local midnight, so a record at 2024-03-01 07:30 Shanghai (2024-02-29T23:30Z)
belongs to March, and each instant belongs to exactly one period of a kind. A deadline is
a local date: due all of that local day, overdue from the following local midnight.

Filter with ranges, never with ``__date`` lookups: ``recorded_at__date`` converts in the
database session's zone, and a ``[start, end)`` range keeps the index usable::

    start, end = month_period(2024, 3).bounds
    Model.objects.filter(recorded_at__gte=start, recorded_at__lt=end)
    # or: Model.objects.filter(period_q("recorded_at", month_period(2024, 3)))
"""

from __future__ import annotations

import re
import time as _clock
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Literal

from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

__all__ = [
    "local_tz",
    "local_now",
    "local_today",
    "local_date",
    "day_start",
    "day_end",
    "day_bounds",
    "Period",
    "PeriodKind",
    "day_period",
    "week_period",
    "month_period",
    "quarter_period",
    "year_period",
    "period_containing",
    "parse_period",
    "periods_between",
    "period_q",
    "DueStatus",
    "due_status",
    "parse_local_date",
    "date_range_bounds",
    "date_range_q",
]

PeriodKind = Literal["day", "week", "month", "quarter", "year"]
DueStatus = Literal["upcoming", "due_today", "overdue"]


def local_tz():
    """The local zone (``settings.TIME_ZONE``, Asia/Shanghai)."""
    return timezone.get_default_timezone()


def local_now() -> datetime:
    """Now, aware, in the local zone."""
    return timezone.localtime(timezone.now(), local_tz())


#: (whole second of the clock, zone, local date) of the last :func:`local_today` answer.
_today_memo: tuple = (None, None, None)


def local_today() -> date:
    """Today's local date.

    Remembered for the current wall-clock second and zone: imports ask for it several times
    per row (identity-number range checks, deadlines). Read from ``time.time()``, which
    ``timezone.now()`` follows (and time-machine moves in tests); a whole second never
    straddles a local midnight, as zone offsets are whole seconds.
    """
    global _today_memo
    second = int(_clock.time())
    tz = local_tz()
    memo = _today_memo
    if memo[0] == second and memo[1] is tz:
        return memo[2]
    today = datetime.fromtimestamp(second, tz).date()
    _today_memo = (second, tz, today)
    return today


def local_date(dt: datetime) -> date:
    """The local date of an aware datetime. Raises ``ValueError`` for a naive one."""
    if timezone.is_naive(dt):
        raise ValueError("local_date() needs an aware datetime")
    return timezone.localtime(dt, local_tz()).date()


def day_start(d: date) -> datetime:
    """Aware local midnight at the start of ``d``."""
    return datetime.combine(d, time.min, tzinfo=local_tz())


def day_end(d: date) -> datetime:
    """Aware local midnight at the start of the day after ``d`` (exclusive end of ``d``)."""
    return day_start(d + timedelta(days=1))


def day_bounds(d: date) -> tuple[datetime, datetime]:
    """``(day_start(d), day_end(d))``: the half-open range of local day ``d``."""
    return day_start(d), day_end(d)


@dataclass(frozen=True)
class Period:
    """A local calendar period.

    ``kind``: ``day``/``week``/``month``/``quarter``/``year``; ``first``/``last``: its
    first and last local dates (inclusive); ``label``: ``2024-03-05``, ``2025-W01``
    (ISO 8601 week), ``2024-03``, ``2024-Q1``, ``2024``. ``start``/``end`` are the aware
    half-open bounds; ``display`` adds the date range (``2025-W01（2024-12-30 至
    2025-01-05）``) for weeks and quarters, whose labels alone do not say their dates.
    """

    kind: str
    first: date
    last: date
    label: str

    @property
    def start(self) -> datetime:
        return day_start(self.first)

    @property
    def end(self) -> datetime:
        return day_end(self.last)

    @property
    def bounds(self) -> tuple[datetime, datetime]:
        return self.start, self.end

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    @property
    def display(self) -> str:
        if self.kind in ("week", "quarter"):
            return gettext("%(label)s（%(first)s 至 %(last)s）") % {
                "label": self.label, "first": self.first.isoformat(), "last": self.last.isoformat()}
        return self.label

    def contains(self, value: date | datetime) -> bool:
        """Whether a local date, or an aware datetime, falls in the period."""
        if isinstance(value, datetime):
            return self.start <= value < self.end
        return self.first <= value <= self.last

    def next(self) -> "Period":
        return period_containing(self.kind, self.last + timedelta(days=1))

    def previous(self) -> "Period":
        return period_containing(self.kind, self.first - timedelta(days=1))

    def __str__(self) -> str:
        return self.label


def day_period(d: date) -> Period:
    return Period("day", d, d, d.isoformat())


def week_period(d: date) -> Period:
    """The ISO 8601 week containing ``d`` (Monday to Sunday); 2024-12-31 is in 2025-W01."""
    iso_year, iso_week, iso_weekday = d.isocalendar()
    first = d - timedelta(days=iso_weekday - 1)
    return Period("week", first, first + timedelta(days=6), f"{iso_year}-W{iso_week:02d}")


def month_period(year: int, month: int) -> Period:
    first = date(year, month, 1)
    nxt = date(year + 1, 1, 1) if month == 12 else date(year, month + 1, 1)
    return Period("month", first, nxt - timedelta(days=1), f"{year}-{month:02d}")


def quarter_period(year: int, quarter: int) -> Period:
    if not 1 <= quarter <= 4:
        raise ValueError("quarter must be 1..4")
    first = date(year, 3 * quarter - 2, 1)
    last = month_period(year, 3 * quarter).last
    return Period("quarter", first, last, f"{year}-Q{quarter}")


def year_period(year: int) -> Period:
    return Period("year", date(year, 1, 1), date(year, 12, 31), f"{year}")


def period_containing(kind: str, value: date | datetime) -> Period:
    """The period of ``kind`` containing a local date or an aware datetime (converted to local)."""
    d = local_date(value) if isinstance(value, datetime) else value
    if kind == "day":
        return day_period(d)
    if kind == "week":
        return week_period(d)
    if kind == "month":
        return month_period(d.year, d.month)
    if kind == "quarter":
        return quarter_period(d.year, (d.month - 1) // 3 + 1)
    if kind == "year":
        return year_period(d.year)
    raise ValueError(f"unknown period kind {kind!r}")


_LABELS = [
    ("week", re.compile(r"(\d{4})-W(\d{2})")),
    ("quarter", re.compile(r"(\d{4})-Q([1-4])")),
    ("day", re.compile(r"(\d{4})-(\d{2})-(\d{2})")),
    ("month", re.compile(r"(\d{4})-(\d{2})")),
    ("year", re.compile(r"(\d{4})")),
]


def parse_period(label: str) -> Period:
    """The period named by a label (``2024-03-05``, ``2025-W01``, ``2024-03``, ``2024-Q1``, ``2024``).

    Raises ``ValueError`` with a Chinese message for anything else.
    """
    text = (label or "").strip()
    for kind, pattern in _LABELS:
        m = pattern.fullmatch(text)
        if not m:
            continue
        try:
            nums = [int(g) for g in m.groups()]
            if kind == "week":
                return week_period(date.fromisocalendar(nums[0], nums[1], 1))
            if kind == "quarter":
                return quarter_period(*nums)
            if kind == "day":
                return day_period(date(*nums))
            if kind == "month":
                return month_period(*nums)
            return year_period(nums[0])
        except ValueError:
            break
    raise ValueError(str(_("无法识别的统计周期：%(label)s") % {"label": label}))


def periods_between(kind: str, first: date, last: date) -> list[Period]:
    """Consecutive periods of ``kind`` covering local dates ``first``..``last`` (inclusive).

    Periods are whole (a weekly series starting on a Wednesday begins with that whole
    week), so every instant in the range falls in exactly one of them.
    """
    if last < first:
        return []
    out = [period_containing(kind, first)]
    while out[-1].last < last:
        out.append(out[-1].next())
    return out


def period_q(field: str, period: Period) -> Q:
    """``Q(field__gte=start, field__lt=end)`` for a datetime field and a period."""
    return Q(**{f"{field}__gte": period.start, f"{field}__lt": period.end})


def due_status(deadline: date, now: datetime | None = None) -> DueStatus:
    """``"upcoming"``, ``"due_today"`` or ``"overdue"`` for a deadline on local date ``deadline``.

    Due all of the deadline's local day; overdue from the next local midnight
    (DESIGN.md "Time"). ``now`` defaults to the current time; a given ``now`` must be
    aware and is converted to local time, so 2024-06-21 07:59 Shanghai is past a
    2024-06-20 deadline although UTC still reads 20 June.
    """
    today = local_date(now) if now is not None else local_today()
    if today < deadline:
        return "upcoming"
    if today == deadline:
        return "due_today"
    return "overdue"


_DATE_RE = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})")


def parse_local_date(value: date | str | None, *, field: str = "") -> date | None:
    """A local date from a ``date`` or an ISO ``YYYY-MM-DD`` string (``None``/``""`` → ``None``).

    A ``datetime`` is refused (it is an instant, not a local date). Raises ``ValueError``
    with a Chinese message naming ``field``.
    """
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        raise ValueError(str(_("%(field)s 应为日期，不能是日期时间") % {"field": field or "日期"}))
    if isinstance(value, date):
        return value
    m = _DATE_RE.fullmatch(str(value).strip())
    if m:
        try:
            return date(*(int(g) for g in m.groups()))
        except ValueError:
            pass
    raise ValueError(
        str(_("%(field)s 不是有效日期（应为 YYYY-MM-DD）：%(value)s") % {"field": field or "日期", "value": value})
    )


def date_range_bounds(
    date_from: date | str | None, date_to: date | str | None
) -> tuple[datetime | None, datetime | None]:
    """Aware ``[start, end)`` for inclusive local dates ``date_from``..``date_to``.

    Either side may be ``None`` (open). ``date_to`` is inclusive: 2024-05-10..2024-05-10
    covers the whole local day of 10 May (``end`` is 11 May 00:00 local). Strings are
    ISO dates. Raises ``ValueError`` (Chinese message) for bad dates or ``date_from`` after
    ``date_to``.
    """
    first = parse_local_date(date_from, field="起始日期")
    last = parse_local_date(date_to, field="截止日期")
    if first and last and first > last:
        raise ValueError(str(_("起始日期不能晚于截止日期")))
    return (day_start(first) if first else None, day_end(last) if last else None)


def date_range_q(
    field: str, date_from: date | str | None, date_to: date | str | None, *, date_field: bool = False
) -> Q:
    """A ``Q`` keeping rows whose ``field`` lies in the inclusive local date range.

    ``field`` is a ``DateTimeField`` (compared with the aware ``[start, end)`` bounds) or,
    with ``date_field=True``, a ``DateField`` holding local dates (compared inclusively).
    Raises ``ValueError`` like :func:`date_range_bounds`.
    """
    if date_field:
        first = parse_local_date(date_from, field="起始日期")
        last = parse_local_date(date_to, field="截止日期")
        if first and last and first > last:
            raise ValueError(str(_("起始日期不能晚于截止日期")))
        q = Q()
        if first is not None:
            q &= Q(**{f"{field}__gte": first})
        if last is not None:
            q &= Q(**{f"{field}__lte": last})
        return q
    start, end = date_range_bounds(date_from, date_to)
    q = Q()
    if start is not None:
        q &= Q(**{f"{field}__gte": start})
    if end is not None:
        q &= Q(**{f"{field}__lt": end})
    return q
