"""Demo workforce: Qiongshan's drug-control social worker brigade (琼山区禁毒专管员大队) and a
squadron in each of its 11 towns (4 sub-districts and 7 towns; the farm 省岭脚热带作物场, a
town-like unit, has no squadron of its own), following the seed's "建制" model.

Each squadron gets as many workers as the staffing rule gives for its town from the demo
registry (:mod:`jindu.workforce.staffing`: current users ÷ 30 + abstinent ÷ 40, ceiling of the
sum), so the staffing page reproduces the computation; two deliberate differences make its
gap and over-capacity columns show something: one worker of 甲子镇 resigned (a vacancy), and
府城街道 keeps the registry demo's social worker (``fucheng_worker``) on top of its complement.
The brigade has a leader and a deputy. Accounts are ``qs_worker_NN`` (role social_worker in
their town), made through :mod:`jindu.accounts.services` by the demo city administrator;
caseloads are assigned through ``persons.services.assign_worker`` by the balance rule, the
latest registrations of each town left on its unassigned list.

Create-once: when demo teams exist nothing is touched. Deterministic: names and dates come
from a seeded generator and the local date of seeding.
"""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

from django.conf import settings
from django.db.models import Count

from jindu.core.timeutils import local_today

SEED = 20_260_460_107
DISTRICT_CODE = "460107000000"
UNASSIGNED_SHARE = 0.04
MOBILE_PREFIXES = ("130", "135", "138", "139", "150", "158", "177", "186", "189", "198")
SURNAMES = "王李张刘陈杨黄吴周符林邢冯许何郑谢韩云吉蒙"
GIVEN = ("海燕", "小梅", "志强", "文华", "丽娜", "俊杰", "晓东", "春花", "明辉", "秀英", "国栋", "雪琴", "振华", "美玲",
         "家豪", "玉兰", "永福", "婷婷", "建国", "少云", "海波", "琼花", "德明", "慧敏")


def _person_model():
    # The seed is a system action with no user: it counts the registry without a scope, reaching
    # the model through the persons selectors module rather than importing persons.models.
    from jindu.persons import selectors

    return selectors.persons_for(None).model


def _add_months(d: dt.date, months: int) -> dt.date:
    from jindu.workforce.scorecard import add_interval

    return add_interval(d, (months, "months"))


def seed(stdout) -> None:
    """Create the demo brigade, squadrons, workers, contracts, training, meetings and
    caseloads once (see the module docstring)."""
    from jindu.geo.models import Division
    from jindu.workforce.models import Team

    if Team.objects.filter(is_demo=True).exists():
        stdout.write("demo workforce: already present, left as it is")
        return
    district = Division.objects.filter(code=DISTRICT_CODE).first()
    if district is None or not district.path.startswith(
            Division.objects.get(code=settings.JINDU_DEMO_CITY.ljust(12, "0")).path):
        stdout.write("demo workforce: 琼山区 is not in the demo city, skipped")
        return
    n = build(district=district, today=local_today())
    stdout.write(f"demo workforce: 琼山区 brigade, 11 squadrons, {n} workers")


def build(*, district, today: dt.date) -> int:
    """Write the demo workforce for ``district``; returns the number of workers."""
    from simple_history.utils import bulk_create_with_history

    from jindu.accounts import services as accounts
    from jindu.accounts.models import Role, User
    from jindu.geo.choices import Level, TownKind
    from jindu.geo.models import Division
    from jindu.org.models import Unit
    from jindu.persons.choices import Status
    from jindu.workforce import selectors, staffing
    from jindu.workforce.choices import (
        LeavingKind, MeetingKind, Position, RenewalDecision, TeamKind, WorkerStatus,
    )
    from jindu.workforce.conf import workforce_settings
    from jindu.workforce.models import ContractPeriod, Meeting, Team, TrainingRecord, Worker

    rng = random.Random(SEED)
    conf = workforce_settings()
    admin = User.objects.filter(username="city_admin", is_active=True).first()
    role = Role.objects.get(code="social_worker")
    towns = list(Division.objects.filter(parent=district, level=Level.TOWN).exclude(town_kind=TownKind.TOWN_LIKE)
                 .order_by("code"))
    Person = _person_model()
    counts: dict[int, dict[str, int]] = {t.pk: {"current": 0, "abstinent": 0} for t in towns}
    by_path = {t.path: t.pk for t in towns}
    for row in (Person.objects.filter(merged_into__isnull=True, status__in=selectors.CASELOAD_STATUSES,
                                      residence_division__path__startswith=district.path)
                .order_by().values("residence_division__path", "status").annotate(n=Count("pk"))):
        town_pk = by_path.get("/".join(row["residence_division__path"].split("/")[:4]) + "/")
        if town_pk is not None:
            counts[town_pk]["abstinent" if row["status"] == Status.ABSTINENT_3Y else "current"] += row["n"]

    district_unit = Unit.objects.filter(division=district, is_demo=True).order_by("pk").first()
    brigade = Team(name=f"{district.name}禁毒专管员大队", kind=TeamKind.BRIGADE, division=district, is_demo=True)
    brigade.save()
    serial = iter(range(1, 10_000))
    names_used: set[str] = set()

    def name() -> str:
        while True:
            candidate = rng.choice(SURNAMES) + rng.choice(GIVEN)
            if candidate not in names_used or len(names_used) > 400:
                names_used.add(candidate)
                return candidate

    def account(full_name: str, town, unit) -> User:
        username = f"qs_worker_{next(serial):02d}"
        existing = User.objects.filter(username=username).first()
        if existing is not None:
            return existing
        if admin is not None and unit is not None:
            user, _generated = accounts.create_user(actor=admin, username=username, full_name=full_name, unit=unit)
            accounts.grant_role(actor=admin, user=user, role=role, division=town, note="演示账号")
        else:  # no administrator to act: the same rows, written like accounts.demo does
            from jindu.accounts.models import RoleAssignment

            user = User(username=username, full_name=full_name, unit=unit)
            user.save()
            RoleAssignment.objects.create(user=user, role=role, division=town, note="演示账号")
        # Demo logins get the demo password in demo mode; otherwise no usable password.
        if settings.JINDU_DEMO:
            from jindu.accounts.demo import DEMO_PASSWORD

            user.set_password(DEMO_PASSWORD)
        else:
            user.set_unusable_password()
        user.is_demo = True
        user.save(update_fields=["password", "is_demo"])
        return user

    workers: list[Worker] = []

    def worker(team, town, unit, position, *, years_ago: int) -> Worker:
        full_name = name()
        recruited = today - dt.timedelta(days=365 * years_ago + rng.randint(0, 300))
        w = Worker(user=account(full_name, town, unit), name=full_name, team=team, position=position,
                   recruited_on=recruited, probation_ends_on=_add_months(recruited, 6),
                   phone=f"{rng.choice(MOBILE_PREFIXES)}{rng.randrange(10**8):08d}", is_demo=True)
        if w.probation_ends_on < today:
            w.status, w.confirmed_on = WorkerStatus.IN_POST, w.probation_ends_on
        w.save()
        workers.append(w)
        return w

    brigade.leader = worker(brigade, district, district_unit, Position.BRIGADE_LEADER, years_ago=6)
    worker(brigade, district, district_unit, Position.DEPUTY_LEADER, years_ago=5)
    brigade.save()
    fucheng = User.objects.filter(username="fucheng_worker").first()
    squadrons: list[tuple[Team, Division, list[Worker]]] = []
    for town in towns:
        c = counts[town.pk]
        need = staffing.staffing_need(c["current"], c["abstinent"], users_per_worker=conf["users_per_worker"],
                                      abstinent_per_worker=conf["abstinent_per_worker"], rounding=conf["rounding"])
        team = Team(name=f"{town.name}禁毒专管员中队", kind=TeamKind.SQUADRON, parent=brigade, division=town,
                    is_demo=True)
        team.save()
        unit = Unit.objects.filter(division=town, is_demo=True).order_by("pk").first()
        members = []
        for i in range(max(need, 1)):
            members.append(worker(team, town, unit, Position.SQUADRON_LEADER if i == 0 else Position.WORKER,
                                  years_ago=rng.choice((0, 1, 2, 3, 4)) if i else 4))
        if town.name == "府城街道" and fucheng is not None and not Worker.objects.filter(user=fucheng).exists():
            w = Worker(user=fucheng, name=fucheng.full_name or "府城街道禁毒社工", team=team, position=Position.WORKER,
                       recruited_on=today - dt.timedelta(days=800), probation_ends_on=today - dt.timedelta(days=620),
                       status=WorkerStatus.IN_POST, confirmed_on=today - dt.timedelta(days=620), is_demo=True)
            w.save()
            workers.append(w)
            members.append(w)
        team.leader = members[0]
        team.save()
        squadrons.append((team, town, members))

    # A vacancy: the last worker of 甲子镇 resigned last month.
    for team, town, members in squadrons:
        if town.name == "甲子镇" and len(members) > 1:
            gone = members.pop()
            Worker.objects.filter(pk=gone.pk).update(
                status=WorkerStatus.LEFT, left_on=today - dt.timedelta(days=30), leaving_kind=LeavingKind.RESIGNED,
                leaving_reason="个人原因辞职（演示）")

    contracts, trainings = [], []
    notice = dt.timedelta(days=int(conf["renewal_notice_days"]))
    for w in workers:
        start = w.recruited_on
        while True:
            end = _add_months(start, 12) - dt.timedelta(days=1)
            current = end >= today
            contracts.append(ContractPeriod(
                worker=w, starts_on=start, ends_on=end, renewal_due_on=max(start, end - notice),
                decision=RenewalDecision.PENDING if current else RenewalDecision.RENEW,
                decided_on=None if current else end - notice))
            if current:
                break
            start = end + dt.timedelta(days=1)
        trainings.append(TrainingRecord(worker=w, course="禁毒专管员岗前培训", provider="琼山区禁毒委员会办公室",
                                        started_on=w.recruited_on + dt.timedelta(days=7), duration_h=Decimal("40.0"),
                                        certificate=f"琼禁培字{w.recruited_on.year}第{w.pk:04d}号"))
        if w.recruited_on < today - dt.timedelta(days=200):
            trainings.append(TrainingRecord(worker=w, course="社区戒毒社区康复业务培训", provider="海南省禁毒教育基地",
                                            started_on=today - dt.timedelta(days=rng.randint(30, 180)),
                                            duration_h=Decimal(rng.choice(("8.0", "16.0", "24.0")))))
    bulk_create_with_history(contracts, ContractPeriod, batch_size=500)
    bulk_create_with_history(trainings, TrainingRecord, batch_size=500)

    in_post = {w.pk for w in Worker.objects.filter(team__in=[brigade, *[s[0] for s in squadrons]],
                                                   status__in=(WorkerStatus.IN_POST, WorkerStatus.PROBATION))}
    meetings: list[tuple[Meeting, list[Worker]]] = []
    first_of_month = today.replace(day=1)
    for back in range(1, 4):  # the brigade's monthly meetings of the last three months
        held = _add_months(first_of_month, -back) + dt.timedelta(days=rng.randint(2, 8))
        leaders = [brigade.leader] + [s[0].leader for s in squadrons]
        meetings.append((Meeting(team=brigade, kind=MeetingKind.MONTHLY_BRIGADE, held_on=held, place="琼山区禁毒办会议室",
                                 minutes="通报上月帮扶对象管控情况；部署本月尿检、走访和出所衔接工作。"), leaders))
    monday = today - dt.timedelta(days=today.weekday())
    for team, town, members in squadrons:
        present = [m for m in members if m.pk in in_post]
        for back in range(1, 5):  # each squadron's weekly meetings of the last four weeks
            held = monday - dt.timedelta(weeks=back)
            attended = [m for m in present if rng.random() > 0.1] or present
            meetings.append((Meeting(team=team, kind=MeetingKind.WEEKLY_SQUADRON, held_on=held,
                                     place=f"{town.name}禁毒办", minutes="逐人通报本周联系、尿检情况，安排下周工作。"),
                             attended))
    for meeting, people in meetings:
        meeting.save()
        meeting.attendees.set(people)

    _assign_caseloads(admin, squadrons, in_post, fucheng)
    return len(workers)


def _assign_caseloads(admin, squadrons, in_post: set[int], fixed_user) -> None:
    """Caseloads by the balance rule, through ``persons.services.assign_worker`` (audited),
    leaving the latest registrations of each town on its unassigned list. The registry demo's
    own worker keeps the caseload it was given."""
    from jindu.persons import services as persons_services
    from jindu.workforce import balance, selectors
    from jindu.workforce.conf import workforce_settings

    if admin is None:
        return
    conf = workforce_settings()
    Person = _person_model()
    for team, town, members in squadrons:
        holders = [m for m in members if m.pk in in_post and m.user_id != getattr(fixed_user, "pk", None)]
        rows = list(Person.objects.filter(merged_into__isnull=True, status__in=selectors.CASELOAD_STATUSES,
                                          residence_division__path__startswith=town.path, assigned_worker__isnull=True)
                    .order_by("registered_on", "pk").values_list("pk", "status"))
        keep_free = int(len(rows) * UNASSIGNED_SHARE)
        rows = rows[:len(rows) - keep_free]
        people = [balance.CasePerson(pk, balance.ABSTINENT if status in selectors.ABSTINENT else balance.CURRENT, None)
                  for pk, status in rows]
        result = balance.suggest(people, [m.user_id for m in holders], users_per_worker=conf["users_per_worker"],
                                 abstinent_per_worker=conf["abstinent_per_worker"])
        users = {m.user_id: m.user for m in holders}
        targets: dict[int, list[int]] = {}
        for move in result.moves:
            targets.setdefault(move.to_worker_id, []).append(move.person_id)
        for user_id in sorted(targets):
            persons_services.assign_worker(user=admin, persons=list(Person.objects.filter(pk__in=targets[user_id])),
                                           worker=users[user_id], reason="演示数据：按配比分配帮扶对象")
