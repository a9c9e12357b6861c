"""Demo enforcement world for Haikou, 2022–2023: campaign periods, criminal and
administrative drug cases, suspects, gangs, seizures and drug-driving screenings.

The records are made so that the statistics page reproduces the seed report's figures
(``/work/shared/seed``, "海口厉行禁毒…" and the 琼山区 article):

- the city, calendar year 2023 ("截至目前", report of late 2023): 215 criminal drug cases
  solved, 6190.58 g of drugs seized (:data:`CITY_2023`);
- 琼山区 "since 2022", taken as 2022-01-01 – 2023-12-31: 58 criminal cases solved, 6
  ministry/province target cases, 145 suspects caught, 15 gangs broken up, 1.9 kg seized
  (:data:`QIONGSHAN`).

The other districts' 2022 figures are invented (:data:`CITY_2022`). Everything is
deterministic (a fixed random seed) and created once: a second run changes nothing.
Police stations (派出所) missing from the demo organisation are created as demo units so
that the three-level mechanism (city bureau, branch, station) shows.
"""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

from django.conf import settings
from simple_history.utils import bulk_create_with_history

from jindu.enforcement.choices import (
    CampaignKind,
    CampaignLevel,
    CaseKind,
    CaseStatus,
    DriverCategory,
    HandlingLevel,
    Offence,
    ScreeningResult,
    SeizureForm,
    SuspectRole,
    TargetLevel,
)
from jindu.enforcement.models import Campaign, Case, DriverTest, Gang, ScreeningSession, Seizure, Suspect
from jindu.geo.choices import Level, TownKind
from jindu.geo.models import Division
from jindu.org.choices import UnitKind
from jindu.org.models import Unit
from jindu.substances.models import Substance

YEARS = (2022, 2023)
QIONGSHAN_CODE = "460107"
# Per year, for 琼山区: criminal cases solved, ministry/province target cases (ministry, province),
# suspects caught, gangs broken up, milligrams seized. Sums: 58, 6, 145, 15, 1 900 000 mg.
QIONGSHAN = {
    2022: {"cases": 30, "targets": (1, 2), "suspects": 75, "gangs": 8, "mg": 1_000_000},
    2023: {"cases": 28, "targets": (1, 2), "suspects": 70, "gangs": 7, "mg": 900_000},
}
# The whole city (琼山区 included): criminal cases solved and milligrams seized per year.
CITY_2023 = {"cases": 215, "mg": 6_190_580}
CITY_2022 = {"cases": 231, "mg": 7_342_160}
CITY = {2022: CITY_2022, 2023: CITY_2023}
# Administrative drug-use cases per district per year (no seizures; not in the seed figures).
ADMIN_PER_DISTRICT = 24

# (substance name, form, share of seizures): the street mix of the demo.
DRUG_MIX = (
    ("甲基苯丙胺", SeizureForm.CRYSTAL, 45), ("甲基苯丙胺", SeizureForm.TABLETS, 15), ("海洛因", SeizureForm.POWDER, 12),
    ("氯胺酮", SeizureForm.POWDER, 10), ("3,4-亚甲二氧基甲基苯丙胺", SeizureForm.TABLETS, 6),
    ("大麻和大麻树脂与大麻浸膏和酊", SeizureForm.PLANT, 6), ("可卡因", SeizureForm.POWDER, 3),
    ("γ-羟丁酸", SeizureForm.LIQUID, 3),
)
CAMPAIGNS = (
    # name, kind, level, start (month, day), end (month, day)
    ("春夏攻势", CampaignKind.SPRING_SUMMER, CampaignLevel.PROVINCE, (3, 1), (6, 30)),
    ("秋冬攻势", CampaignKind.AUTUMN_WINTER, CampaignLevel.PROVINCE, (9, 1), (12, 31)),
    ("清源断流", CampaignKind.SOURCE_CUTOFF, CampaignLevel.PROVINCE, (4, 1), (11, 30)),
    ("集群打零", CampaignKind.CLUSTER, CampaignLevel.CITY, (5, 1), (10, 31)),
)
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐符邢吉云"
GIVEN = "明华强伟军平刚斌海波涛丽芳娟敏静燕霞玲秀英杰峰亮超鹏飞宇志文"


def _check_char(first17: str) -> str:
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    return "10X98765432"[sum(int(d) * w for d, w in zip(first17, weights)) % 11]


def _identity(rng: random.Random, area: str, seq: int) -> tuple[str, str]:
    """A synthetic, checksum-valid identity number (GB 11643-1999) and the sex it encodes."""
    birth = dt.date(1968, 1, 1) + dt.timedelta(days=rng.randrange(0, 35 * 365))
    order = f"{seq % 1000:03d}"
    first17 = f"{area}{birth:%Y%m%d}{order}"
    return first17 + _check_char(first17), "male" if int(order[-1]) % 2 else "female"


def _name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))


def _split(rng: random.Random, total: int, parts: int, minimum: int = 50) -> list[int]:
    """``parts`` positive integers (≥ ``minimum``) summing exactly to ``total``."""
    raw = [rng.paretovariate(1.6) for _ in range(parts)]
    scale = (total - minimum * parts) / sum(raw)
    out = [minimum + int(r * scale) for r in raw]
    out[out.index(max(out))] += total - sum(out)
    return out


def _spread_dates(rng: random.Random, year: int, n: int) -> list[dt.date]:
    start = dt.date(year, 1, 3)
    days = (dt.date(year, 12, 28) - start).days
    return sorted(start + dt.timedelta(days=rng.randrange(days)) for _ in range(n))


def _stations(city_name: str, district: Division, branch: Unit) -> list[Unit]:
    towns = [t for t in Division.objects.filter(parent=district, level=Level.TOWN).order_by("code")
             if t.town_kind != TownKind.TOWN_LIKE][:4]
    out = []
    for town in towns:
        unit, _ = Unit.objects.get_or_create(
            division=town, name=f"{branch.name.removesuffix('禁毒大队')}{town.name.removesuffix('街道')}派出所",
            defaults={"kind": UnitKind.POLICE, "is_demo": True, "parent": branch.parent or branch},
        )
        out.append(unit)
    return out


def seed(stdout) -> None:
    """Create the demo enforcement world once (see the module docstring)."""
    if Case.objects.filter(is_demo=True).exists():
        stdout.write("demo enforcement: already present, left as it is")
        return
    city = Division.objects.get(code=settings.JINDU_DEMO_CITY.ljust(12, "0"))
    if city.code[:6] != "460100":
        stdout.write("demo enforcement: the seed figures are Haikou's; skipped for another demo city")
        return
    province = city.parent
    city_name = city.name
    bureau = Unit.objects.filter(division=city, kind=UnitKind.POLICE, name__endswith="禁毒支队").first()
    if bureau is None:
        stdout.write("demo enforcement: no demo police units (run the org demo first); skipped")
        return
    rng = random.Random(20231008)
    districts = list(Division.objects.filter(parent=city, level=Level.DISTRICT).order_by("code"))
    branches, stations, towns = {}, {}, {}
    for d in districts:
        branch = Unit.objects.filter(division=d, kind=UnitKind.POLICE, name__endswith="禁毒大队").first() or bureau
        branches[d.pk] = branch
        stations[d.pk] = _stations(city_name, d, branch)
        towns[d.pk] = [s.division for s in stations[d.pk]] or [d]
    substances = {name: Substance.objects.filter(name_zh=name).order_by("control_list", "seq_in_list").first()
                  for name, _f, _w in DRUG_MIX}
    etomidate = Substance.objects.filter(name_zh="依托咪酯").first()

    # -- campaigns ----------------------------------------------------------------------------
    campaigns = []
    for year in YEARS:
        for name, kind, level, start, end in CAMPAIGNS:
            division = province if level == CampaignLevel.PROVINCE and province else city
            campaigns.append(Campaign(
                name=f"{year}年{name}", kind=kind, level=level, division=division, is_demo=True,
                start_date=dt.date(year, *start), end_date=dt.date(year, *end),
                description=f"{year}年{'全省' if division == province else city_name}{name}专项行动（演示数据）",
            ))
    campaigns = bulk_create_with_history(campaigns, Campaign)
    campaigns = list(Campaign.objects.filter(is_demo=True))

    # -- cases ----------------------------------------------------------------------------------
    qiongshan = next(d for d in districts if d.code.startswith(QIONGSHAN_CODE))
    others = [d for d in districts if d.pk != qiongshan.pk]
    plan = []  # (district, year, solved_on, target_level, mg or None, suspects, kind)
    for year in YEARS:
        q = QIONGSHAN[year]
        city_fig = CITY[year]
        q_dates = _spread_dates(rng, year, q["cases"])
        q_targets = [TargetLevel.MINISTRY] * q["targets"][0] + [TargetLevel.PROVINCE] * q["targets"][1]
        q_target_idx = set(rng.sample(range(q["cases"]), len(q_targets)))
        q_mg = _split(rng, q["mg"], q["cases"])
        q_sus = _split(rng, q["suspects"], q["cases"], minimum=1) if q["suspects"] >= q["cases"] else None
        targets = iter(q_targets)
        for i, day in enumerate(q_dates):
            plan.append((qiongshan, year, day, next(targets) if i in q_target_idx else TargetLevel.NONE,
                         q_mg[i], q_sus[i], CaseKind.CRIMINAL))
        n_other = city_fig["cases"] - q["cases"]
        o_dates = _spread_dates(rng, year, n_other)
        o_mg = _split(rng, city_fig["mg"] - q["mg"], n_other)
        for i, day in enumerate(o_dates):
            district = others[i % len(others)]
            level = TargetLevel.CITY if i % 23 == 5 else (TargetLevel.PROVINCE if i % 61 == 7 else TargetLevel.NONE)
            plan.append((district, year, day, level, o_mg[i], 1 + rng.randrange(3), CaseKind.CRIMINAL))
        for d in districts:
            for day in _spread_dates(rng, year, ADMIN_PER_DISTRICT):
                plan.append((d, year, day, TargetLevel.NONE, None, 1, CaseKind.ADMINISTRATIVE))

    seq: dict[tuple[str, int, str], int] = {}
    cases, case_meta = [], []
    today = dt.date(2023, 12, 31)
    for district, year, solved, target, mg, n_sus, kind in plan:
        key = (district.code[:6], year, kind)
        seq[key] = seq.get(key, 0) + 1
        letter = "X" if kind == CaseKind.CRIMINAL else "Z"
        filed = max(dt.date(year, 1, 1), solved - dt.timedelta(days=rng.randrange(0, 45)))
        if target in (TargetLevel.MINISTRY, TargetLevel.PROVINCE):
            unit, level = bureau if target == TargetLevel.MINISTRY else branches[district.pk], (
                HandlingLevel.CITY_BUREAU if target == TargetLevel.MINISTRY else HandlingLevel.BRANCH)
        else:
            roll = rng.random()
            if roll < 0.6 and stations[district.pk]:
                unit, level = rng.choice(stations[district.pk]), HandlingLevel.STATION
            else:
                unit, level = branches[district.pk], HandlingLevel.BRANCH
        if kind == CaseKind.ADMINISTRATIVE:
            offence = Offence.DRUG_USE
        else:
            offence = rng.choices([Offence.TRAFFICKING, Offence.POSSESSION, Offence.TRANSPORTING,
                                   Offence.HARBOURING_USE], weights=[60, 25, 10, 5])[0]
            if mg is None or offence == Offence.HARBOURING_USE:
                offence = Offence.TRAFFICKING
        transferred = solved + dt.timedelta(days=20 + rng.randrange(40)) if kind == CaseKind.CRIMINAL else None
        if transferred and transferred > today:
            transferred = None
        status = CaseStatus.TRANSFERRED if transferred else CaseStatus.SOLVED
        closed = None
        if kind == CaseKind.ADMINISTRATIVE:
            status, closed = CaseStatus.CLOSED, solved
        town = rng.choice(towns[district.pk])
        number = f"{district.code[:6]}-{year}-{letter}{seq[key]:04d}"
        name = (f"{town.name}{'贩卖毒品' if offence == Offence.TRAFFICKING else Offence(offence).label.split('（')[0]}案"
                if kind == CaseKind.CRIMINAL else f"{town.name}吸毒案")
        cases.append(Case(
            number=number, name=name, kind=kind, offence=offence, division=town, handling_unit=unit,
            handling_level=level, filed_on=filed, solved_on=solved, transferred_on=transferred, closed_on=closed,
            status=status, target_level=target, is_demo=True,
            summary="演示数据：案情从略。",
        ))
        case_meta.append((mg, n_sus))
    # The case the seed names: "2023·04·23" etomidate case (before etomidate was listed).
    eto_idx = next(i for i, c in enumerate(cases)
                   if c.kind == CaseKind.CRIMINAL and c.solved_on >= dt.date(2023, 4, 23)
                   and not c.division.path.startswith(qiongshan.path))
    eto = cases[eto_idx]
    eto.name, eto.offence, eto.handling_unit, eto.handling_level = (
        "“2023·04·23”涉依托咪酯案", Offence.DRUG_MANAGEMENT, bureau, HandlingLevel.CITY_BUREAU)
    eto.filed_on = min(eto.filed_on, dt.date(2023, 4, 23))
    eto.summary = "海口市公安禁毒部门联合澄迈警方侦办，被国家禁毒办列为打击依托咪酯犯罪十大典型案例之一（演示数据）。"
    cases = bulk_create_with_history(cases, Case)
    cases = list(Case.objects.filter(is_demo=True).select_related("division").order_by("pk"))
    by_number = {c.number: c for c in cases}

    # Campaign tags: a criminal case solved inside a campaign's period is tagged with it
    # (集群打零 only for trafficking).
    Through = Case.campaigns.through
    tags = []
    for c in cases:
        if c.kind != CaseKind.CRIMINAL:
            continue
        for camp in campaigns:
            if camp.start_date <= c.solved_on <= camp.end_date and (
                    camp.kind != CampaignKind.CLUSTER or c.offence == Offence.TRAFFICKING):
                tags.append(Through(case_id=c.pk, campaign_id=camp.pk))
    Through.objects.bulk_create(tags)

    # -- suspects and seizures --------------------------------------------------------------------
    suspects, seizures = [], []
    n_id = 0
    weights = [w for _n, _f, w in DRUG_MIX]
    for c, (mg, n_sus) in zip(cases, case_meta):
        for k in range(n_sus):
            n_id += 1
            number, sex = _identity(rng, c.division.code[:6], n_id)
            suspects.append(Suspect(
                case=c, name=_name(rng), id_number=number, gender=sex, is_demo=True,
                role=SuspectRole.PRINCIPAL if k == 0 else rng.choice([SuspectRole.ACCOMPLICE, SuspectRole.OTHER]),
                caught_on=c.solved_on, measure="刑事拘留" if c.kind == CaseKind.CRIMINAL else "行政拘留",
            ))
    suspects = bulk_create_with_history(suspects, Suspect)
    suspects = list(Suspect.objects.filter(is_demo=True).order_by("pk"))
    first_suspect = {}
    for s in suspects:
        first_suspect.setdefault(s.case_id, s)
    for c, (mg, _n) in zip(cases, case_meta):
        if mg is None:
            continue
        if c.pk == by_number[eto.number].pk and etomidate:
            subst, form, item = etomidate, SeizureForm.LIQUID, "依托咪酯电子烟油"
            seized_on = dt.date(2023, 4, 23)  # before the 2023-10-01 listing: "not a drug" then
        else:
            name, form, _w = rng.choices(DRUG_MIX, weights=weights)[0]
            subst, item = substances[name], ("麻古" if form == SeizureForm.TABLETS and name == "甲基苯丙胺" else "")
            seized_on = c.solved_on
        net = Decimal(mg) / 1000
        gross = (net * Decimal("1.08")).quantize(Decimal("0.001"))
        seizures.append(Seizure(
            case=c, suspect=first_suspect.get(c.pk), substance=subst, item_name=item, form=form,
            net_weight_g=net.quantize(Decimal("0.001")), gross_weight_g=gross,
            tablet_count=int(net / Decimal("0.1")) if form == SeizureForm.TABLETS else None,
            place=f"{c.division.name}", seized_on=seized_on, is_demo=True,
        ))
    bulk_create_with_history(seizures, Seizure)

    # -- gangs ----------------------------------------------------------------------------------------
    gang_rows, gang_links = [], []
    GangCases, GangMembers = Gang.cases.through, Gang.members.through
    by_case: dict[int, list[Suspect]] = {}
    for s in suspects:
        by_case.setdefault(s.case_id, []).append(s)
    for year in YEARS:
        q_cases = [c for c in cases if c.kind == CaseKind.CRIMINAL and c.solved_on.year == year
                   and c.division.path.startswith(qiongshan.path)]
        q_cases.sort(key=lambda c: -len(by_case.get(c.pk, [])))
        for i, c in enumerate(q_cases[:QIONGSHAN[year]["gangs"]]):
            gang_rows.append(Gang(name=f"{year}年{c.division.name}贩毒团伙{i + 1:02d}", division=c.division,
                                  is_broken_up=True, broken_up_on=c.solved_on, is_demo=True))
            gang_links.append(c)
        o_cases = [c for c in cases if c.kind == CaseKind.CRIMINAL and c.solved_on.year == year
                   and not c.division.path.startswith(qiongshan.path) and len(by_case.get(c.pk, [])) >= 3]
        for i, c in enumerate(o_cases[:20]):
            broken = i % 4 != 3
            gang_rows.append(Gang(name=f"{year}年{c.division.name}贩毒团伙{i + 1:02d}", division=c.division,
                                  is_broken_up=broken, broken_up_on=c.solved_on if broken else None, is_demo=True))
            gang_links.append(c)
    gangs = bulk_create_with_history(gang_rows, Gang)
    gangs = list(Gang.objects.filter(is_demo=True).order_by("pk"))
    GangCases.objects.bulk_create([GangCases(gang_id=g.pk, case_id=c.pk) for g, c in zip(gangs, gang_links)])
    GangMembers.objects.bulk_create([GangMembers(gang_id=g.pk, suspect_id=s.pk)
                                     for g, c in zip(gangs, gang_links) for s in by_case.get(c.pk, [])])

    # -- drug-driving screening of key drivers ------------------------------------------------------
    sessions, session_meta = [], []
    categories = [DriverCategory.SCHOOL_BUS, DriverCategory.BUS, DriverCategory.FREIGHT]
    employers = {DriverCategory.SCHOOL_BUS: "校车服务公司", DriverCategory.BUS: "公交集团",
                 DriverCategory.FREIGHT: "物流运输公司"}
    for year in YEARS:
        for quarter in range(4):
            for i, d in enumerate(districts):
                category = categories[(quarter + i) % 3]
                held = dt.date(year, quarter * 3 + 2, 10 + i)
                sessions.append(ScreeningSession(
                    unit=branches[d.pk], division=d, held_on=held, category=category,
                    place=f"{d.name}{employers[category]}停车场", employer=f"{d.name}{employers[category]}",
                    is_demo=True,
                ))
                session_meta.append(d)
    sessions = bulk_create_with_history(sessions, ScreeningSession)
    sessions = list(ScreeningSession.objects.filter(is_demo=True).order_by("pk"))
    tests = []
    for session in sessions:
        for k in range(12):
            n_id += 1
            number, _sex = _identity(rng, session.division.code[:6], n_id)
            positive = rng.random() < 0.01
            tests.append(DriverTest(
                session=session, name=_name(rng), id_number=number, is_demo=True,
                licence_number=f"琼A{rng.randrange(10000, 99999)}",
                result=ScreeningResult.POSITIVE if positive else ScreeningResult.NEGATIVE,
                substance=substances["甲基苯丙胺"] if positive else None,
                follow_up="已移交公安机关依法处理，驾驶证注销程序启动" if positive else "",
            ))
    bulk_create_with_history(tests, DriverTest)
    stdout.write(
        f"demo enforcement: {len(campaigns)} campaigns, {len(cases)} cases, {len(suspects)} suspects, "
        f"{len(seizures)} seizures, {len(gangs)} gangs, {len(sessions)} screening sessions"
    )
