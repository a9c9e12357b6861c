"""Demo organisation for the demo city: the commission office, district and town offices,
member and non-member units, police units, development zones, memberships and pairings.

Unit names follow the usual naming of a prefecture-level city's departments; they are
demo records (``is_demo=True``), not a published membership list. Counts follow the seed
report for Haikou: 39 member units, 43 non-member units assessed, 44 paired town-level units.
"""

from __future__ import annotations

from django.conf import settings

from jindu.core.timeutils import local_today
from jindu.geo.choices import Level, TownKind
from jindu.geo.models import Division
from jindu.org.choices import CommissionRole, UnitKind
from jindu.org.models import CommissionMembership, Pairing, Unit


def demo_years() -> tuple[int, int, int]:
    """The last two years and the current local year: memberships for all three, pairings for the last two."""
    year = local_today().year
    return (year - 2, year - 1, year)


# 39 member units of a city NCC (typical composition).
MEMBER_UNITS = (
    "市委宣传部", "市委政法委", "市委网信办", "市公安局", "市中级人民法院", "市人民检察院", "市发展和改革委员会",
    "市教育局", "市科学技术工业和信息化局", "市民政局", "市司法局", "市财政局", "市人力资源和社会保障局",
    "市自然资源和规划局", "市生态环境局", "市住房和城乡建设局", "市交通运输和港航管理局", "市农业农村局",
    "市商务局", "市旅游和文化广电体育局", "市卫生健康委员会", "市应急管理局", "市市场监督管理局",
    "市综合行政执法局", "市统计局", "市医疗保障局", "市城市管理局", "市退役军人事务局", "市信访局",
    "海口海关", "海口邮政管理局", "国家税务总局海口市税务局", "市总工会", "共青团海口市委员会", "市妇女联合会",
    "市科学技术协会", "市残疾人联合会", "海口警备区", "市消防救援支队",
)
NON_MEMBER_UNITS = (
    "市档案馆", "市地方志办公室", "市机关事务管理局", "市政务服务中心", "市园林环卫局", "市水务局",
    "市林业局", "市海洋和渔业局", "市审计局", "市国有资产监督管理委员会", "市人民防空办公室", "市气象局",
    "市投资促进局", "市外事办公室", "市民族宗教事务局", "市工商业联合会", "市红十字会", "市文学艺术界联合会",
    "市社会科学界联合会", "市侨务办公室", "市供销合作社", "市公共资源交易中心", "市人民医院", "市中医医院",
    "市第三人民医院", "市妇幼保健院", "市疾病预防控制中心", "市精神卫生中心", "海口经济学院", "海南师范大学附属中学",
    "海口市第一中学", "海口市琼山中学", "海口市第四中学", "海口市第七中学", "海口市灵山中学", "海口市长流中学",
    "海口市秀英中学", "海口市海港学校", "市公交集团", "市旅游集团", "市城市建设投资有限公司", "市水务集团", "市供电局",
)
SCHOOLS = {"海口经济学院", "海南师范大学附属中学", "海口市第一中学", "海口市琼山中学", "海口市第四中学",
           "海口市第七中学", "海口市灵山中学", "海口市长流中学", "海口市秀英中学", "海口市海港学校"}
# Development-zone candidates from the reference README; which three the assessment counts
# is configured in the assessment module, not decided here.
DEVELOPMENT_ZONES = ("海口江东新区", "海口国家高新技术产业开发区", "海口综合保税区", "海口桂林洋经济开发区")


def _unit(name: str, kind: str, division: Division, **extra) -> Unit:
    unit, _ = Unit.objects.get_or_create(
        division=division, name=name, defaults={"kind": kind, "is_demo": True, **extra}
    )
    return unit


def seed(stdout) -> None:
    """Create the demo organisation once. Once it exists, nothing is re-created: units an
    administrator renamed or deactivated, memberships and pairings they changed, stay so."""
    if Unit.objects.filter(is_demo=True).exists():
        stdout.write("demo org: already present, left as it is")
        return
    city = Division.objects.get(code=settings.JINDU_DEMO_CITY.ljust(12, "0"))
    city_name = city.name
    office = _unit(f"{city_name}禁毒委员会办公室", UnitKind.COMMISSION_OFFICE, city, short_name="市禁毒办",
                   head_title="主任")
    members = [
        _unit(name.replace("市", city_name, 1) if name.startswith("市") else name,
              UnitKind.POLICE if name == "市公安局" else UnitKind.MEMBER_UNIT, city)
        for name in MEMBER_UNITS
    ]
    non_members = [
        _unit(name.replace("市", city_name, 1) if name.startswith("市") else name,
              UnitKind.SCHOOL if name in SCHOOLS else UnitKind.NON_MEMBER_UNIT, city)
        for name in NON_MEMBER_UNITS
    ]
    police_hq = next(u for u in members if u.kind == UnitKind.POLICE)
    _unit(f"{city_name}公安局禁毒支队", UnitKind.POLICE, city, parent=police_hq)

    districts = list(Division.objects.filter(parent=city, level=Level.DISTRICT).order_by("code"))
    district_offices = []
    for district in districts:
        district_offices.append(_unit(f"{district.name}禁毒委员会办公室", UnitKind.DISTRICT, district,
                                      short_name=f"{district.name}禁毒办"))
        branch = _unit(f"{city_name}公安局{district.name}分局", UnitKind.POLICE, district, parent=police_hq)
        _unit(f"{branch.name}禁毒大队", UnitKind.POLICE, district, parent=branch)

    # Town-level units with an office: sub-districts, towns, townships, and town-like units
    # that are development zones (桂林洋); farms have no drug-control office of their own.
    towns = [
        t for t in Division.objects.filter(parent__in=districts, level=Level.TOWN).order_by("code")
        if t.town_kind != TownKind.TOWN_LIKE or "开发区" in t.name
    ]
    for town in towns:
        unit = _unit(f"{town.name}禁毒办", UnitKind.TOWN, town)
        unit.jurisdiction.add(town)

    for name in DEVELOPMENT_ZONES:
        zone = _unit(name, UnitKind.DEVELOPMENT_ZONE, city)
        served = Division.objects.filter(parent__in=districts, name__contains="桂林洋") if "桂林洋" in name else []
        if served:
            zone.jurisdiction.add(*served)

    years = demo_years()
    for year in years:
        CommissionMembership.objects.get_or_create(unit=office, year=year,
                                                   defaults={"role": CommissionRole.DIRECTOR})
        for unit in members:
            CommissionMembership.objects.get_or_create(unit=unit, year=year)
    # Pairing: member units and district commissions each take towns, round robin (44 in all).
    pairers = members + district_offices
    for year in years[1:]:
        for i, town in enumerate(towns):
            Pairing.objects.get_or_create(unit=pairers[(i + year) % len(pairers)], town=town, year=year)
    stdout.write(
        f"demo org: {Unit.objects.filter(is_demo=True).count()} units, "
        f"{len(members)} member units, {len(non_members)} non-member units, {len(towns)} paired towns"
    )
