"""Demo inspections for the demo city (Haikou): entertainment and other at-risk venues and
express-delivery and logistics outlets in every town of the four districts, with the last
twelve months of joint inspections, the hazards they found, rectifications,
re-inspections and closures.

The seed report gives no figures for venue or outlet inspections (its 2562 inspections and
101 hazards are precursor enterprises, issue 4), so the numbers here are demo numbers:
deterministic (a fixed random seed) for a given run date, created once. Names are
invented in the usual style (brand + place); coordinates are approximate positions around
each district, good enough for the scatter "map" and nothing else.
"""

from __future__ import annotations

import math
import random
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.apps import apps
from django.conf import settings
from simple_history.utils import bulk_create_with_history

from jindu.core.timeutils import local_today, local_tz
from jindu.geo.choices import Level, TownKind
from jindu.geo.models import Division
from jindu.inspections.choices import KIND_CATEGORY, HazardStatus, ItemOutcome, TargetKind, TargetStatus
from jindu.inspections.models import ChecklistTemplate, Hazard, Inspection, ItemResult, Target
from jindu.inspections.rules import scorecard

SEED = 460100
# Approximate centres (longitude, latitude) of the four districts' built-up areas, and how
# far their towns spread (degrees).
DISTRICT_CENTRES = {
    "460105": (Decimal("110.2930"), Decimal("20.0080"), Decimal("0.11")),
    "460106": (Decimal("110.3280"), Decimal("20.0310"), Decimal("0.07")),
    "460107": (Decimal("110.3540"), Decimal("19.9600"), Decimal("0.16")),
    "460108": (Decimal("110.3660"), Decimal("20.0300"), Decimal("0.12")),
}
KTV_NAMES = ("金色年华KTV", "星光大道KTV", "麦霸量贩KTV", "欢唱汇KTV", "海之声KTV")
BAR_NAMES = ("椰风酒吧", "蓝调音乐酒吧", "海岸清吧", "夜色酒吧")
CHESS_NAMES = ("乐友棋牌室", "和气棋牌室", "老街坊棋牌室", "福临棋牌室", "雅韵茶艺棋牌室")
HOTEL_NAMES = ("椰城宾馆", "海景商务酒店", "万福旅馆", "悦途快捷酒店", "骑楼客栈")
OTHER_NAMES = ("极速网吧", "沐足养生馆", "星空台球室", "好运网咖")
EXPRESS_BRANDS = ("顺丰速运", "中通快递", "圆通速递", "韵达快递", "申通快递", "极兔速递", "京东物流", "中国邮政")
LOGISTICS_NAMES = ("海运通物流", "琼州物流", "椰岛货运", "南港物流")
STREETS = ("海秀路", "龙昆南路", "国兴大道", "滨海大道", "府城大道", "琼州大道", "金盘路", "椰海大道")
SURNAMES = "王李陈林吴黄符郑蔡张冯周许邢"
GIVEN = ("海", "明", "丽", "强", "芳", "伟", "玲", "军", "婷", "雄", "梅", "志", "静", "斌")


def _towns(city: Division) -> dict[Division, list[Division]]:
    districts = Division.objects.filter(parent=city, level=Level.DISTRICT).order_by("code")
    out = {}
    for d in districts:
        out[d] = [t for t in Division.objects.filter(parent=d, level=Level.TOWN).order_by("code")
                  if t.town_kind != TownKind.TOWN_LIKE]
    return out


def _plan_targets(rng: random.Random, district: Division, towns: list[Division]) -> list[Target]:
    lon0, lat0, spread = DISTRICT_CENTRES.get(district.code[:6], (Decimal("110.33"), Decimal("20.02"),
                                                                 Decimal("0.1")))
    targets: list[Target] = []
    for n, town in enumerate(towns):
        urban = town.town_kind == TownKind.SUBDISTRICT
        radius = spread * (Decimal("0.25") if urban else Decimal("0.6") + Decimal(n % 3) / 5)
        angle = (n * 137.5) % 360  # golden-angle spread of town centres
        tlon = lon0 + radius * Decimal(str(round(math.cos(math.radians(angle)), 4)))
        tlat = lat0 + radius * Decimal(str(round(math.sin(math.radians(angle)), 4))) * Decimal("0.8")
        plan = [
            (TargetKind.KTV, KTV_NAMES, 2 if urban else rng.randint(0, 1)),
            (TargetKind.BAR, BAR_NAMES, 1 if urban else 0),
            (TargetKind.CHESS_ROOM, CHESS_NAMES, rng.randint(1, 2)),
            (TargetKind.HOTEL, HOTEL_NAMES, 1 if urban else rng.randint(0, 1)),
            (TargetKind.OTHER_VENUE, OTHER_NAMES, rng.randint(0, 1)),
            (TargetKind.EXPRESS_OUTLET, EXPRESS_BRANDS, 3 if urban else 2),
            (TargetKind.LOGISTICS_OUTLET, LOGISTICS_NAMES, 1 if urban else rng.randint(0, 1)),
        ]
        short = town.name.replace("街道", "").replace("镇", "")
        for kind, names, count in plan:
            for i, base in enumerate(rng.sample(names, min(count, len(names)))):
                if kind == TargetKind.EXPRESS_OUTLET:
                    name = f"{base}{short}营业部" if base != "中国邮政" else f"中国邮政{short}揽投部"
                elif kind == TargetKind.LOGISTICS_OUTLET:
                    name = f"{base}{short}站"
                else:
                    name = f"{short}{base}"
                lon = tlon + Decimal(rng.randint(-90, 90)) / 10000
                lat = tlat + Decimal(rng.randint(-70, 70)) / 10000
                prefix = {"express_outlet": "快递", "logistics_outlet": "道路"}.get(kind, "娱经")
                targets.append(Target(
                    kind=kind, name=name, division=town,
                    address=f"海南省海口市{district.name}{town.name}{rng.choice(STREETS)}{rng.randint(1, 399)}号",
                    longitude=lon.quantize(Decimal("0.000001")), latitude=lat.quantize(Decimal("0.000001")),
                    licence_number=f"{prefix}{district.code[:6]}{rng.randint(100000, 999999)}",
                    operator_name=rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(GIVEN),
                    operator_phone=f"13{rng.randint(0, 9)}{rng.randint(10000000, 99999999)}",
                    status=TargetStatus.OPERATING if rng.random() > 0.03 else TargetStatus.SUSPENDED,
                    note="演示数据：坐标为示意位置。", is_demo=True,
                ))
    return targets


def _at(d: date, rng: random.Random) -> datetime:
    return datetime.combine(d, time(rng.randint(9, 17), rng.choice([0, 10, 20, 30, 40, 50])), tzinfo=local_tz())


def seed(stdout) -> None:
    """Create the demo targets and a year of inspections once; a second run changes nothing."""
    if Target.objects.filter(is_demo=True).exists():
        stdout.write("demo inspections: already present, left as they are")
        return
    city = Division.objects.filter(code=settings.JINDU_DEMO_CITY.ljust(12, "0")).first()
    if city is None:
        stdout.write("demo inspections: demo city not loaded, skipped")
        return
    rng = random.Random(SEED)
    today = local_today()
    now = datetime.now(tz=local_tz())
    start = today - timedelta(days=365)

    targets: list[Target] = []
    for district, towns in _towns(city).items():
        targets += _plan_targets(rng, district, towns)
    targets = bulk_create_with_history(targets, Target, batch_size=500)

    templates = {c.code: c for c in ChecklistTemplate.objects.filter(is_current=True).prefetch_related("items")}
    venue_tpl = templates.get("venue-standard")
    outlet_tpl = templates.get("delivery-five-a-core")
    postal_tpl = templates.get("postal-three-hainan") or outlet_tpl
    if venue_tpl is None or outlet_tpl is None:
        stdout.write(f"demo inspections: {len(targets)} targets; shipped checklists missing, no inspections")
        return
    items_of = {t.pk: list(t.items.order_by("seq")) for t in templates.values()}

    Unit = apps.get_model("org", "Unit")
    units = {u.name: u for u in Unit.objects.filter(is_demo=True)}
    city_name = city.name
    market = units.get(f"{city_name}市场监督管理局")
    culture = units.get(f"{city_name}旅游和文化广电体育局")
    postal = units.get("海口邮政管理局") or units.get(f"{city_name}邮政管理局")
    try:
        Campaign = apps.get_model("enforcement", "Campaign")
        campaigns = list(Campaign.objects.filter(is_demo=True).select_related("division").order_by("start_date"))
    except LookupError:
        campaigns = []

    def team(target: Target) -> list:
        district = target.division.parent
        police = (units.get(f"{city_name}公安局{district.name}分局禁毒大队")
                  or units.get(f"{city_name}公安局{district.name}分局"))
        office = units.get(f"{target.division.name}禁毒办")
        extra = [market, culture] if KIND_CATEGORY[target.kind] == "venue" else [postal, market]
        return [u for u in (police, office, *extra) if u is not None]

    def campaign_for(target: Target, d: date):
        for c in campaigns:
            if c.start_date <= d <= c.end_date and target.division.path.startswith(c.division.path):
                return c
        return None

    routine: list[Inspection] = []
    results: dict[int, list[tuple]] = {}  # id(inspection) → [(item, outcome, note)]
    failed_plan: dict[int, dict] = {}  # id(routine inspection) → rectification plan
    follow: list[tuple[Inspection, Inspection]] = []  # (re-inspection, routine)
    for target in targets:
        tpl = venue_tpl if KIND_CATEGORY[target.kind] == "venue" else (
            postal_tpl if target.name.startswith("中国邮政") else outlet_tpl)
        items = items_of[tpl.pk]
        d = start + timedelta(days=rng.randint(0, 60))
        gap = (40, 95) if KIND_CATEGORY[target.kind] == "venue" else (55, 100)
        while d <= today:
            at = _at(d, rng)
            if at > now:
                break
            outcomes = [(item, ItemOutcome.PASS, "") for item in items]
            if rng.random() < 0.2:
                for idx in rng.sample(range(len(items)), rng.choice([1, 1, 2])):
                    outcomes[idx] = (items[idx], ItemOutcome.FAIL, "现场检查发现未落实")
            elif len(items) > 5 and rng.random() < 0.15:
                idx = rng.randrange(len(items))
                if not items[idx].required:
                    outcomes[idx] = (items[idx], ItemOutcome.NOT_APPLICABLE, "")
            card = scorecard(((i, o) for i, o, _n in outcomes), tpl.pass_score_pct)
            insp = Inspection(target=target, template=tpl, inspected_at=at, campaign=campaign_for(target, d),
                              passed=card.passed, score_pct=card.score_pct, items_passed=card.items_passed,
                              items_failed=card.items_failed, items_na=card.items_na,
                              required_failed=len(card.required_failed), is_demo=True,
                              summary="联合检查，未发现涉毒问题。" if card.passed else "发现问题，已责令限期整改。")
            routine.append(insp)
            results[id(insp)] = outcomes
            next_d = d + timedelta(days=rng.randint(*gap))
            if not card.passed:
                deadline = d + timedelta(days=tpl.rectification_days)
                age = (today - d).days
                if age < 10 and rng.random() < 0.6:
                    plan = {"deadline": deadline, "rectified": None}  # still open, mostly not yet due
                elif rng.random() < 0.04:
                    plan = {"deadline": deadline, "rectified": None}  # overdue and open: red
                else:
                    fixed = d + timedelta(days=rng.randint(1, 9))  # a day or two late sometimes
                    fixed_at = _at(min(fixed, today), rng)
                    plan = {"deadline": deadline, "rectified": fixed_at if fixed_at <= now else None}
                    recheck = fixed + timedelta(days=rng.randint(1, 4))
                    if plan["rectified"] is not None and recheck <= today and _at(recheck, rng) <= now:
                        re_at = _at(recheck, rng)
                        card2 = scorecard(((i, ItemOutcome.PASS) for i in items), tpl.pass_score_pct)
                        re = Inspection(target=target, template=tpl, inspected_at=re_at,
                                        campaign=campaign_for(target, recheck), passed=True,
                                        score_pct=card2.score_pct, items_passed=card2.items_passed,
                                        is_demo=True, summary="复查：隐患已整改到位。")
                        results[id(re)] = [(i, ItemOutcome.PASS, "") for i in items]
                        follow.append((re, insp))
                        plan["recheck"] = re
                        plan["closed"] = recheck + timedelta(days=2) <= today
                        next_d = max(next_d, recheck + timedelta(days=20))
                failed_plan[id(insp)] = plan
            d = next_d

    routine = bulk_create_with_history(routine, Inspection, batch_size=1000)
    for re, orig in follow:
        re.follow_up_of = orig
    rechecks = bulk_create_with_history([re for re, _o in follow], Inspection, batch_size=1000)
    all_inspections = routine + rechecks

    Through = Inspection.units.through
    Through.objects.bulk_create([
        Through(inspection_id=i.pk, unit_id=u.pk) for i in all_inspections for u in team(i.target)
    ], batch_size=2000)
    bulk_create_with_history([
        ItemResult(inspection=i, item=item, outcome=outcome, note=note)
        for i in all_inspections for item, outcome, note in results[id(i)]
    ], ItemResult, batch_size=2000)

    hazards = []
    for insp in routine:
        plan = failed_plan.get(id(insp))
        if plan is None:
            continue
        re = plan.get("recheck")
        for item, outcome, note in results[id(insp)]:
            if outcome != ItemOutcome.FAIL:
                continue
            h = Hazard(target=insp.target, inspection=insp, item=item, description=f"{item.text}：{note}",
                       found_at=insp.inspected_at, deadline=plan["deadline"], is_demo=True)
            if plan["rectified"] is not None:
                h.status = HazardStatus.RECTIFIED
                h.rectified_at = plan["rectified"]
                h.rectification_note = "已按要求整改，提交整改报告。"
            if re is not None:
                h.status = HazardStatus.VERIFIED
                h.verified_by = re
                h.verified_at = re.inspected_at
                if plan.get("closed"):
                    h.status = HazardStatus.CLOSED
                    h.closed_at = re.inspected_at + timedelta(days=2)
                    h.closing_note = "复查合格，予以销号。"
            hazards.append(h)
    bulk_create_with_history(hazards, Hazard, batch_size=1000)
    open_count = sum(1 for h in hazards if h.status == HazardStatus.OPEN)
    stdout.write(
        f"demo inspections: {len(targets)} targets, {len(routine)} inspections and {len(rechecks)} "
        f"re-inspections, {len(hazards)} hazards ({open_count} open)"
    )
