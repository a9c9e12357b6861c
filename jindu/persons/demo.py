"""Demo registry for the demo city (Haikou): a few thousand made-up people who use drugs
with timelines, case work and a social worker's caseload.

Scale: Hainan reported 6,054 current drug users province-wide in 2023 (seed report);
Haikou holds about a third of the province's people, so the demo has about 2,000 current
users plus the people abstinent three years and the dead — ``DEMO_PEOPLE`` in all, spread
over Haikou's villages, weighted by district with 琼山区 (460107) heaviest. Shares of
each path (:data:`PATHS`) are demo choices, not published figures.

Everything is invented: names from Faker (``zh_CN``; a plain built-in generator where Faker,
a development requirement, is not installed), identity numbers with valid check
digits (GB 11643-1999, ISO 7064 MOD 11-2) but the address codes 460191–460199, which
GB/T 2260 never assigned, so no number can be a real person's. The timeline paths follow
the legal clocks (JDF 33, 47, 48; JDTL 14, 27, 37, 38): found using → order or decision →
reporting / admission → tests (mostly negative), relapses, releases, handover, completion,
death or emigration. Status, tier dates and due items are *derived* afterwards by
:func:`jindu.persons.bulk.recompute`, exactly as for real data.

Dates are relative to the local date of seeding (so the worklist has work due today, this
week and overdue whenever the demo is created); the random choices are seeded, so the same
people, villages and timelines come out every time. Create-once: when demo people exist,
nothing is touched.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db.models import Q

from jindu.core.timeutils import local_today
from jindu.persons.choices import (
    AssistanceKind, ContactKind, EventKind as K, EventSource, HandoverStatus, Sex, TestResult,
)

DEMO_PEOPLE = 4_800
SEED = 20_260_460_100
#: Share of people per district (by code suffix); 琼山区 heaviest (the demo social worker's district).
DISTRICT_WEIGHTS = {"460105": 0.17, "460106": 0.24, "460107": 0.34, "460108": 0.25}
#: Timeline paths and their shares (demo choices; the status is derived from the timeline).
PATHS = (
    ("abstinent_old", 0.36),
    ("found_only_recent", 0.08),
    ("completed_recent", 0.06),
    ("community_drug_rehab", 0.14),
    ("isolation", 0.10),
    ("community_rehab", 0.09),
    ("awaiting_report", 0.015),
    ("refused_report", 0.01),
    ("relapse_after_abstinence", 0.04),
    ("deceased", 0.07),
    ("emigrated", 0.005),
)
#: People in the demo social worker's caseload (about the staffing norm of 30 per worker,
#: casework_rules.md workload_users_per_worker, plus a few).
CASELOAD = 36
DRUGS = (("甲基苯丙胺", 0.46), ("海洛因", 0.22), ("氯胺酮", 0.12), ("大麻和大麻树脂与大麻浸膏和酊", 0.05),
         ("依托咪酯", 0.08), ("3,4-亚甲二氧基甲基苯丙胺", 0.03), ("可卡因", 0.01), ("美沙酮", 0.03))
#: Household places of people registered elsewhere (Hainan draws many from nearby provinces).
ORIGINS = ("海南省儋州市那大镇", "海南省文昌市文城镇", "海南省琼海市嘉积镇", "海南省万宁市万城镇", "广东省湛江市霞山区",
           "广东省茂名市茂南区", "广西壮族自治区玉林市玉州区", "湖南省衡阳市蒸湘区", "四川省南充市顺庆区",
           "贵州省遵义市红花岗区", "江西省赣州市章贡区")
MOBILE_PREFIXES = ("130", "131", "132", "135", "136", "137", "138", "139", "150", "151", "152", "158", "159", "177",
                   "180", "186", "187", "188", "189", "198", "199")
DEMO_AREA_CODES = tuple(f"4601{n}" for n in range(91, 100))
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def check_char(first17: str) -> str:
    """Check character of a resident identity number (GB 11643-1999, ISO 7064 MOD 11-2)."""
    return "10X98765432"[sum(int(d) * w for d, w in zip(first17, _WEIGHTS)) % 11]


def synthetic_identity_number(rng: random.Random, born: dt.date, male: bool) -> str:
    """A valid-looking 18-digit number on an address code no real person has (460191–460199)."""
    seq = rng.randrange(0, 500) * 2 + (1 if male else 0)
    first17 = f"{rng.choice(DEMO_AREA_CODES)}{born:%Y%m%d}{seq:03d}"
    return first17 + check_char(first17)


# --- timelines ----------------------------------------------------------------------------


@dataclass
class Story:
    """One person's made-up history, before it is written (dates are local dates)."""

    path: str
    events: list[dict] = field(default_factory=list)
    contacts: list[tuple[str, dt.date]] = field(default_factory=list)
    assessments: list[tuple[dt.date, str]] = field(default_factory=list)  # (date, tier)
    plan: tuple[dt.date, dt.date] | None = None  # (starts_on, review_on)
    handover: dict | None = None
    assistance: list[tuple[str, dt.date]] = field(default_factory=list)
    managed: bool = False  # in the community's case work (contacts, tests, assessments)

    def add(self, kind: str, on: dt.date, **extra: Any) -> None:
        self.events.append({"kind": kind, "occurred_on": on, **extra})

    @property
    def first_on(self) -> dt.date:
        return min(e["occurred_on"] for e in self.events)


def _days(n: float) -> dt.timedelta:
    return dt.timedelta(days=int(n))


def _years(d: dt.date, years: int) -> dt.date:
    try:
        return d.replace(year=d.year + years)
    except ValueError:  # 29 February
        return d.replace(year=d.year + years, day=28)


def _months(d: dt.date, months: int) -> dt.date:
    m = d.month - 1 + months
    year, month = d.year + m // 12, m % 12 + 1
    return d.replace(year=year, month=month, day=min(d.day, 28))


class Teller:
    """Writes :class:`Story` values for one path each; ``today`` is the seeding date."""

    def __init__(self, rng: random.Random, today: dt.date):
        self.rng = rng
        self.today = today
        self.doc_seq = 0

    # small helpers
    def between(self, start: dt.date, end: dt.date) -> dt.date:
        if end <= start:
            return start
        return start + _days(self.rng.randrange((end - start).days + 1))

    def doc(self, prefix: str, on: dt.date) -> str:
        self.doc_seq += 1
        return f"琼公（禁）{prefix}字〔{on.year}〕{self.doc_seq % 9000 + 100}号"

    def test_result(self, p_positive: float = 0.03) -> str:
        r = self.rng.random()
        if r < p_positive:
            return TestResult.POSITIVE
        if r < p_positive + 0.015:
            return TestResult.REFUSED
        return TestResult.NEGATIVE

    def found(self, s: Story, on: dt.date) -> None:
        s.add(K.FOUND_USING, on, source=EventSource.POLICE)
        s.add(K.URINALYSIS, on, result=TestResult.POSITIVE, source=EventSource.POLICE)

    def tests(self, s: Story, start: dt.date, end: dt.date, every_days: int, *, sparse: bool = False,
              p_positive: float = 0.02) -> None:
        """Urinalyses from ``start`` to ``end`` roughly every ``every_days`` (sparse: old paper
        records, a few only); the last one lands a random part of an interval before ``end``."""
        if sparse:
            for _ in range(self.rng.randint(1, 3)):
                s.add(K.URINALYSIS, self.between(start, end), result=TestResult.NEGATIVE, source=EventSource.TOWN)
            return
        day = start + _days(self.rng.randint(10, every_days))
        while day <= end:
            s.add(K.URINALYSIS, day, result=self.test_result(p_positive), source=EventSource.SOCIAL_WORKER)
            day += _days(every_days + self.rng.randint(-4, 6))
        if self.rng.random() < 0.25:
            s.add(K.HAIR_TEST, self.between(start, end), result=TestResult.NEGATIVE, source=EventSource.TOWN)

    def community_order(self, s: Story, on: dt.date, kind: str = K.COMMUNITY_REHAB_ORDER, *,
                        report: bool = True, term_months: int | None = None) -> dt.date | None:
        s.add(kind, on, source=EventSource.POLICE, document_number=self.doc("社戒" if kind == K.COMMUNITY_REHAB_ORDER
                                                                           else "社康", on),
              **({"term_months": term_months} if term_months else {}))
        if not report:
            return None
        reported = on + _days(self.rng.choice((1, 2, 3, 5, 7, 10, 14)))
        s.add(K.REPORTED, reported, source=EventSource.TOWN)
        s.add(K.AGREEMENT_SIGNED, reported, source=EventSource.TOWN)
        return reported

    def isolation(self, s: Story, on: dt.date, *, early: bool = False, extension: bool = False) -> dt.date:
        """Decision and admission on ``on``; returns the release date (JDF 47: 2 years, the
        last day the day before the anniversary; early release after at least 1 year)."""
        s.add(K.ISOLATION_DECISION, on, source=EventSource.POLICE, document_number=self.doc("强戒", on))
        s.add(K.ADMISSION, on + _days(self.rng.randint(0, 2)), source=EventSource.FACILITY)
        end = _years(on, 2) - _days(1)
        if extension:
            months = self.rng.choice((3, 6))
            s.add(K.EXTENSION, end - _days(self.rng.randint(20, 60)), term_months=months, source=EventSource.FACILITY)
            end = _months(end + _days(1), months) - _days(1)
        if early:
            end = on + _days(self.rng.randint(400, 640))
        return end

    def release(self, s: Story, on: dt.date, *, early: bool) -> None:
        s.add(K.EARLY_RELEASE if early else K.RELEASE, on, source=EventSource.FACILITY)

    def cases(self, s: Story, since: dt.date, *, tier: str) -> None:
        """Case work of a managed person: contacts, assessments, a plan, sometimes help."""
        rng, today = self.rng, self.today
        s.managed = True
        every = {"A": 15, "B": 30, "C1": 60, "C2": 120}[tier]
        day = max(since, today - _days(200)) + _days(rng.randint(3, every))
        while day <= today:
            kind = rng.choices((ContactKind.INTERVIEW, ContactKind.HOME_VISIT, ContactKind.PHONE, ContactKind.VIDEO,
                                ContactKind.POLICE_CONTACT), (40, 25, 20, 5, 10))[0]
            s.contacts.append((kind, day))
            day += _days(every + rng.randint(-5, 12))
        first = since + _days(rng.randint(1, 7))
        if first <= today:
            s.assessments.append((first, tier))
            interval = {"A": 30, "B": 91, "C1": 182, "C2": 365}[tier]
            last = today - _days(rng.randint(0, interval + 20))
            if last > first + _days(20):
                s.assessments.append((last, tier))
        plan_start = since + _days(rng.randint(3, 15))
        if plan_start <= today:
            # renewed every six months; the review of the current one is ±3 months from today
            while _months(plan_start, 6) < today - _days(rng.randint(0, 60)):
                plan_start = _months(plan_start, 6)
            s.plan = (plan_start, _months(plan_start, 6))
        if tier in ("A", "B"):  # hair tests every 6 / 12 months (tier overlay)
            s.add(K.HAIR_TEST, max(since, today - _days(rng.randint(0, 200 if tier == "A" else 380))),
                  result=TestResult.NEGATIVE, source=EventSource.TOWN)
        if rng.random() < 0.3:
            for _ in range(rng.randint(1, 3)):
                kind = rng.choices(AssistanceKind.values, (30, 20, 8, 15, 10, 10, 7))[0]
                s.assistance.append((kind, self.between(since, today)))

    # the paths
    def tell(self, path: str) -> Story:
        rng, today = self.rng, self.today
        s = Story(path)
        tier = rng.choices(("A", "B", "C1", "C2"), (12, 30, 43, 15))[0]
        if path == "abstinent_old":
            # every measure over more than three years ago: 3 (+ 2 in isolation) + 3 years back at least
            way = rng.random()
            first = today - _days(rng.randint(9 * 365 if way >= 0.75 else 7 * 365, 18 * 365))
            self.found(s, first)
            if way < 0.35:
                pass  # found once, no measure (administrative detention only)
            elif way < 0.75:
                reported = self.community_order(s, first + _days(rng.randint(0, 3)))
                self.tests(s, reported, _years(reported, 3), 60, sparse=True)
                s.add(K.MEASURE_COMPLETED, _years(reported, 3) - _days(1), source=EventSource.TOWN)
            else:
                decided = first + _days(rng.randint(1, 5))
                early = rng.random() < 0.3
                released = self.isolation(s, decided, early=early)
                self.release(s, released, early=early)
                reported = self.community_order(s, released, K.COMMUNITY_RECOVERY_ORDER, term_months=36)
                self.tests(s, reported, _years(reported, 3), 90, sparse=True)
                s.add(K.MEASURE_COMPLETED, _years(reported, 3) - _days(1), source=EventSource.TOWN)
            if rng.random() < 0.3:
                s.assessments.append((today - _days(rng.randint(10, 400)), "C2"))
        elif path == "found_only_recent":
            first = today - _days(rng.randint(20, 3 * 365 - 30))
            self.found(s, first)
            self.tests(s, first, today - _days(rng.randint(0, 60)), 75, p_positive=0.05)
            self.cases(s, first, tier=tier if tier != "C2" else "C1")
        elif path == "completed_recent":
            first = today - _days(rng.randint(4 * 365, 6 * 365))
            self.found(s, first)
            reported = self.community_order(s, first + _days(1))
            end = _years(reported, 3) - _days(1)
            self.tests(s, reported, end, 60)
            s.add(K.MEASURE_COMPLETED, end, source=EventSource.TOWN)
            if rng.random() < 0.5:  # a positive test after the measure keeps the clock running
                s.add(K.URINALYSIS, self.between(end, today - _days(30)), result=TestResult.POSITIVE,
                      source=EventSource.POLICE)
            self.cases(s, end, tier=rng.choice(("C1", "C2")))
        elif path == "community_drug_rehab":
            first = today - _days(rng.randint(25, 34 * 30))
            self.found(s, first)
            reported = self.community_order(s, first + _days(rng.randint(0, 3)))
            month = (today - reported).days // 30
            self.tests(s, reported, today - _days(rng.randint(0, 30)), 30 if month < 12 else 60 if month < 24 else 90)
            if rng.random() < 0.15:
                s.add(K.LEFT_COUNTY, self.between(reported, today - _days(10)), days=rng.randint(3, 12),
                      approved=rng.random() < 0.8, source=EventSource.SOCIAL_WORKER)
            if rng.random() < 0.05:
                s.add(K.VIOLATION, self.between(reported, today), source=EventSource.SOCIAL_WORKER)
            self.cases(s, reported, tier=tier if tier != "C2" else "C1")
        elif path == "isolation":
            decided = today - _days(rng.randint(5, 23 * 30))
            if rng.random() < 0.4:  # relapse during community drug rehabilitation
                first = decided - _days(rng.randint(200, 700))
                self.found(s, first)
                reported = self.community_order(s, first + _days(1))
                self.tests(s, reported, decided - _days(20), 30, p_positive=0.0)
                s.add(K.URINALYSIS, decided - _days(1), result=TestResult.POSITIVE, source=EventSource.SOCIAL_WORKER)
                s.add(K.RELAPSE, decided - _days(1), source=EventSource.POLICE)
            else:
                self.found(s, decided - _days(rng.randint(1, 3)))
            release = self.isolation(s, decided, extension=rng.random() < 0.08)
            if release - today <= _days(30) and release >= today:
                notice = release - _days(rng.randint(3, 10))
                if notice <= today:
                    s.handover = {"facility": "海南省琼山强制隔离戒毒所", "notice_received_on": notice,
                                  "expected_release_on": release, "status": HandoverStatus.NOTIFIED}
        elif path == "community_rehab":
            released = today - _days(rng.randint(3, 34 * 30))
            early = rng.random() < 0.25
            decided = released - _days(rng.randint(400, 640) if early else 730)
            self.found(s, decided - _days(rng.randint(1, 3)))
            self.isolation(s, decided)
            self.release(s, released, early=early)
            reported = self.community_order(s, released, K.COMMUNITY_RECOVERY_ORDER, term_months=36,
                                            report=released < today - _days(14) or rng.random() < 0.6)
            if reported is None or reported > today:
                s.events = [e for e in s.events if e["occurred_on"] <= today]
                reported = None
            if today - released <= _days(30):
                s.handover = {"facility": "海南省琼山强制隔离戒毒所", "notice_received_on": released - _days(5),
                              "expected_release_on": released, "released_on": released, "received_on": released,
                              "reported_on": reported,
                              "status": HandoverStatus.AGREEMENT_SIGNED if reported else HandoverStatus.RECEIVED}
            if reported:
                month = (today - reported).days // 30
                self.tests(s, reported, today - _days(rng.randint(0, 40)), 60 if month < 12 else 90)
                self.cases(s, reported, tier=tier)
        elif path == "awaiting_report":
            first = today - _days(rng.randint(1, 13))
            self.found(s, first)
            self.community_order(s, first + _days(rng.randint(0, 1)) if first < today else first, report=False)
        elif path == "refused_report":
            first = today - _days(rng.randint(30, 400))
            self.found(s, first)
            self.community_order(s, first + _days(1), report=False)
            s.add(K.REFUSED_MEASURE, first + _days(17), source=EventSource.TOWN)
            self.cases(s, first, tier="A")
        elif path == "relapse_after_abstinence":
            first = today - _days(rng.randint(8 * 365, 12 * 365))
            self.found(s, first)
            reported = self.community_order(s, first + _days(1))
            s.add(K.MEASURE_COMPLETED, _years(reported, 3) - _days(1), source=EventSource.TOWN)
            relapse = today - _days(rng.randint(30, 700))
            s.add(K.RELAPSE, relapse, source=EventSource.POLICE)
            s.add(K.URINALYSIS, relapse, result=TestResult.POSITIVE, source=EventSource.POLICE)
            reported = self.community_order(s, relapse + _days(1))
            self.tests(s, reported, today - _days(rng.randint(0, 30)), 30)
            self.cases(s, reported, tier=rng.choice(("A", "B")))
        elif path == "deceased":
            first = today - _days(rng.randint(3 * 365, 15 * 365))
            self.found(s, first)
            if rng.random() < 0.5:
                reported = self.community_order(s, first + _days(1))
                self.tests(s, reported, min(today, _years(reported, 1)), 90, sparse=True)
            s.add(K.DEATH, self.between(first + _days(200), today - _days(5)), source=EventSource.POLICE,
                  notes=rng.choice(("因病死亡", "意外死亡", "吸毒过量死亡", "自然死亡")))
        elif path == "emigrated":
            first = today - _days(rng.randint(5 * 365, 15 * 365))
            self.found(s, first)
            s.add(K.EMIGRATION, self.between(first + _days(400), today - _days(5)), source=EventSource.POLICE)
        else:  # pragma: no cover - PATHS lists every path
            raise ValueError(path)
        s.events = sorted((e for e in s.events if e["occurred_on"] <= today), key=lambda e: e["occurred_on"])
        return s


# --- writing ------------------------------------------------------------------------------


def seed(stdout) -> None:
    """Create the demo registry once (nothing is touched when demo people exist)."""
    from jindu.persons.models import Person

    if Person.objects.filter(is_demo=True).exists():
        stdout.write("demo persons: already present, left as they are")
        return
    people = build(today=local_today())
    stdout.write(f"demo persons: {people} people registered")


def build(*, today: dt.date, size: int | None = None, seed_value: int = SEED) -> int:
    """Write ``size`` (default :data:`DEMO_PEOPLE`) demo people with their timelines and case
    work, then derive their status and due items (``bulk.recompute``). Returns the number of
    people."""
    size = size or DEMO_PEOPLE
    from simple_history.utils import bulk_create_with_history

    from jindu.accounts.models import User
    from jindu.geo.models import Division
    from jindu.org.models import Unit
    from jindu.persons import bulk
    from jindu.persons.models import Assistance, CasePlan, Contact, Event, Handover, Person, RiskAssessment
    from jindu.substances.models import Substance

    rng = random.Random(seed_value)
    fake = _names(seed_value)
    teller = Teller(rng, today)
    city = Division.objects.get(code=settings.JINDU_DEMO_CITY.ljust(12, "0"))
    villages: dict[str, list[Division]] = {}
    for village in Division.objects.filter(path__startswith=city.path, level="village").select_related("parent").order_by("code"):
        villages.setdefault(village.code[:6], []).append(village)
    districts = [d for d in DISTRICT_WEIGHTS if villages.get(d)]
    weights = [DISTRICT_WEIGHTS[d] for d in districts]
    worker = User.objects.filter(username="fucheng_worker").first()
    worker_town = Division.objects.filter(path__startswith=city.path, name="府城街道", level="town").first()
    police = {u.division_id: u for u in Unit.objects.filter(is_demo=True, name__endswith="分局")}
    drugs = {s.name_zh: s for s in Substance.objects.filter(name_zh__in=[n for n, _w in DRUGS])}
    drug_names = [n for n, _w in DRUGS if n in drugs]
    drug_weights = [w for n, w in DRUGS if n in drugs]
    district_ids = {d.code[:6]: d.pk for d in Division.objects.filter(path__startswith=city.path, level="district")}
    paths = [p for p, _w in PATHS]
    path_weights = [w for _p, w in PATHS]

    stories: list[tuple[Person, Story, list]] = []
    for i in range(size):
        story = teller.tell(rng.choices(paths, path_weights)[0])
        district = rng.choices(districts, weights)[0]
        village = rng.choice(villages[district])
        male = rng.random() < 0.86
        first = story.first_on
        born = first - _days(rng.randint(17 * 365, 45 * 365))
        number = synthetic_identity_number(rng, born, male)
        name = fake.name_male() if male else fake.name_female()
        local = rng.random() < 0.7
        person = Person(
            identity_number=number, name=name, sex=Sex.MALE if male else Sex.FEMALE, birth_date=born,
            phone="" if rng.random() < 0.1 else f"{rng.choice(MOBILE_PREFIXES)}{rng.randrange(10**8):08d}",
            household_division=village if local else None,
            household_address=f"{village.parent.name}{village.name}{rng.randint(1, 300)}号" if local else
            f"{rng.choice(ORIGINS)}{rng.randint(1, 300)}号",
            residence_division=village, residence_address=f"{village.parent.name}{village.name}{rng.randint(1, 300)}号",
            registered_on=first, registering_unit=police.get(district_ids.get(district)),
            holds_driving_licence=rng.random() < 0.18, is_demo=True,
        )
        if person.holds_driving_licence:
            person.driving_licence_classes = rng.choice(("C1", "C1", "C2", "B2", "A2"))
        chosen = {rng.choices(drug_names, drug_weights)[0]} if drug_names else set()
        if drug_names and rng.random() < 0.15:
            chosen.add(rng.choice(drug_names))
        stories.append((person, story, sorted(chosen)))

    # The worker's caseload: managed people living in their town, first by a seeded shuffle.
    if worker and worker_town:
        mine = [p for p, s, _d in stories if s.managed and p.residence_division.path.startswith(worker_town.path)]
        rng.shuffle(mine)
        for person in mine[:CASELOAD]:
            person.assigned_worker = worker
        _shape_worklist([s for p, s, _d in stories if p.assigned_worker_id], today)

    persons = bulk_create_with_history([p for p, _s, _d in stories], Person, batch_size=1000)
    if persons[0].pk is None:  # a backend that does not return keys from bulk inserts
        by_digest = dict(Person.objects.filter(is_demo=True).values_list("identity_number_digest", "pk"))
        for person in persons:
            person.pk = by_digest[person.identity_number_digest]
    through = Person.drugs.through
    through.objects.bulk_create(
        [through(person_id=p.pk, substance_id=drugs[n].pk) for p, (_x, _s, names) in zip(persons, stories)
         for n in names], batch_size=2000)

    events, contacts, plans, handovers, helps, assessments = [], [], [], [], [], []
    for person, (_p, story, _d) in zip(persons, stories):
        mine = person.assigned_worker_id is not None
        for e in story.events:
            events.append(Event(person_id=person.pk, **e))
        for kind, on in story.contacts:
            contacts.append(Contact(person_id=person.pk, kind=kind, occurred_on=on,
                                    worker=worker if mine and kind != ContactKind.POLICE_CONTACT else None,
                                    place=rng.choice(("住所", "村委会", "镇街禁毒办", "社区戒毒康复工作站", "工作单位")),
                                    notes=rng.choice(("情况稳定，按时报到。", "家属配合，近期找到临时工作。",
                                                      "情绪低落，已做心理疏导。", "提醒按时尿检。"))))
        if story.plan:
            plans.append(CasePlan(person_id=person.pk, starts_on=story.plan[0], review_on=story.plan[1],
                                  goals="保持操守，稳定就业，修复家庭关系。",
                                  measures="按期尿检；每月谈话；协助办理就业登记。",
                                  responsible_worker=worker if mine else None))
        if story.handover:
            handovers.append(Handover(person_id=person.pk, **story.handover))
        for kind, on in story.assistance:
            helps.append(Assistance(person_id=person.pk, kind=kind, given_on=on,
                                    job_found=kind == AssistanceKind.JOB_PLACEMENT and rng.random() < 0.6,
                                    amount_yuan=Decimal(rng.choice((500, 1000, 2000, 5000))) if kind in (
                                        AssistanceKind.CARE, AssistanceKind.STARTUP_GRANT) else None))
        for on, tier in story.assessments:
            assessments.append((person, on, tier, story.events))
    for model, rows in ((Event, events), (Contact, contacts), (CasePlan, plans), (Handover, handovers),
                        (Assistance, helps)):
        if rows:
            bulk_create_with_history(rows, model, batch_size=2000)
    if assessments:
        bulk_create_with_history(_assessments(assessments, rng, worker), RiskAssessment, batch_size=2000)
    bulk.recompute(as_of=today, people=Q(is_demo=True))
    return len(persons)


class _PlainNames:
    """Stand-in for Faker where it is not installed (it is a development requirement)."""

    SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高郑梁谢宋唐符冯邓韩曹许云吉莫蔡"
    MALE = "伟强磊军勇杰涛明超刚平辉鹏华飞鑫波斌宇浩凯健俊帆帅旭宁龙林"
    FEMALE = "芳娜敏静丽艳娟霞秀玲桂英华慧巧美娅琳婷雪倩颖洁梅兰红萍燕"

    def __init__(self, seed_value: int):
        self.rng = random.Random(seed_value)

    def _given(self, chars: str) -> str:
        return "".join(self.rng.choice(chars) for _ in range(self.rng.choice((1, 2, 2))))

    def name_male(self) -> str:
        return self.rng.choice(self.SURNAMES) + self._given(self.MALE)

    def name_female(self) -> str:
        return self.rng.choice(self.SURNAMES) + self._given(self.FEMALE)



def _names(seed_value: int):
    """Faker (``zh_CN``) seeded with ``seed_value``, or :class:`_PlainNames` without it."""
    try:
        from faker import Faker
    except ImportError:
        return _PlainNames(seed_value)
    fake = Faker("zh_CN")
    fake.seed_instance(seed_value)
    return fake


def _shape_worklist(caseload: list[Story], today: dt.date) -> None:
    """Make sure the demo worker's day has work: a few people in community drug
    rehabilitation become tier A with their last interview 15 days ago (tier A: a contact at
    most every 15 days, so one is due today) or 12–14 days ago (due in 1–3 days)."""
    picked = [s for s in caseload if s.path == "community_drug_rehab" and s.assessments][:5]
    for n, story in enumerate(picked):
        story.assessments = [(on, "A") for on, _tier in story.assessments]
        last = today - _days(15 if n < 2 else 15 - (n - 1))
        story.contacts = [(k, on) for k, on in story.contacts if on < last] + [(ContactKind.INTERVIEW, last)]


def _assessments(rows: list[tuple[Any, dt.date, str, list[dict]]], rng: random.Random, worker) -> list:
    """Risk assessments scored with the shipped instrument: answers drawn to fit the intended
    tier (a few attempts), the final tier the instrument's (an override with its reason when
    the draw did not reach it)."""
    from jindu.persons import risk, rules
    from jindu.persons.models import RiskAssessment
    from jindu.persons.timeline import TimelineEvent

    instrument = risk.Instrument.load_default()
    config = rules.RulesConfig.from_settings()
    out = []
    for person, on, wanted, story_events in rows:
        timeline = [TimelineEvent(e["kind"], e["occurred_on"], n, e.get("result"), e.get("term_months"),
                                  e.get("days"), e.get("approved")) for n, e in enumerate(story_events, 1)]
        state = rules.derive_state(timeline, on, config, explain=False)
        prefilled = risk.derive_answers(state, on, events=timeline, instrument=instrument)
        best = None
        for _ in range(6):
            answers = {item.code: rng.choice(item.answers).code for item in instrument.items}
            answers.update({k: v for k, v in prefilled.items() if v})
            answers.update({flag.code: "yes" if rng.random() < 0.02 else "no" for flag in instrument.flags})
            result = risk.score(instrument, answers, state, as_of=on)
            best = (answers, result)
            if result.tier == wanted:
                break
        answers, result = best
        out.append(RiskAssessment(
            person_id=person.pk, assessed_on=on, trigger="periodic", instrument_code=result.instrument_code,
            instrument_version=result.instrument_version, answers=answers,
            item_points={i.item: i.points for i in result.items}, overrides=[o.code for o in result.overrides],
            score=result.score, computed_tier=result.tier, tier=wanted,
            override_reason="" if result.tier == wanted else "演示数据：结合日常管控情况人工调整",
            assessor=worker if person.assigned_worker_id else None))
    return out
