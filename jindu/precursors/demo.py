"""Demo precursor world for the demo city (Haikou): the seed's 409 enterprises that
produce, trade, store or use precursor chemicals and its 5 transport enterprises, their
licences and filings, two years of stock ledgers (the 24 calendar months up to today),
stock counts, witnessed destructions of expired chemicals, inspections with hazards, and a
handful of planted diversion patterns for the closed-loop reconciliation to find.

What is real and what is invented:

- The counts (409 + 5), the joint supervision (police, emergency management, market and
  drug regulators), the inspection figures (2562 enterprise inspections, 101 hazards found
  and rectified) and the destroyed chemicals (sulphuric acid, hydrochloric acid, acetone,
  potassium permanganate, chloroform, ether, toluene) are the seed report's.
- Enterprises are fictional (``is_demo=True``, note "演示数据"): invented names in the
  usual style, checksum-valid but invented unified social credit codes (GB 32100-2015;
  a few old records carry only a 9-character organisation code, GB 11714), real towns and
  villages of the four districts (the pharmaceutical companies in 海口国家高新区药谷,
  industry around 长流, 西秀, 云龙 and 桂林洋, fish farms in 演丰 and 三江), approximate
  map positions.
- Who licenses what follows the Regulation (《易制毒化学品管理条例》国务院令第445号) as
  tabulated in :mod:`jindu.precursors.rules`: Category 2/3 purchase filings from the
  district police (art. 17), Category 1 purchase licences one trip at a time (arts. 14,
  15), trade and production licences/filings (arts. 7–13), transport documents for every
  Category 2/3 movement and for Category 1 leaving the city (art. 20), sales reported to
  the police within 5/30 days (art. 19). Validity periods and quantity limits are demo
  choices.
- Flows are simulated month by month: each ledger opens with the stock carried over from
  before the window; users consume and reorder from Jindu traders or outside suppliers;
  traders and producers restock ahead of their customers' orders and also sell to other
  Hainan cities; every transfer between two Jindu enterprises appears at both ends (the
  seller's outbound and the buyer's inbound, same document number, same quantity);
  balances never go negative and ``balance_after_kg`` is the running balance in posting
  order (posting order is date order). Monthly volumes vary within a balanced ±15 % band
  (:func:`wobbles`), so the unusual-movement screen finds only the planted spikes.

Everything is deterministic (a fixed random seed, dates relative to today) and created
once: a second run changes nothing. The rows are planned in memory (:class:`DemoWorld`)
and written with bulk inserts (the ledger with plain INSERTs / COPY). :data:`PLANTED`
documents the diversion patterns planted on purpose; on the full world the full
reconciliation raises exactly those and nothing else (``tests/test_demo.py`` checks the
same on a smaller world).
"""

from __future__ import annotations

import math
import random
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal

from django.conf import settings

from jindu.core.timeutils import local_today, local_tz
from jindu.precursors.choices import (
    Direction,
    EnterpriseKind,
    EnterpriseStatus,
    EntrySource,
    LicenceKind,
    QuantityUnit,
    RiskLevel,
)

SEED = 4601409
FULL_SIZE = 409  # enterprises that produce, trade, store or use precursors (seed report)
TRANSPORTERS = 5  # transport enterprises (seed report)
MONTHS = 24  # ledger history: the 24 calendar months up to today (art. 19 keeps two years)
SEED_INSPECTIONS = 2562  # enterprise inspections (seed report)
SEED_HAZARDS = 101  # hazards found and rectified (seed report)

D = Decimal
GRAM = D("0.001")
ZERO = D("0.000")


def _kg(value) -> Decimal:
    return D(value).quantize(GRAM, rounding=ROUND_HALF_UP)


# ---------------------------------------------------------------------------------------------
# Chemicals as the demo handles them
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ChemSpec:
    """How a chemical is bought and kept in the demo: catalogue category, the net mass of a
    500 mL / 500 g reagent bottle, the drum a trader ships, density for litre entries."""

    category: int
    bottle_kg: Decimal
    drum_kg: Decimal
    density: Decimal | None
    solid: bool = False


CHEMS: dict[str, ChemSpec] = {
    "硫酸": ChemSpec(3, D("0.920"), D("25"), D("1.8400")),
    "盐酸": ChemSpec(3, D("0.590"), D("25"), D("1.1800")),
    "丙酮": ChemSpec(3, D("0.396"), D("160"), D("0.7910")),
    "甲苯": ChemSpec(3, D("0.434"), D("180"), D("0.8670")),
    "甲基乙基酮": ChemSpec(3, D("0.403"), D("165"), D("0.8050")),
    "高锰酸钾": ChemSpec(3, D("0.500"), D("25"), None, solid=True),
    "三氯甲烷": ChemSpec(2, D("0.745"), D("250"), D("1.4890")),
    "乙醚": ChemSpec(2, D("0.357"), D("140"), D("0.7130")),
    "醋酸酐": ChemSpec(2, D("0.541"), D("200"), D("1.0820")),
    "哌啶": ChemSpec(2, D("0.431"), D("170"), D("0.8620")),
    "伪麻黄素（伪麻黄碱）": ChemSpec(1, D("0.500"), D("5"), None, solid=True),
    "麻黄素（麻黄碱）": ChemSpec(1, D("0.500"), D("5"), None, solid=True),
    "邻氨基苯甲酸": ChemSpec(1, D("0.500"), D("25"), None, solid=True),
}
# The chemicals the seed's destruction campaign names.
DESTROYED_IN_SEED = ("硫酸", "盐酸", "丙酮", "高锰酸钾", "三氯甲烷", "乙醚", "甲苯")


# ---------------------------------------------------------------------------------------------
# Kinds of enterprise (archetypes)
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Arch:
    """One kind of enterprise in the demo: how many, what they are called, where they are,
    what they hold and how much they move per month (kilograms, low–high), how they enter
    quantities, how often they reorder, who supervises them."""

    code: str
    kind: str
    count: int
    names: tuple[str, ...]
    towns: tuple[str, ...]
    chems: tuple[tuple[str, float, float, float], ...]  # (chemical, probability, kg/month low, high)
    style: str  # bottle | drum | litre | tonne | bulk
    cadence: tuple[int, int]
    sectors: tuple[str, ...]
    prefix: str = "91"
    park: str = ""


PHARMA_TOWNS = ("秀英街道", "西秀镇", "长流镇")
URBAN_TOWNS = ("秀英街道", "海秀街道", "中山街道", "滨海街道", "金贸街道", "大同街道", "海垦街道", "金宇街道",
               "国兴街道", "府城街道", "滨江街道", "凤翔街道", "海府街道", "蓝天街道", "博爱街道", "海甸街道",
               "人民街道", "白龙街道", "和平南街道", "白沙街道", "新埠街道")
INDUSTRY_TOWNS = ("西秀镇", "长流镇", "海秀镇", "城西镇", "金宇街道", "云龙镇", "龙塘镇", "海口桂林洋经济开发区（农场）",
                  "灵山镇", "永兴镇", "龙泉镇")
RURAL_TOWNS = ("演丰镇", "三江镇", "大致坡镇", "东山镇", "灵山镇", "石山镇", "三门坡镇", "甲子镇", "旧州镇",
               "红旗镇", "大坡镇", "新坡镇", "遵谭镇", "龙桥镇", "永兴镇")
TRADE_TOWNS = ("城西镇", "金宇街道", "大同街道", "海秀镇", "秀英街道", "海甸街道", "白龙街道", "新埠街道", "府城街道",
               "国兴街道", "凤翔街道", "龙塘镇", "长流镇", "云龙镇")

ARCHETYPES: tuple[Arch, ...] = (
    # --- producers -------------------------------------------------------------------------
    Arch("pharma_producer", EnterpriseKind.PRODUCER, 6, ("海南{b}制药有限公司", "海南{b}药业股份有限公司"),
         PHARMA_TOWNS, (("伪麻黄素（伪麻黄碱）", 0.7, 8, 30), ("麻黄素（麻黄碱）", 0.4, 4, 15),
                        ("盐酸", 0.8, 150, 600), ("丙酮", 0.8, 200, 900), ("甲苯", 0.5, 100, 500)),
         "drum", (1, 2), ("drug", "industry"), park="海口国家高新区药谷工业园"),
    Arch("chem_producer", EnterpriseKind.PRODUCER, 4, ("海口{b}化工有限公司", "海南{b}氯碱化工有限公司"),
         ("云龙镇", "长流镇", "海口桂林洋经济开发区（农场）"), (("盐酸", 0.8, 0, 0), ("硫酸", 0.6, 0, 0)),
         "bulk", (1, 1), ("emergency", "ecology")),
    # --- traders and storage ---------------------------------------------------------------
    Arch("chem_trader", EnterpriseKind.TRADER, 38, ("海南{b}化工贸易有限公司", "海口{b}化工有限公司", "海南{b}化学品经营有限公司",
                                                   "海口{b}贸易有限公司"),
         TRADE_TOWNS, (("硫酸", 0.9, 0, 0), ("盐酸", 0.9, 0, 0), ("丙酮", 0.7, 0, 0), ("甲苯", 0.6, 0, 0),
                       ("甲基乙基酮", 0.4, 0, 0), ("高锰酸钾", 0.6, 0, 0), ("三氯甲烷", 0.25, 0, 0)),
         "bulk", (1, 1), ("emergency", "market", "commerce")),
    Arch("reagent_trader", EnterpriseKind.TRADER, 18, ("海口{b}化学试剂有限公司", "海南{b}科学仪器有限公司", "海南{b}实验器材有限公司"),
         URBAN_TOWNS, (("盐酸", 1, 0, 0), ("硫酸", 1, 0, 0), ("乙醚", 0.8, 0, 0), ("三氯甲烷", 0.8, 0, 0),
                       ("丙酮", 0.9, 0, 0), ("甲苯", 0.7, 0, 0), ("高锰酸钾", 0.9, 0, 0), ("哌啶", 0.2, 0, 0)),
         "bulk", (1, 1), ("emergency", "market")),
    Arch("pharma_wholesaler", EnterpriseKind.TRADER, 8, ("海南{b}医药有限公司", "海南{b}医药贸易有限公司"),
         ("中山街道", "秀英街道", "金宇街道", "城西镇", "海甸街道", "府城街道"),
         (("伪麻黄素（伪麻黄碱）", 0.9, 0, 0), ("麻黄素（麻黄碱）", 0.4, 0, 0)),
         "bulk", (1, 1), ("drug", "market")),
    Arch("cat1_trader", EnterpriseKind.TRADER, 2, ("海南{b}精细化工贸易有限公司",), ("城西镇", "云龙镇"),
         (("邻氨基苯甲酸", 1, 0, 0),), "bulk", (1, 1), ("emergency", "market", "commerce")),
    # Port warehouses that also trade: they bring chemicals over from the mainland and sell
    # them on to other Hainan cities (no Jindu customers, so no custody transfers).
    Arch("storage", EnterpriseKind.STORAGE, 3, ("海南{b}危险品仓储有限公司", "海口{b}物流仓储有限公司"),
         ("长流镇", "新埠街道", "海口桂林洋经济开发区（农场）"), (("硫酸", 1, 0, 0), ("盐酸", 1, 0, 0), ("丙酮", 0.6, 0, 0)),
         "bulk", (1, 1), ("emergency", "transport", "customs")),
    # --- users -----------------------------------------------------------------------------
    Arch("pharma_user", EnterpriseKind.USER, 12, ("海南{b}生物科技有限公司", "海南{b}药物研究有限公司", "海口{b}医药科技有限公司"),
         PHARMA_TOWNS + ("云龙镇",), (("盐酸", 0.8, 60, 400), ("硫酸", 0.6, 40, 300), ("丙酮", 0.8, 80, 600),
                                     ("甲苯", 0.6, 60, 400), ("三氯甲烷", 0.5, 20, 150), ("醋酸酐", 0.3, 20, 120),
                                     ("邻氨基苯甲酸", 0.3, 10, 40)),
         "drum", (1, 2), ("drug", "industry"), park="海口国家高新区药谷工业园"),
    Arch("hospital", EnterpriseKind.USER, 45, ("海口{b}医院", "海口{b}中西医结合医院", "海口{b}妇产医院", "海口{b}口腔医院"),
         URBAN_TOWNS + ("城西镇", "龙塘镇", "灵山镇"),
         (("盐酸", 0.9, 2, 8), ("硫酸", 0.7, 1, 5), ("乙醚", 0.5, 1, 4), ("三氯甲烷", 0.5, 1, 4),
          ("丙酮", 0.6, 1, 4), ("高锰酸钾", 0.6, 0.5, 2), ("甲苯", 0.3, 0.5, 2)),
         "bottle", (1, 2), ("health",), prefix="12"),
    Arch("lab", EnterpriseKind.USER, 30, ("海南{b}检测技术有限公司", "海南{b}职业技术学院", "海口{b}环境监测有限公司",
                                         "海南{b}食品检验有限公司"),
         URBAN_TOWNS + ("海口桂林洋经济开发区（农场）", "城西镇", "龙塘镇"),
         (("盐酸", 1, 3, 12), ("硫酸", 0.9, 3, 10), ("乙醚", 0.6, 1, 5), ("三氯甲烷", 0.7, 2, 8),
          ("丙酮", 0.8, 2, 8), ("甲苯", 0.6, 1, 5), ("高锰酸钾", 0.8, 1, 4), ("哌啶", 0.1, 0.3, 1)),
         "bottle", (1, 2), ("education", "industry")),
    Arch("school", EnterpriseKind.USER, 10, ("海口市{b}中学", "海口市{b}实验学校"), URBAN_TOWNS + ("城西镇", "龙塘镇"),
         (("盐酸", 1, 0.6, 2), ("硫酸", 1, 0.5, 2), ("高锰酸钾", 0.9, 0.5, 1.5)),
         "bottle", (2, 3), ("education",), prefix="12"),
    Arch("water_plant", EnterpriseKind.USER, 8, ("海口{b}供水有限公司", "海口{b}水厂", "海口{b}污水处理有限公司"),
         ("龙泉镇", "永兴镇", "海秀镇", "龙塘镇", "灵山镇", "城西镇", "长流镇", "三江镇"),
         (("盐酸", 1, 3000, 12000), ("硫酸", 0.5, 800, 4000), ("高锰酸钾", 0.6, 150, 600)),
         "tonne", (1, 1), ("water", "ecology")),
    Arch("plating", EnterpriseKind.USER, 55, ("海口{b}电镀有限公司", "海南{b}五金制品有限公司", "海南{b}电子科技有限公司",
                                             "海口{b}金属表面处理厂"),
         INDUSTRY_TOWNS, (("硫酸", 0.9, 150, 1200), ("盐酸", 0.9, 200, 1500)),
         "drum", (1, 2), ("emergency", "ecology", "industry")),
    Arch("battery", EnterpriseKind.USER, 40, ("海口{b}汽车维修服务有限公司", "海口{b}蓄电池销售有限公司", "海口{b}汽车服务有限公司"),
         URBAN_TOWNS + RURAL_TOWNS[:6], (("硫酸", 1, 20, 120),), "drum", (1, 2), ("transport", "market")),
    Arch("printing", EnterpriseKind.USER, 50, ("海口{b}印刷有限公司", "海南{b}包装印务有限公司", "海南{b}家具有限公司",
                                              "海口{b}涂装工程有限公司"),
         INDUSTRY_TOWNS + ("凤翔街道", "白龙街道"),
         (("甲苯", 0.8, 40, 400), ("丙酮", 0.8, 30, 300), ("甲基乙基酮", 0.5, 20, 200)),
         "litre", (1, 2), ("emergency", "ecology")),
    Arch("food", EnterpriseKind.USER, 20, ("海南{b}椰子食品有限公司", "海南{b}饮料有限公司", "海口{b}食品有限公司"),
         ("海口桂林洋经济开发区（农场）", "云龙镇", "大致坡镇", "龙泉镇", "长流镇", "西秀镇"),
         (("盐酸", 1, 50, 400), ("硫酸", 0.4, 20, 200)), "drum", (1, 2), ("market",)),
    Arch("aquaculture", EnterpriseKind.USER, 30, ("海口{b}水产养殖专业合作社", "海口{b}生态养殖有限公司"),
         ("演丰镇", "三江镇", "大致坡镇", "东山镇", "灵山镇", "旧州镇"), (("高锰酸钾", 1, 5, 50),),
         "drum", (1, 3), ("agri",), prefix="93"),
    Arch("pool", EnterpriseKind.USER, 15, ("海口{b}游泳健身有限公司", "海口{b}酒店管理有限公司", "海口{b}体育文化有限公司"),
         URBAN_TOWNS, (("盐酸", 1, 30, 200),), "drum", (1, 2), ("market",)),
    Arch("power", EnterpriseKind.USER, 5, ("海口{b}热电有限公司", "海南{b}能源有限公司"), ("长流镇", "灵山镇", "金宇街道", "云龙镇"),
         (("盐酸", 1, 500, 3000), ("硫酸", 0.8, 300, 2000)), "tonne", (1, 1), ("emergency", "industry")),
    Arch("building", EnterpriseKind.USER, 11, ("海口{b}建材有限公司", "海南{b}玻璃制品有限公司", "海口{b}石材有限公司"),
         ("永兴镇", "石山镇", "龙桥镇", "红旗镇", "遵谭镇", "东山镇"), (("盐酸", 1, 100, 600), ("硫酸", 0.3, 50, 300)),
         "drum", (1, 2), ("emergency", "market")),
)
TRANSPORT_ARCH = Arch("transporter", EnterpriseKind.TRANSPORTER, TRANSPORTERS,
                      ("海南{b}危险货物运输有限公司", "海口{b}化工物流有限公司"),
                      ("秀英街道", "城西镇", "龙塘镇", "白龙街道", "长流镇"), (), "bulk", (1, 1),
                      ("transport", "emergency"))

# Sector departments holding supervision lists ("responsibility fields"); the police (the
# district branch's narcotics brigade, and the city detachment for Category 1/2 holders)
# supervise every enterprise. 12 departments, as the seed says.
SECTOR_UNITS = {
    "emergency": "应急管理局", "market": "市场监督管理局", "drug": "市场监督管理局", "health": "卫生健康委员会",
    "education": "教育局", "transport": "交通运输和港航管理局", "industry": "科学技术工业和信息化局",
    "ecology": "生态环境局", "commerce": "商务局", "agri": "农业农村局", "water": "水务局", "customs": "海口海关",
}

BRAND_A = "椰琼澜瑞鑫晟泓安康德恒宏博汇信源嘉华泰盛丰润海南兴裕和达利鸿通宇"
BRAND_B = "林峰蓝舟悦湾川原翔禾谷晖岚航洲川澄桦涛锦城弘远宁辉邦创"
SURNAMES = "王李陈林吴黄符郑蔡张冯周许邢云韩梁唐"
GIVEN = ("海", "明", "丽", "强", "芳", "伟", "玲", "军", "婷", "雄", "梅", "志", "静", "斌", "琼", "敏", "坚", "燕")
STREETS = {
    "秀英区": ("药谷一横路", "药谷二横路", "南海大道", "长滨路", "海榆西线", "滨海大道", "丘海大道"),
    "龙华区": ("金盘路", "龙昆南路", "海秀中路", "国兴大道", "椰海大道", "南海大道", "学院路"),
    "琼山区": ("府城大道", "琼州大道", "龙塘大道", "云龙大道", "椰海大道", "红城湖路"),
    "美兰区": ("海甸岛五西路", "人民大道", "白龙南路", "琼山大道", "美兰机场路", "江东大道"),
}
DISTRICT_CENTRES = {
    "秀英区": (D("110.2930"), D("20.0080"), D("0.11")),
    "龙华区": (D("110.3280"), D("20.0310"), D("0.07")),
    "琼山区": (D("110.3540"), D("19.9600"), D("0.16")),
    "美兰区": (D("110.3660"), D("20.0300"), D("0.12")),
}

# Suppliers and customers outside Jindu (other provinces, other Hainan cities). Invented.
OUTSIDE_SUPPLIERS = {
    "硫酸": (("湛江{b}化工有限公司", "440800", "粤"), ("防城港{b}化工有限公司", "450600", "桂")),
    "盐酸": (("湛江{b}化工有限公司", "440800", "粤"), ("茂名{b}氯碱有限公司", "440900", "粤")),
    "丙酮": (("广州{b}化工贸易有限公司", "440100", "粤"), ("惠州{b}石化有限公司", "441300", "粤")),
    "甲苯": (("茂名{b}石化销售有限公司", "440900", "粤"), ("广州{b}化工贸易有限公司", "440100", "粤")),
    "甲基乙基酮": (("惠州{b}石化有限公司", "441300", "粤"),),
    "高锰酸钾": (("重庆{b}锰业有限公司", "500100", "渝"), ("广州{b}化工贸易有限公司", "440100", "粤")),
    "三氯甲烷": (("广州{b}化学试剂有限公司", "440100", "粤"), ("南宁{b}化工有限公司", "450100", "桂")),
    "乙醚": (("广州{b}化学试剂有限公司", "440100", "粤"),),
    "醋酸酐": (("南京{b}化工有限公司", "320100", "苏"),),
    "哌啶": (("上海{b}试剂有限公司", "310100", "沪"),),
    "伪麻黄素（伪麻黄碱）": (("内蒙古{b}药业有限公司", "150100", "蒙"), ("太原{b}制药有限公司", "140100", "晋")),
    "麻黄素（麻黄碱）": (("内蒙古{b}药业有限公司", "150100", "蒙"),),
    "邻氨基苯甲酸": (("济南{b}精细化工有限公司", "370100", "鲁"),),
}
OUTSIDE_CUSTOMERS = (("文昌{b}实业有限公司", "469005", "琼"), ("澄迈{b}工贸有限公司", "469027", "琼"),
                     ("定安{b}化工有限公司", "469021", "琼"), ("琼海{b}水务有限公司", "469002", "琼"),
                     ("屯昌{b}建材有限公司", "469022", "琼"))
OUTSIDE_LAB_CUSTOMERS = (("文昌{b}检测技术有限公司", "469005", "琼"), ("澄迈{b}检验检测有限公司", "469027", "琼"),
                         ("定安{b}医院", "469021", "琼"), ("琼海{b}职业学院", "469002", "琼"))
OUTSIDE_PHARMA_CUSTOMERS = (("三亚{b}医药有限公司", "460200", "琼"), ("儋州{b}医药有限公司", "460400", "琼"),
                            ("琼海{b}医药有限公司", "469002", "琼"))


# ---------------------------------------------------------------------------------------------
# Planted diversion patterns
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Plant:
    """A diversion pattern planted on purpose: ``code``, the rule codes of
    :data:`jindu.precursors.reconciliation.RULES` expected to find it, and what was done."""

    code: str
    rules: tuple[str, ...]
    description: str


#: The planted cases: each pattern at two enterprises in the full world (one in a smaller
#: test world), so the discrepancy queue shows a handful per rule. :func:`seed` returns
#: where each was planted (enterprises, chemical, date). Everything else is clean: on the
#: full world the full reconciliation raises exactly these (22 discrepancies: the lapsed
#: filing's purchases fall in two months at each of its enterprises).
PLANTED: tuple[Plant, ...] = (
    Plant("cat1_no_licence", ("purchase_unlicensed",),
          "A pharmaceutical R&D user's first purchase of 邻氨基苯甲酸 (Category 1) from an "
          "outside supplier is made without a purchase licence (arts. 14, 15); later ones "
          "are licensed."),
    Plant("beyond_limit", ("purchase_over_limit",),
          "A laboratory's Category 2 purchase filing allows less 三氯甲烷 than it bought "
          "while the filing was valid (art. 17)."),
    Plant("after_expiry", ("purchase_after_expiry",),
          "A plating works' purchase filing for 盐酸 is renewed 55 days late; the purchases "
          "in between cite the lapsed filing (art. 17)."),
    Plant("out_without_in", ("transfer_no_inbound",),
          "A chemical trader books an outbound of 丙酮 to a Jindu printing works that never "
          "books it in (the goods went elsewhere), away from the works' own deliveries."),
    Plant("quantity_mismatch", ("transfer_quantity_mismatch",),
          "A trader's outbound of 硫酸 to a Jindu plating works is 20 % larger than the "
          "plating works' inbound with the same document number."),
    Plant("count_short", ("stock_count_mismatch",),
          "A trader's stock count of a Category 2 solvent (乙醚 or 三氯甲烷 where it holds "
          "enough) is 30 % below its ledger balance."),
    Plant("late_report", ("late_sale_report",),
          "A pharmaceutical wholesaler reports a Category 1 sale (麻黄素 or 伪麻黄素) to the "
          "police 12 days after the sale (art. 19: within 5 days)."),
    Plant("spike", ("unusual_outbound",),
          "A chemical trader's outbound in one month (甲苯 where it sells it) is about six "
          "times its usual month (a large sale to an outside buyer), flagged for review."),
    Plant("expired_kept", ("expired_not_destroyed",),
          "A laboratory stopped using 乙醚 and keeps what is left of the lot, which expired "
          "about a year ago and was never destroyed."),
    Plant("no_transport", ("transport_unpermitted",),
          "A chemical trader ships 三氯甲烷 (Category 2) to a buyer outside Haikou without a "
          "transport permit (art. 20)."),
)


# ---------------------------------------------------------------------------------------------
# Dates
# ---------------------------------------------------------------------------------------------

def add_months(d: date, n: int) -> date:
    """``d`` moved by ``n`` calendar months (day clipped to the month's last day)."""
    y, m = divmod(d.month - 1 + n, 12)
    year, month = d.year + y, m + 1
    last = (date(year + (month == 12), month % 12 + 1, 1) - timedelta(days=1)).day
    return date(year, month, min(d.day, last))


def month_end(d: date) -> date:
    return add_months(d.replace(day=1), 1) - timedelta(days=1)


# ---------------------------------------------------------------------------------------------
# The plan: enterprises, ledger rows, licences (plain Python, written in one go afterwards)
# ---------------------------------------------------------------------------------------------

@dataclass
class Ent:
    idx: int
    arch: Arch
    name: str
    district: str
    town: object  # geo.Division (town)
    division: object  # geo.Division (village or community)
    address: str
    credit_code: str
    legacy_code: str
    chems: dict[str, Decimal]  # chemical → monthly kilograms (users) or 0 (traders, producers)
    contact_name: str
    contact_phone: str
    risk: str = RiskLevel.LOW
    status: str = EnterpriseStatus.OPERATING
    lon: Decimal | None = None
    lat: Decimal | None = None
    obj: object = None  # the saved Enterprise

    @property
    def code(self) -> str:
        return self.credit_code or self.legacy_code


@dataclass
class Outside:
    """A party outside Jindu: name, credit code, province abbreviation and area code."""

    name: str
    code: str
    prov: str
    area: str


@dataclass
class Row:
    """One planned ledger entry."""

    ent: int
    chem: str
    on: date
    direction: str
    kg: Decimal
    entered: Decimal
    unit: str = QuantityUnit.KG
    density: Decimal | None = None
    piece: Decimal | None = None
    cp: int | None = None  # Jindu counterparty
    out: Outside | None = None  # outside counterparty
    doc: str = ""
    permit: object = None  # a LicPlan, or a raw number (outside document)
    transport: object = None  # a LicPlan, or a raw number (outside document)
    purpose: str = ""
    expires_on: date | None = None
    reported_on: date | None = None
    destruction: int | None = None
    seq: int = 0
    no_permit: bool = False  # planted: purchase without any document
    no_transport: bool = False  # planted: transport without a document
    balance: Decimal | None = None


@dataclass
class LicPlan:
    ent: int
    kind: str
    number: str
    number_raw: str
    issuer: str
    issuer_raw: str
    valid_from: date
    valid_until: date
    lines: dict[str, Decimal | None]  # chemical → quantity limit (kg) or None
    one_trip: bool = False
    cp_name: str = ""
    cp_code: str = ""
    note: str = ""
    obj: object = None


@dataclass
class Sale:
    """A transfer from a Jindu seller (``seller``) to a Jindu buyer (``buyer``) or an outside
    party (``out``); the buyer's own view (entered unit etc.) is in ``buyer_row``."""

    seller: int
    chem: str
    on: date
    kg: Decimal
    buyer: int | None = None
    out: Outside | None = None
    buyer_row: Row | None = None
    seller_kg: Decimal | None = None  # planted mismatch: what the seller books
    skip_buyer: bool = False  # planted: the buyer never books it in
    late_days: int | None = None  # planted: reported this many days after the sale
    no_transport: bool = False
    seller_ratio: Decimal | None = None  # planted mismatch: seller books kg × ratio
    seller_row: Row | None = None


@dataclass
class DestructionPlan:
    ent: int
    on: date
    chems: list[str] = field(default_factory=list)
    obj: object = None


class World:
    """The demo world planned in memory. ``size`` enterprises (409 for the full world) plus
    the 5 transport enterprises; ``today`` ends the ledger window."""

    def __init__(self, *, size: int, today: date, towns: dict[str, object], villages: dict[int, list],
                 district_of: dict[int, str]):
        self.rng = random.Random(SEED)
        self.size = size
        self.today = today
        self.start = add_months(today.replace(day=1), -(MONTHS - 1))
        self.months = [add_months(self.start, i) for i in range(MONTHS)]
        self.towns = towns
        self.villages = villages
        self.district_of = district_of
        self.ents: list[Ent] = []
        self.rows: list[Row] = []
        self.sales: list[Sale] = []
        self.licences: list[LicPlan] = []
        self.destructions: list[DestructionPlan] = []
        self.counts: list[tuple[int, str, date, Decimal, Decimal]] = []  # (ent, chem, on, counted, ledger)
        self.manifest: list[dict] = []
        self._names: set[str] = set()
        self._codes: set[str] = set()
        self._seq = 0
        self._numbers: dict[str, int] = defaultdict(int)
        self._docs = 0
        # Destruction campaigns of the police narcotics detachment (the seed's "集中销毁").
        self.campaigns = (add_months(self.start, 12) + timedelta(days=17),
                          add_months(self.start, 18) + timedelta(days=23))
        self.destroy_rows: list[tuple] = []  # (ent, chem, on, quantity tuple, lot expiry)
        self._suppliers: dict = {}
        self._customers: dict = {}
        self.used: set[int] = set()  # enterprises carrying a planted case

    # -- helpers ------------------------------------------------------------------------------
    def next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def number(self, key: str, width: int = 4) -> str:
        self._numbers[key] += 1
        return f"{self._numbers[key]:0{width}d}"

    def doc(self, prefix: str, on: date) -> str:
        self._docs += 1
        return f"{prefix}{on:%Y%m%d}{self._docs:06d}"

    def brand(self) -> str:
        return self.rng.choice(BRAND_A) + self.rng.choice(BRAND_B)

    def person(self) -> str:
        return self.rng.choice(SURNAMES) + "".join(self.rng.choice(GIVEN) for _ in range(self.rng.choice((1, 2))))

    def credit_code(self, prefix: str, area: str) -> str:
        from stdnum.cn import uscc

        from jindu.precursors.normalize import org_code_check_char

        while True:
            if self.rng.random() < 0.5:
                alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
                body = "MA" + "".join(self.rng.choice(alphabet) for _ in range(6))
            else:
                body = f"{self.rng.randint(10000000, 99999999)}"
            first17 = f"{prefix}{area}{body}{org_code_check_char(body)}"
            code = first17 + uscc.calc_check_digit(first17)
            if code not in self._codes:
                self._codes.add(code)
                return code

    def org_code(self) -> str:
        from jindu.precursors.normalize import org_code_check_char

        while True:
            body = f"{self.rng.randint(20000000, 79999999)}"
            code = body + org_code_check_char(body)
            if code not in self._codes:
                self._codes.add(code)
                return code

    def outside(self, templates, cache: dict, key) -> Outside:
        """A stable outside party for ``key`` drawn from ``templates`` ((name, area, prov), ...)."""
        if key not in cache:
            name_t, area, prov = self.rng.choice(templates)
            name = name_t.format(b=self.brand())
            while name in self._names:
                name = name_t.format(b=self.brand())
            self._names.add(name)
            cache[key] = Outside(name=name, code=self.credit_code("91", area), prov=prov, area=area)
        return cache[key]

    # -- enterprises --------------------------------------------------------------------------
    def arch_counts(self) -> dict[str, int]:
        """Archetype counts summing to ``size`` (the table's counts at 409, scaled otherwise;
        every archetype keeps at least one enterprise)."""
        total = sum(a.count for a in ARCHETYPES)
        counts = {a.code: max(1, round(a.count * self.size / total)) for a in ARCHETYPES}
        order = sorted(ARCHETYPES, key=lambda a: -a.count)
        i = 0
        while sum(counts.values()) != self.size:
            a = order[i % len(order)]
            if sum(counts.values()) > self.size and counts[a.code] > 1:
                counts[a.code] -= 1
            elif sum(counts.values()) < self.size:
                counts[a.code] += 1
            i += 1
        return counts

    def make_enterprises(self) -> None:
        rng = self.rng
        counts = self.arch_counts()
        plan = [(a, counts[a.code]) for a in ARCHETYPES] + [(TRANSPORT_ARCH, TRANSPORTERS)]
        legacy_left = 6
        for arch, n in plan:
            for _i in range(n):
                town_name = rng.choice(arch.towns)
                town = self.towns.get(town_name) or rng.choice(list(self.towns.values()))
                villages = self.villages.get(town.pk) or [town]
                division = rng.choice(villages)
                district = self.district_of[town.pk]
                name = ""
                while not name or name in self._names:
                    name = rng.choice(arch.names).format(b=self.brand())
                self._names.add(name)
                chems: dict[str, Decimal] = {}
                for chem, p, lo, hi in arch.chems:
                    if rng.random() < p:
                        monthly = math.exp(rng.uniform(math.log(lo), math.log(hi))) if hi else 0.0
                        chems[chem] = D(str(round(monthly, 3)))
                if arch.chems and not chems:
                    chem, _p, lo, hi = arch.chems[0]
                    chems[chem] = D(str(round(math.sqrt(lo * hi), 3))) if hi else D("0")
                prefix = arch.prefix
                if arch.code == "lab" and ("学院" in name):
                    prefix = "12"
                area = {"秀英区": "460105", "龙华区": "460106", "琼山区": "460107", "美兰区": "460108"}[district]
                credit, legacy = self.credit_code(prefix, area), ""
                if legacy_left and arch.code in ("school", "aquaculture", "building") and rng.random() < 0.35:
                    credit, legacy = "", self.org_code()
                    legacy_left -= 1
                cats = {CHEMS[c].category for c in chems}
                risk = RiskLevel.HIGH if 1 in cats else RiskLevel.MEDIUM if 2 in cats else RiskLevel.LOW
                street = rng.choice(STREETS[district])
                place = arch.park or ""
                address = f"海南省海口市{district}{town.name}{place}{street}{rng.randint(1, 399)}号"
                lon0, lat0, spread = DISTRICT_CENTRES[district]
                angle = rng.uniform(0, 2 * math.pi)
                radius = spread * D(str(round(rng.uniform(0.1, 1.0), 3)))
                lon = (lon0 + radius * D(str(round(math.cos(angle), 4)))).quantize(D("0.000001"))
                lat = (lat0 + radius * D(str(round(math.sin(angle), 4))) * D("0.8")).quantize(D("0.000001"))
                self.ents.append(Ent(
                    idx=len(self.ents), arch=arch, name=name, district=district, town=town, division=division,
                    address=address, credit_code=credit, legacy_code=legacy, chems=chems,
                    contact_name=self.person(),
                    contact_phone=f"13{rng.choice('6789')}{rng.randint(10000000, 99999999)}",
                    risk=risk, lon=lon, lat=lat,
                ))

    def of(self, *codes: str) -> list[Ent]:
        return [e for e in self.ents if e.arch.code in codes]

    # -- quantities as entered ----------------------------------------------------------------
    def pack_purchase(self, style: str, chem: str, kg_wanted: Decimal, monthly: Decimal) -> tuple:
        """``(kg, entered, unit, density, piece)`` for a purchase of about ``kg_wanted``,
        rounded up to what is sold: bottles, drums or bags, 20 L cans, tanker deliveries
        weighed to 10 kg (at least 500 kg)."""
        spec = CHEMS[chem]
        if style == "bottle":
            n = max(2, math.ceil(kg_wanted / spec.bottle_kg))
            return _kg(n * spec.bottle_kg), D(n), QuantityUnit.PIECE, None, spec.bottle_kg
        if style == "litre" and spec.density:
            cans = max(1, math.ceil(kg_wanted / (spec.density * 20)))
            litres = D(cans * 20)
            return _kg(litres * spec.density), litres, QuantityUnit.L, spec.density, None
        if style == "tonne":
            # Tanker deliveries, weighed on the weighbridge (10 kg resolution), booked in tonnes.
            kg = max(D(500), kg_wanted.quantize(D(10), rounding=ROUND_CEILING))
            return kg, (kg / 1000).quantize(D("0.001")), QuantityUnit.T, None, None
        pack = spec.drum_kg if monthly >= spec.drum_kg * 8 else D(25)
        n = max(1, math.ceil(kg_wanted / pack))
        return _kg(n * pack), _kg(n * pack), QuantityUnit.KG, None, None

    def pack_use(self, style: str, chem: str, kg_wanted: Decimal, available: Decimal) -> tuple | None:
        """``(kg, entered, unit, density, piece)`` for using about ``kg_wanted`` without going
        over ``available``; ``None`` when not even the smallest amount is available."""
        spec = CHEMS[chem]
        if style == "bottle":
            # Laboratories book what they take from a bottle: millilitres of a liquid, grams of a solid.
            if spec.density:
                ml = min((kg_wanted / spec.density * 1000).quantize(D(10)),
                         (available / spec.density * 1000).quantize(D(10), rounding="ROUND_FLOOR"))
                kg = _kg(ml / 1000 * spec.density)
                if ml < 10 or kg > available or kg <= 0:
                    return None
                return kg, ml, QuantityUnit.ML, spec.density, None
            grams = min((kg_wanted * 1000).quantize(D(10)), (available * 1000).quantize(D(10), rounding="ROUND_FLOOR"))
            return (_kg(grams / 1000), grams, QuantityUnit.G, None, None) if grams >= 10 else None
        if style == "litre" and spec.density:
            litres = min(max(1, round(kg_wanted / spec.density)), int(available / spec.density))
            return (_kg(litres * spec.density), D(litres), QuantityUnit.L, spec.density, None) if litres >= 1 else None
        if style == "tonne":
            kg = min(kg_wanted.quantize(D("1")), available.quantize(D("1"), rounding="ROUND_FLOOR"))
            return (D(kg), (D(kg) / 1000).quantize(D("0.001")), QuantityUnit.T, None, None) if kg >= 1 else None
        kg = min(max(D(1), kg_wanted.quantize(D("0.5"))), available.quantize(D("0.5"), rounding="ROUND_FLOOR"))
        return (_kg(kg), _kg(kg), QuantityUnit.KG, None, None) if kg >= D("0.5") else None

    # -- suppliers ----------------------------------------------------------------------------
    def carriers(self, chem: str, codes: tuple[str, ...]) -> list[Ent]:
        return [e for e in self.ents if e.arch.code in codes and chem in e.chems]

    def choose_supplier(self, e: Ent, chem: str, *, outside_share: float = 0.12):
        """A Jindu seller (``Ent``) or an outside supplier (``Outside``) for ``e``'s ``chem``."""
        rng = self.rng
        if CHEMS[chem].category == 1:
            pool = self.carriers(chem, ("cat1_trader",))
        elif e.arch.style == "bottle":
            pool = self.carriers(chem, ("reagent_trader",)) or self.carriers(chem, ("chem_trader",))
        elif e.arch.code in ("water_plant", "power") and rng.random() < 0.6:
            pool = self.carriers(chem, ("chem_producer",)) or self.carriers(chem, ("chem_trader",))
        else:
            pool = self.carriers(chem, ("chem_trader",))
        if not pool or rng.random() < outside_share:
            return self.outside(OUTSIDE_SUPPLIERS[chem], self._suppliers, (chem, rng.randrange(3)))
        weights = [3 if s.district == e.district else 1 for s in pool]
        return rng.choices(pool, weights)[0]

    def outside_supply_row(self, e: Ent, chem: str, on: date, q: tuple, supplier: Outside, purpose: str,
                           expires_on: date | None = None) -> Row:
        kg, entered, unit, density, piece = q
        # The transport permit of a delivery from outside the city is the sender's, issued by
        # the police of the place of dispatch (art. 20); Jindu cannot check it, and the
        # receiver's ledger leaves the number out.
        return Row(ent=e.idx, chem=chem, on=on, direction=Direction.IN, kg=kg, entered=entered, unit=unit,
                   density=density, piece=piece, out=supplier, doc=self.doc("CG", on),
                   purpose=purpose, expires_on=expires_on, seq=self.next_seq())

    def purchase(self, e: Ent, chem: str, on: date, q: tuple, supplier, *, purpose: str = "采购入库",
                 expires_on: date | None = None, sale_flags: dict | None = None) -> Row:
        """Book a purchase of ``q`` by ``e`` on ``on``: the buyer's inbound row now, and for a
        Jindu seller a :class:`Sale` whose outbound row is written once the seller's supply
        is planned (shipped the same day or the day before)."""
        if isinstance(supplier, Outside):
            row = self.outside_supply_row(e, chem, on, q, supplier, purpose, expires_on)
            self.rows.append(row)
            return row
        kg, entered, unit, density, piece = q
        row = Row(ent=e.idx, chem=chem, on=on, direction=Direction.IN, kg=kg, entered=entered, unit=unit,
                  density=density, piece=piece, cp=supplier.idx, doc=self.doc("XS", on), purpose=purpose,
                  expires_on=expires_on, seq=self.next_seq())
        shipped = on - timedelta(days=1) if self.rng.random() < 0.3 and on.day > 1 else on
        sale = Sale(seller=supplier.idx, chem=chem, on=shipped, kg=kg, buyer=e.idx, buyer_row=row,
                    **(sale_flags or {}))
        if sale.seller_ratio:
            sale.seller_kg = _kg(kg * sale.seller_ratio)
        self.sales.append(sale)
        if not sale.skip_buyer:
            self.rows.append(row)
        return row

    # -- users --------------------------------------------------------------------------------
    def usage_row(self, e: Ent, chem: str, on: date, q: tuple, purpose: str) -> Row:
        kg, entered, unit, density, piece = q
        return Row(ent=e.idx, chem=chem, on=on, direction=Direction.USED, kg=kg, entered=entered, unit=unit,
                   density=density, piece=piece, doc=self.doc("LY", on), purpose=purpose, seq=self.next_seq())

    def simulate_user(self, e: Ent, chem: str, monthly: Decimal, supplier, *, mode: str = "normal",
                      campaign: date | None = None, plant_purchase: dict | None = None,
                      cadence: int | None = None) -> dict:
        """Plan ``e``'s use of ``chem`` over the window: an opening stock carried over from
        before the window, a monthly consumption varying within ±20 % (bounded, so that the
        unusual-movement screen has nothing to find in it) and seasonally for pools and fish
        farms, booked in a few entries a month, and reorders topping the stock up to about
        ``cadence`` months of use whenever it would not last five more weeks. ``mode``:

        - ``normal``;
        - ``destroy``: part of the opening stock is a lot that expires before ``campaign``;
          what is left of it is kept apart and destroyed at the police's collective
          destruction on ``campaign`` (the seed's 集中销毁);
        - ``kept``: the opening stock is used for a few months, then left on the shelf past
          its expiry (the planted "expired, not destroyed"); no reorders.

        ``plant_purchase`` (``{"index": n, ...}``) marks the n-th purchase with planted
        flags (those of :class:`Sale`, and ``no_permit``). Returns facts the planting needs.
        """
        rng = self.rng
        style = e.arch.style
        spec = CHEMS[chem]
        lab = style == "bottle"
        big = monthly >= (D(2) if lab else D(50))
        cadence = cadence or (1 if big else rng.randint(*e.arch.cadence))
        season = 0.12 if e.arch.code in ("aquaculture", "pool") else 0.05
        purchases: list[Row] = []
        reserve = ZERO  # kept back from use: the expired lot's remainder, destroyed later
        expiry: date | None = None
        stop_use_after: date | None = None
        purpose = USE_PURPOSE.get(e.arch.code, "生产使用")
        # Seasonal shape × random wobble, then mapped onto an even grid by rank: the months keep
        # their seasonal order, and the set of monthly volumes is exactly balanced.
        raw = [(1 + season * math.sin(2 * math.pi * (m0.month - 4) / 12)) * float(f)
               for m0, f in zip(self.months, wobbles(rng, len(self.months)))]
        grid = sorted(wobbles(rng, len(self.months), 0.15 + season / 2))
        noise = [ZERO] * len(raw)
        for rank, mi in enumerate(sorted(range(len(raw)), key=raw.__getitem__)):
            noise[mi] = grid[rank]
        bal = ZERO
        if spec.category > 1:
            # Stock carried over from before the window: the ledger's opening line.
            # As if the last reorder had been made 1..cadence months before the window.
            months_of_stock = 5 if mode == "kept" else max(
                0.2, cadence * rng.uniform(1.1, 1.3) + 0.3 - rng.randint(1, cadence) * rng.uniform(0.8, 1.2))
            if mode == "destroy":
                reserve = _kg(monthly * D(str(round(rng.uniform(0.4, 1.0), 2))))
                expiry = campaign - timedelta(days=rng.randint(10, 45))
            elif mode == "kept":
                expiry = add_months(self.start, rng.randint(10, 12))
                stop_use_after = add_months(self.start, rng.randint(3, 4))
            elif lab:
                expiry = add_months(self.start, rng.randint(14, 30))
            q = self.pack_purchase(style, chem, monthly * D(str(round(months_of_stock, 3))) + reserve, monthly)
            self.rows.append(Row(ent=e.idx, chem=chem, on=self.start, direction=Direction.IN, kg=q[0], entered=q[1],
                                 unit=q[2], density=q[3], piece=q[4], doc=self.doc("QC", self.start),
                                 purpose="期初结存（上期结转）", seq=self.next_seq(), expires_on=expiry))
            bal = q[0]
        for mi, m0 in enumerate(self.months):
            if m0 > self.today:
                break
            m1 = min(month_end(m0), self.today)
            use_month = monthly * noise[mi]
            day0 = m0
            pd = m0 + timedelta(days=rng.randint(1, 9))
            want_buy = bal - reserve < use_month * D("1.3") and mode != "kept"
            if want_buy and pd <= m1:
                exp = add_months(pd, 36) if lab else None
                target = monthly * cadence * D(str(round(rng.uniform(1.1, 1.3), 3))) + use_month * D("0.3")
                q = self.pack_purchase(style, chem, max(target - (bal - reserve), monthly * D("0.5")), monthly)
                flags = {}
                if plant_purchase and plant_purchase.get("index") == len(purchases):
                    flags = {k: v for k, v in plant_purchase.items() if k != "index"}
                no_permit = flags.pop("no_permit", False)
                row = self.purchase(e, chem, pd, q, supplier, expires_on=exp, sale_flags=flags or None)
                row.no_permit = no_permit
                purchases.append(row)
                if not flags.get("skip_buyer"):
                    bal += q[0]
                day0 = pd
            if style == "tonne":
                k = 4
            elif lab:
                k = rng.randint(1, 3)
            else:
                k = rng.randint(2, 4)
            span = (m1 - day0).days
            days = [day0 + timedelta(days=dd) for dd in sorted(rng.sample(range(1, span + 1), min(k, span)))] \
                if span >= 1 else []
            weights = [rng.uniform(0.6, 1.4) for _d in days]
            events = [(d, "use", D(str(round(w / sum(weights), 4)))) for d, w in zip(days, weights)]
            if mode == "destroy" and m0 <= campaign <= m1 and campaign <= self.today:
                events.append((campaign, "destroy", ZERO))
            events.sort(key=lambda ev: (ev[0], ev[1] != "destroy"))
            for on, what, share in events:
                if what == "destroy":
                    q = self.pack_use(style, chem, reserve, bal)
                    if q is not None:
                        self.destroy_rows.append((e.idx, chem, on, q, expiry))
                        bal -= q[0]
                    reserve = ZERO
                    continue
                if stop_use_after and on > stop_use_after:
                    continue
                q = self.pack_use(style, chem, use_month * share, bal - reserve)
                if q is None:
                    continue
                self.rows.append(self.usage_row(e, chem, on, q, purpose))
                bal -= q[0]
        return {"purchases": purchases, "expiry": expiry, "cadence": cadence, "left": bal}


USE_PURPOSE = {
    "hospital": "检验科试剂使用", "lab": "实验检测使用", "school": "化学实验教学", "water_plant": "水处理投加",
    "plating": "酸洗/电镀生产使用", "battery": "配制蓄电池电解液", "printing": "稀释/清洗使用", "food": "设备清洗（CIP）使用",
    "aquaculture": "水体消毒使用", "pool": "泳池水质调节", "power": "锅炉水处理使用", "building": "酸洗除垢使用",
    "pharma_user": "原料药合成使用", "pharma_producer": "原料药合成使用",
}


def wobbles(rng: random.Random, n: int, amplitude: float = 0.15) -> list[Decimal]:
    """``n`` monthly factors around 1, evenly spread over ``1 ± amplitude`` in random
    order: a month's volume varies, but the series' median is 1 and its median absolute
    deviation half the amplitude, so no clean month strays from the others by more than a
    modified z-score of about 1.35 (the unusual-movement screen reports beyond 3.5)."""
    values = [D(str(round(1 - amplitude + 2 * amplitude * (i + 0.5) / n, 4))) for i in range(n)]
    rng.shuffle(values)
    return values


def nice_ceil(x: Decimal) -> Decimal:
    """``x`` rounded up to two significant figures (a limit written on a filing), at least 1 kg."""
    if x <= 1:
        return D(1)
    step = D(10) ** (int(math.floor(math.log10(float(x)))) - 1)
    return max(D(1), (x / step).to_integral_value(rounding=ROUND_CEILING) * step)


class _Supply:
    """Restocking and outside trade of the traders and producers (mixed into :class:`World`)."""

    def index_sales(self) -> None:
        self._sales_index: dict[tuple[int, str], list[Sale]] = defaultdict(list)
        for s in self.sales:
            self._sales_index[(s.seller, s.chem)].append(s)

    def sales_of(self, seller: int, chem: str) -> list[Sale]:
        return self._sales_index.get((seller, chem), [])

    def plan_supply(self, e: Ent, chem: str, source, *, batch_days=(1,), step: int = 1, buffer: float = 0.15,
                    pack: Decimal = D(100), purpose: str = "采购入库") -> None:
        """Inbound rows for ``e``'s ``chem`` that always cover its sales: at each batch day
        (of every ``step``-th month) it brings in what it will sell until the next batch,
        plus ``buffer``, rounded up to ``pack`` kilograms. ``source`` is ``"production"``,
        a Jindu producer (``Ent``: a transfer) or an outside supplier."""
        sales = sorted(self.sales_of(e.idx, chem), key=lambda s: s.on)
        if not sales:
            return
        total = sum((s.seller_kg or s.kg) for s in sales)
        avg = total / len(self.months)
        # Deliveries are weighed: round to about 1/20 of a month's volume, at least ``pack``.
        pack = max(pack, D(10) ** int(math.floor(math.log10(max(float(avg), 1) / 20))))
        bal = ZERO
        if CHEMS[chem].category > 1:
            # Stock carried over from before the window, as a steady month would leave it.
            first = sum(((s.seller_kg or s.kg) for s in sales if s.on < add_months(self.start, step)), ZERO)
            bal = _kg(first * D(str(buffer)) + avg * D("0.1") * step)
            if bal > 0:
                self.rows.append(Row(ent=e.idx, chem=chem, on=self.start, direction=Direction.IN, kg=bal, entered=bal,
                                     doc=self.doc("QC", self.start), purpose="期初结存（上期结转）",
                                     seq=self.next_seq()))
        else:
            buffer = 0.0  # Category 1: bought one licence at a time, exactly what will be sold
        batches = [m0 + timedelta(days=d - 1) for mi, m0 in enumerate(self.months) if mi % step == 0
                   for d in batch_days]
        batches.append(date.max)
        i = 0
        for bi, bd in enumerate(batches[:-1]):
            nxt = batches[bi + 1]
            need = ZERO
            while i < len(sales) and sales[i].on < nxt:
                need += sales[i].seller_kg or sales[i].kg
                i += 1
            if bd > self.today:
                break
            want = need * D(str(1 + buffer)) + avg * (D("0.1") if CHEMS[chem].category > 1 else ZERO) * step - bal
            if need > 0:
                want = max(want, need / 2)  # some delivery every period: no empty months
            if want > 0:
                n = max(1, math.ceil(want / pack))
                kg = _kg(n * pack)
                q = (kg, kg, QuantityUnit.KG, None, None)
                if source == "production":
                    self.rows.append(Row(ent=e.idx, chem=chem, on=bd, direction=Direction.IN, kg=kg, entered=kg,
                                         doc=self.doc("SC", bd), purpose="本厂生产入库", seq=self.next_seq()))
                else:
                    self.purchase(e, chem, bd, q, source, purpose=purpose)
                bal += kg
            bal -= need

    def outside_sale(self, e: Ent, chem: str, on: date, kg: Decimal, customer: Outside, **flags) -> Sale:
        sale = Sale(seller=e.idx, chem=chem, on=on, kg=_kg(kg), out=customer, **flags)
        self.sales.append(sale)
        return sale

    def balance_outside(self, codes: tuple[str, ...]) -> None:
        """Monthly sales to buyers outside Haikou (other Hainan cities and counties) for every
        trader, storage and chemical producer in ``codes``: each month's outside sale tops
        the month's Jindu sales up to a steady total that varies by ±15 % in random order
        (:func:`wobbles`). A seller's monthly outbound is then never at the mercy of a few
        customers' reorder months; only planted spikes stand out."""
        rng = self.rng
        self.index_sales()
        floors = {"chem_producer": (D(5000), D(10)), "reagent_trader": (D(5), D("0.1")),
                  "cat1_trader": (D(10), D("0.5"))}
        for e in self.of(*codes):
            for chem in e.chems:
                if (CHEMS[chem].category == 1 and e.arch.code != "cat1_trader") or (e.idx, chem) in self.no_supply:
                    continue
                floor, step = floors.get(e.arch.code, (D(100), D(1)))
                local = defaultdict(lambda: ZERO)
                for sale in self.sales_of(e.idx, chem):
                    local[(sale.on.year, sale.on.month)] += sale.seller_kg or sale.kg
                top = (max(max(local.values(), default=ZERO), floor) / D("0.85")
                       * D(str(round(rng.uniform(1.0, 1.3), 2))))
                templates = OUTSIDE_LAB_CUSTOMERS if e.arch.code == "reagent_trader" else OUTSIDE_CUSTOMERS
                customer = self.outside(templates, self._customers, ("c", e.idx, chem))
                noise = wobbles(rng, len(self.months))
                for mi, m0 in enumerate(self.months):
                    on = m0 + timedelta(days=rng.randint(9, 24))
                    if on > self.today:
                        on = self.today
                    kg = (top * noise[mi] - local[(m0.year, m0.month)]).quantize(step)
                    if kg >= step:
                        self.outside_sale(e, chem, on, kg, customer)

    def plan_pharma_sales(self) -> None:
        """Category 1 pharmaceutical sales outside the city: wholesalers ship twice a month,
        producers once, to pharmaceutical companies in other Hainan cities."""
        rng = self.rng
        for e in self.of("pharma_wholesaler", "pharma_producer"):
            for chem in [c for c in e.chems if CHEMS[c].category == 1]:
                customer = self.outside(OUTSIDE_PHARMA_CUSTOMERS, self._customers, ("p", e.idx, chem))
                base = D(rng.randint(40, 120)) / 10
                noise = wobbles(rng, len(self.months))
                for mi, m0 in enumerate(self.months):
                    for _n in range(2 if e.arch.code == "pharma_wholesaler" else 1):
                        on = m0 + timedelta(days=rng.randint(4, 26))
                        if on <= self.today:
                            self.outside_sale(e, chem, on, (base * noise[mi]).quantize(D("0.1")), customer)

    def plan_traders(self) -> None:
        rng = self.rng
        self.index_sales()
        producers = self.of("chem_producer")
        pharma = self.of("pharma_producer")
        for e in self.of("chem_trader", "reagent_trader", "storage", "cat1_trader", "pharma_wholesaler"):
            for chem in e.chems:
                if (e.idx, chem) in self.no_supply:
                    continue
                if e.arch.code == "pharma_wholesaler":
                    makers = [p for p in pharma if chem in p.chems]
                    source = rng.choice(makers) if makers and rng.random() < 0.8 else None
                    pack = D("0.1")
                else:
                    # Port warehouses bring their goods over from the mainland.
                    makers = [p for p in producers if chem in p.chems] if e.arch.code != "storage" else []
                    source = rng.choice(makers) if makers and rng.random() < 0.5 else None
                    pack = D("0.5") if e.arch.code == "reagent_trader" else D(1)
                if source is None:
                    source = self.outside(OUTSIDE_SUPPLIERS[chem], self._suppliers, (chem, rng.randrange(3)))
                self.plan_supply(e, chem, source, pack=pack)

    def plan_producers(self) -> None:
        rng = self.rng
        self.index_sales()
        for e in self.of("chem_producer"):
            for chem in e.chems:
                self.plan_supply(e, chem, "production", batch_days=(1, 8, 15, 22), pack=D(10), buffer=0.1)
        for e in self.of("pharma_producer"):
            for chem in [c for c in e.chems if CHEMS[c].category == 1]:
                source = self.outside(OUTSIDE_SUPPLIERS[chem], self._suppliers, (chem, rng.randrange(2)))
                self.plan_supply(e, chem, source, step=2, pack=D(1), buffer=0.2, purpose="原料药采购入库")

    # -- seller rows ----------------------------------------------------------------------------
    def write_sales(self) -> None:
        """The seller's outbound row of every transfer, reported to the police in time
        (art. 19) unless planted late."""
        rng = self.rng
        for s in self.sales:
            kg = s.seller_kg or s.kg
            cat = CHEMS[s.chem].category
            if s.late_days is not None:
                reported = s.on + timedelta(days=s.late_days)
            else:
                reported = s.on + timedelta(days=rng.randint(0, 3) if cat == 1 else rng.randint(1, 20))
            doc = s.buyer_row.doc if s.buyer_row is not None else self.doc("XS", s.on)
            row = Row(ent=s.seller, chem=s.chem, on=s.on, direction=Direction.OUT, kg=kg, entered=kg,
                      cp=s.buyer, out=s.out, doc=doc, purpose="销售出库",
                      reported_on=reported if reported <= self.today else None, seq=self.next_seq(),
                      no_transport=s.no_transport)
            s.seller_row = row
            self.rows.append(row)

    def write_destructions(self) -> None:
        by_event: dict[tuple[int, date], list] = defaultdict(list)
        for ent, chem, on, q, expiry in self.destroy_rows:
            by_event[(ent, on)].append((chem, q, expiry))
        for (ent, on), items in sorted(by_event.items()):
            plan = DestructionPlan(ent=ent, on=on, chems=[c for c, _q, _x in items])
            self.destructions.append(plan)
            for chem, (kg, entered, unit, density, piece), expiry in items:
                self.rows.append(Row(ent=ent, chem=chem, on=on, direction=Direction.DESTROYED, kg=kg, entered=entered,
                                     unit=unit, density=density, piece=piece, doc=self.doc("XH", on),
                                     purpose="过期试剂集中销毁", expires_on=expiry,
                                     destruction=len(self.destructions) - 1, seq=self.next_seq()))


PROVINCE_POLICE = "海南省公安厅"
PROVINCE_DRUGS = "海南省药品监督管理局"
PROVINCE_EMERGENCY = "海南省应急管理厅"
CITY_POLICE = "海口市公安局"
CITY_EMERGENCY = "海口市应急管理局"


def _raw_variant(rng: random.Random, number: str) -> str:
    """How a number may have been written: the normalised （） or ASCII () brackets."""
    if number.startswith("（") and rng.random() < 0.3:
        return number.replace("（", "(", 1).replace("）", ")", 1)
    return number


class _Licences:
    """Licences, filings and permits that the planned rows need (mixed into :class:`World`)."""

    def lic(self, ent: int, kind: str, number: str, issuer: str, vf: date, vu: date, lines: dict, **extra) -> LicPlan:
        from jindu.precursors.normalize import normalize_number

        plan = LicPlan(ent=ent, kind=kind, number=normalize_number(number), number_raw=_raw_variant(self.rng, number),
                       issuer=issuer, issuer_raw=extra.pop("issuer_raw", issuer), valid_from=vf, valid_until=vu,
                       lines=lines, **extra)
        self.licences.append(plan)
        return plan

    def chain(self, months: int, *, start_back: int, gap: tuple[date, date] | None = None) -> list[tuple[date, date]]:
        """Consecutive validity periods of ``months`` months covering the window up to
        beyond today, the first starting ``start_back`` months (and a few days) before the
        window. ``gap`` (last valid day, first day of the renewal): one term ends on the
        first date and the renewal only starts on the second (it was applied for late)."""
        out = []
        if gap:
            vu = gap[0]
            while True:
                vf = add_months(vu + timedelta(days=1), -months)
                out.insert(0, (vf, vu))
                if vf <= self.start:
                    break
                vu = vf - timedelta(days=1)
            vf = gap[1]
        else:
            vf = add_months(self.start, -start_back) - timedelta(days=self.rng.randint(0, 27))
        while vf <= self.today:
            vu = add_months(vf, months) - timedelta(days=1)
            out.append((vf, vu))
            vf = vu + timedelta(days=1)
        return out

    def police_branch(self, e: Ent) -> str:
        return f"海口市公安局{e.district}分局"

    def plan_licences(self) -> None:
        rng = self.rng
        ents = self.ents
        rows_by_ent: dict[int, list[Row]] = defaultdict(list)
        for r in self.rows:
            rows_by_ent[r.ent].append(r)

        # Purchase documents (arts. 14–17): one-trip Category 1 licences; Category 2/3 filings
        # with the district police, a year at a time, listing quantities.
        self.filings: dict[tuple[int, int], list[LicPlan]] = {}
        skipped_by_ent: dict[int, list[Row]] = defaultdict(list)
        for s in self.sales:
            if s.skip_buyer:
                skipped_by_ent[s.buyer].append(s.buyer_row)
        for e in ents:
            buys = [r for r in rows_by_ent[e.idx] if r.direction == Direction.IN and (r.cp is not None or r.out)]
            openings = [r for r in rows_by_ent[e.idx] if r.direction == Direction.IN and r.purpose.startswith("期初")
                        and e.arch.kind != EnterpriseKind.PRODUCER]
            skipped = skipped_by_ent[e.idx]
            for r in buys + skipped:
                if CHEMS[r.chem].category == 1 and not r.no_permit:
                    pharma = r.chem != "邻氨基苯甲酸"
                    vf = r.on - timedelta(days=rng.randint(3, 15))
                    seller = ents[r.cp] if r.cp is not None else r.out
                    if pharma:
                        number = f"琼药监易购〔{vf.year}〕{self.number('yj-gou')}号"
                        r.permit = self.lic(e.idx, LicenceKind.PURCHASE_LICENCE, number, PROVINCE_DRUGS, vf,
                                            vf + timedelta(days=89), {r.chem: nice_ceil(r.kg)}, one_trip=True,
                                            cp_name=seller.name, cp_code=getattr(seller, "code", ""))
                    else:
                        number = f"（琼）1G460000{vf.year}{self.number('1g' + str(vf.year))}"
                        r.permit = self.lic(e.idx, LicenceKind.PURCHASE_LICENCE, number, PROVINCE_POLICE, vf,
                                            vf + timedelta(days=29), {r.chem: nice_ceil(r.kg)}, one_trip=True,
                                            cp_name=seller.name, cp_code=getattr(seller, "code", ""))
            for cat in (2, 3):
                held = [c for c in e.chems if CHEMS[c].category == cat]
                mine = [r for r in buys + skipped + openings if CHEMS[r.chem].category == cat]
                if not mine:
                    continue
                held = sorted(set(held) | {r.chem for r in mine})
                gap = self.filing_gaps.get((e.idx, cat))
                periods = self.chain(12, start_back=rng.randint(0, 11), gap=gap)
                yearly = {c: sum((r.kg for r in mine if r.chem == c), ZERO) * 12 / len(self.months) for c in held}
                plans = []
                for vf, vu in periods:
                    inside = [r for r in mine if vf <= r.on <= vu]
                    lines = {}
                    for c in held:
                        total = sum((r.kg for r in inside if r.chem == c), ZERO)
                        expected = yearly[c] * D((vu - vf).days + 1) / 365
                        if total or expected:
                            lines[c] = nice_ceil(max(total, expected) * D("1.4"))
                    limit_cut = self.limit_cuts.get((e.idx, cat))
                    if limit_cut and limit_cut[0] == len(plans):
                        total = sum((r.kg for r in inside if r.chem == limit_cut[1]), ZERO)
                        lines[limit_cut[1]] = (total * D("0.75")).quantize(D(1))
                    number = f"（琼）{cat}G{AREA[e.district]}{vf.year}{self.number(f'{cat}g{e.district}{vf.year}')}"
                    plan = self.lic(e.idx, LicenceKind.PURCHASE_FILING, number, self.police_branch(e), vf, vu, lines)
                    plans.append(plan)
                    for r in inside:
                        if not r.no_permit:
                            r.permit = plan
                self.filings[(e.idx, cat)] = plans
                # A purchase in a late renewal's gap cites the filing that had run out.
                if gap:
                    for r in mine:
                        if r.permit is None and not r.no_permit:
                            r.permit = max((p for p in plans if p.valid_until < r.on), key=lambda p: p.valid_until)

        # Trade and production licences and filings (arts. 7–13), three years at a time.
        for e in ents:
            groups: dict[tuple[str, str, str], list[str]] = defaultdict(list)
            for c in e.chems:
                cat = CHEMS[c].category
                pharma = c != "邻氨基苯甲酸" and cat == 1
                if e.arch.kind in (EnterpriseKind.TRADER, EnterpriseKind.STORAGE):
                    if cat == 1:
                        groups[(LicenceKind.TRADE_LICENCE, PROVINCE_DRUGS if pharma else PROVINCE_EMERGENCY,
                                "琼药监易经〔{y}〕{n}号" if pharma else "（琼）1J460000{y}{n}")].append(c)
                    elif cat == 2:
                        groups[(LicenceKind.TRADE_FILING, CITY_EMERGENCY, "（琼）2J460100{y}{n}")].append(c)
                    else:
                        groups[(LicenceKind.TRADE_FILING, f"海口市{e.district}应急管理局",
                                f"（琼）3J{AREA[e.district]}{{y}}{{n}}")].append(c)
                elif e.arch.kind == EnterpriseKind.PRODUCER and (cat == 1 or e.arch.code == "chem_producer"):
                    if cat == 1:
                        groups[(LicenceKind.PRODUCTION_LICENCE, PROVINCE_DRUGS, "琼药监易生〔{y}〕{n}号")].append(c)
                    else:
                        groups[(LicenceKind.PRODUCTION_FILING, CITY_EMERGENCY, "（琼）3S460100{y}{n}")].append(c)
            for (kind, issuer, pattern), chems in groups.items():
                back = rng.randint(0, 35)
                if e.arch.code in ("chem_trader", "reagent_trader") and rng.random() < 0.25:
                    # An earlier term issued before the 2018 reform by the work-safety bureau.
                    vf = date(2017, rng.randint(1, 12), rng.randint(1, 28))
                    old = issuer.replace("应急管理局", "安全生产监督管理局")
                    self.lic(e.idx, kind, pattern.format(y=vf.year, n=self.number(f"{kind}{vf.year}", 3)), issuer, vf,
                             add_months(vf, 36) - timedelta(days=1), dict.fromkeys(chems), issuer_raw=old,
                             note="上一有效期证照（已到期）")
                for vf, vu in self.chain(36, start_back=back):
                    self.lic(e.idx, kind, pattern.format(y=vf.year, n=self.number(f"{kind}{vf.year}", 3)), issuer, vf,
                             vu, dict.fromkeys(chems))

        # Transport documents (art. 20): Category 2/3 movements under the shipper's permit or
        # filing (a year at a time, district police); Category 1 leaving the city one trip at
        # a time (city police).
        chains: dict[tuple[int, int], list[LicPlan]] = {}
        for s in self.sales:
            row = s.seller_row
            seller = ents[s.seller]
            cat = CHEMS[s.chem].category
            # The seller keeps the buyer's document on file (art. 18).
            if s.buyer is not None:
                buyer_row = s.buyer_row
                row.permit = buyer_row.permit
            else:
                if cat == 1 and s.chem != "邻氨基苯甲酸":
                    row.permit = f"琼药监易购〔{s.on.year}〕{self.number('yj-gou')}号"
                elif cat == 1:
                    row.permit = f"（琼）1G460000{s.on.year}{self.number('1g' + str(s.on.year))}"
                else:
                    row.permit = f"（琼）{cat}G{s.out.area}{s.on.year}{self.number('outg' + s.out.area)}"
            if s.no_transport:
                continue
            if cat == 1:
                if s.buyer is None:
                    vf = s.on - timedelta(days=rng.randint(2, 8))
                    row.transport = self.lic(
                        s.seller, LicenceKind.TRANSPORT_LICENCE,
                        f"（琼）1Y460100{vf.year}{self.number('1y' + str(vf.year))}", CITY_POLICE, vf,
                        vf + timedelta(days=29), {s.chem: nice_ceil(row.kg)}, one_trip=True,
                        cp_name=s.out.name, cp_code=s.out.code, note=f"承运单位：{self.carrier(s.seller).name}")
                continue
            key = (s.seller, cat)
            if key not in chains:
                kind = LicenceKind.TRANSPORT_FILING if cat == 3 else LicenceKind.TRANSPORT_LICENCE
                plans = []
                for vf, vu in self.chain(12, start_back=rng.randint(0, 11)):
                    seq = self.number(f"{cat}y{seller.district}{vf.year}")
                    number = f"（琼）{cat}Y{AREA[seller.district]}{vf.year}{seq}"
                    plans.append(self.lic(s.seller, kind, number, self.police_branch(seller), vf, vu, {},
                                          note=f"多次使用；承运单位：{self.carrier(s.seller).name}"))
                chains[key] = plans
            plan = next(p for p in chains[key] if p.valid_from <= s.on <= p.valid_until)
            if s.buyer_row is not None and s.buyer_row.on > plan.valid_until:
                # Shipped on the permit's last day, booked in the next day: ship on the day it arrives.
                s.on = row.on = s.buyer_row.on
                plan = next(p for p in chains[key] if p.valid_from <= s.on <= p.valid_until)
            plan.lines.setdefault(s.chem, None)
            row.transport = plan
            if s.buyer_row is not None:
                s.buyer_row.transport = plan

    def carrier(self, ent: int) -> Ent:
        carriers = self.of("transporter")
        return carriers[ent % len(carriers)]


AREA = {"秀英区": "460105", "龙华区": "460106", "琼山区": "460107", "美兰区": "460108"}


class DemoWorld(_Supply, _Licences, World):
    """The whole plan: :meth:`plan` fills enterprises, rows, licences, destructions and
    counts; :func:`write_world` saves it."""

    def plan(self) -> "DemoWorld":
        self.filing_gaps: dict[tuple[int, int], tuple[date, date]] = {}
        self.limit_cuts: dict[tuple[int, int], tuple[int, str]] = {}
        self.no_supply: set[tuple[int, str]] = set()
        self.make_enterprises()
        copies = 2 if self.size >= 200 else 1
        special = self.choose_user_plants(copies)
        self.plan_users(special)
        self.plant_unmatched(copies)
        self.balance_outside(("chem_trader", "reagent_trader", "storage", "cat1_trader"))
        self.plant_trade(copies)
        self.plan_pharma_sales()
        self.plant_late_reports(copies)
        self.plan_traders()
        self.balance_outside(("chem_producer",))
        self.plan_producers()
        self.write_sales()
        self.write_destructions()
        self.plan_licences()
        self.finish(copies)
        return self

    # -- planted cases --------------------------------------------------------------------------
    def pick(self, codes: tuple[str, ...], chem: str | None = None, *, exclude=()) -> Ent | None:
        pool = [e for e in self.of(*codes) if e.idx not in self.used and e.idx not in exclude
                and e.status == EnterpriseStatus.OPERATING]
        with_chem = [e for e in pool if chem in e.chems] if chem else []
        choice = (with_chem or pool or [None])[0]
        if choice is not None:
            self.used.add(choice.idx)
        return choice

    def note_plant(self, code: str, ents: list[Ent], chem: str, on: date | None, detail: str) -> None:
        plant = next(p for p in PLANTED if p.code == code)
        self.manifest.append({"plant": code, "rules": plant.rules, "enterprises": [e.name for e in ents],
                              "enterprise_ids": [e.idx for e in ents], "chemical": chem, "on": on, "detail": detail})

    def choose_user_plants(self, copies: int) -> dict[tuple[int, str], dict]:
        """Pairs simulated specially: planted purchase patterns and the clean destructions."""
        special: dict[tuple[int, str], dict] = {}
        rng = self.rng

        def supplier_out(chem):
            return self.outside(OUTSIDE_SUPPLIERS[chem], self._suppliers, (chem, 0))

        for _c in range(copies):
            e = self.pick(("pharma_user",))
            if e:
                e.chems.setdefault("邻氨基苯甲酸", D("15"))
                special[(e.idx, "邻氨基苯甲酸")] = {"supplier": supplier_out("邻氨基苯甲酸"), "plant": "cat1_no_licence",
                                                 "plant_purchase": {"index": 0, "no_permit": True}, "cadence": 3}
            e = self.pick(("lab",), "三氯甲烷")
            if e:
                e.chems["三氯甲烷"] = D("8")
                special[(e.idx, "三氯甲烷")] = {"supplier": supplier_out("三氯甲烷"), "plant": "beyond_limit"}
                self.limit_cuts[(e.idx, 2)] = (1, "三氯甲烷")
            e = self.pick(("plating",), "盐酸")
            if e:
                e.chems = {"盐酸": e.chems.get("盐酸") or D("400")}
                special[(e.idx, "盐酸")] = {"supplier": supplier_out("盐酸"), "plant": "after_expiry"}
            buyer = self.pick(("plating",), "硫酸")
            seller = next((t for t in self.carriers("硫酸", ("chem_trader",)) if t.idx not in self.used), None)
            if buyer and seller:
                buyer.chems.setdefault("硫酸", D("300"))
                self.used.add(seller.idx)
                special[(buyer.idx, "硫酸")] = {"supplier": seller, "plant": "quantity_mismatch", "seller": seller,
                                               "plant_purchase": {"index": 5, "seller_ratio": D("1.2")}}
            e = self.pick(("lab",), "乙醚")
            if e:
                e.chems.setdefault("乙醚", D("1.5"))
                special[(e.idx, "乙醚")] = {"mode": "kept", "plant": "expired_kept"}
        # Clean: expired reagents destroyed at the police's collective destructions.
        n = max(4, round(36 * self.size / FULL_SIZE))
        candidates = [(e, c) for e in self.of("hospital", "lab", "school") if e.idx not in self.used
                      for c in e.chems if c in DESTROYED_IN_SEED and (e.idx, c) not in special]
        rng.shuffle(candidates)
        for i, (e, c) in enumerate(candidates[:n]):
            special[(e.idx, c)] = {"mode": "destroy", "campaign": self.campaigns[i % 2]}
        return special

    def plan_users(self, special: dict) -> None:
        for e in self.ents:
            if e.arch.kind != EnterpriseKind.USER and e.arch.code != "pharma_producer":
                continue
            for chem, monthly in list(e.chems.items()):
                if e.arch.code == "pharma_producer" and CHEMS[chem].category == 1:
                    continue
                spec = special.get((e.idx, chem), {})
                supplier = spec.get("supplier") or self.choose_supplier(e, chem)
                facts = self.simulate_user(e, chem, monthly, supplier, mode=spec.get("mode", "normal"),
                                           campaign=spec.get("campaign"), plant_purchase=spec.get("plant_purchase"),
                                           cadence=spec.get("cadence"))
                plant = spec.get("plant")
                buys = facts["purchases"]
                if plant == "cat1_no_licence" and buys:
                    self.note_plant(plant, [e], chem, buys[0].on, f"无购买许可证购入 {buys[0].kg} 千克")
                elif plant == "beyond_limit":
                    self.note_plant(plant, [e], chem, None, "购买备案证明第二期限量为实际购入量的 75%")
                elif plant == "after_expiry" and len(buys) > 4:
                    p = buys[len(buys) // 2]
                    self.filing_gaps[(e.idx, 3)] = (p.on - timedelta(days=35), p.on + timedelta(days=20))
                    self.note_plant(plant, [e], chem, p.on, "购买备案证明到期 35 天后仍凭其购入")
                elif plant == "quantity_mismatch" and len(buys) > 5:
                    self.note_plant(plant, [spec["seller"], e], chem, buys[5].on,
                                    f"购买方入库 {buys[5].kg} 千克，销售方出库多 20%")
                elif plant == "expired_kept":
                    self.note_plant(plant, [e], chem, facts["expiry"], f"过期未销毁，结存 {facts['left']} 千克")

    def plant_unmatched(self, copies: int) -> None:
        """Planted: a trader books an outbound of 丙酮 to a Jindu printing works that never
        books it in (the printing works' own purchases are untouched)."""
        self.index_sales()
        for _c in range(copies):
            pairs = [(s.seller, s.buyer) for s in self.sales if s.chem == "丙酮" and s.buyer is not None
                     and self.ents[s.buyer].arch.code == "printing" and s.seller not in self.used
                     and s.buyer not in self.used and self.ents[s.seller].arch.code == "chem_trader"]
            if not pairs:
                continue
            seller, buyer = (self.ents[i] for i in pairs[len(pairs) // 2])
            self.used.update({seller.idx, buyer.idx})
            # A date well away from the printing works' own deliveries from that seller (the
            # matching window is 7 days either way), in the first year.
            days = sorted(s.on for s in self.sales if s.seller == seller.idx and s.buyer == buyer.idx
                          and s.chem == "丙酮")
            gaps = [(b - a, a) for a, b in zip(days, days[1:]) if b - a >= timedelta(days=20)]
            on = (min(gaps, key=lambda g: abs((g[1] - add_months(self.start, 8)).days))[1] + timedelta(days=10)
                  if gaps else add_months(self.start, 8) + timedelta(days=15))
            kg = D(self.rng.randint(8, 14) * 20) * CHEMS["丙酮"].density
            row = Row(ent=buyer.idx, chem="丙酮", on=on, direction=Direction.IN, kg=_kg(kg), entered=_kg(kg),
                      cp=seller.idx, doc=self.doc("XS", on), seq=self.next_seq())
            self.sales.append(Sale(seller=seller.idx, chem="丙酮", on=on, kg=_kg(kg), buyer=buyer.idx, buyer_row=row,
                                   skip_buyer=True))
            self.note_plant("out_without_in", [seller, buyer], "丙酮", on, f"销售方出库 {_kg(kg)} 千克，购买方未入库")

    def plant_trade(self, copies: int) -> None:
        """Planted trader patterns: a monthly spike, a transport without permit."""
        self.index_sales()
        for _c in range(copies):
            traders = [t for t in self.of("chem_trader") if t.idx not in self.used]
            scored = []
            for t in traders:
                for chem in t.chems:
                    sales = self.sales_of(t.idx, chem)
                    months = {s.on.replace(day=1) for s in sales}
                    if len(months) >= len(self.months) - 2:
                        scored.append((chem == "甲苯", sum(s.kg for s in sales), t, chem))
            if scored:
                _tol, total, t, chem = max(scored, key=lambda x: (x[0], x[1]))
                self.used.add(t.idx)
                on = add_months(self.start, 14) + timedelta(days=self.rng.randint(5, 20))
                kg = nice_ceil(total / len(self.months) * 5)
                customer = self.outside(OUTSIDE_CUSTOMERS, self._customers, ("spike", t.idx))
                self.outside_sale(t, chem, on, kg, customer)
                self.note_plant("spike", [t], chem, on, f"当月向外市客户销售 {kg} 千克，约为月均出库的六倍")
            t = next((t for t in self.of("chem_trader") if t.idx not in self.used
                      and all(CHEMS[c].category == 3 for c in t.chems)), None)
            if t is not None:
                self.used.add(t.idx)
                chem = "三氯甲烷"
                t.chems[chem] = ZERO
                self.no_supply.add((t.idx, chem))
                m0 = add_months(self.start, 15)
                supplier = self.outside(OUTSIDE_SUPPLIERS[chem], self._suppliers, (chem, 1))
                self.purchase(t, chem, m0 + timedelta(days=2), (D(500), D(500), QuantityUnit.KG, None, None), supplier)
                on = m0 + timedelta(days=8)
                customer = self.outside(OUTSIDE_CUSTOMERS, self._customers, ("nt", t.idx))
                self.outside_sale(t, chem, on, D(480), customer, no_transport=True)
                self.note_plant("no_transport", [t], chem, on, f"向{customer.name}发运 480 千克，无运输许可")

    def plant_late_reports(self, copies: int) -> None:
        sellers = [e for e in self.of("pharma_wholesaler") if e.idx not in self.used]
        for e in sellers[:copies]:
            sales = [s for s in self.sales if s.seller == e.idx and s.out is not None
                     and 60 <= (self.today - s.on).days <= 300]
            if sales:
                s = sales[len(sales) // 2]
                s.late_days = 12
                self.used.add(e.idx)
                self.note_plant("late_report", [e], s.chem, s.on, f"第一类销售 {s.kg} 千克，12 日后才报告公安机关")

    # -- balances and counts ----------------------------------------------------------------------
    def finish(self, copies: int) -> None:
        """Order rows (posting order = date order, inbound first within a day), compute the
        running balances, plan the stock counts (half-yearly; quarterly for Categories 1
        and 2) and plant short counts."""
        import bisect

        self.rows.sort(key=lambda r: (r.on, r.direction != Direction.IN, r.seq))
        bal: dict[tuple[int, str], Decimal] = defaultdict(lambda: ZERO)
        history: dict[tuple[int, str], tuple[list, list]] = defaultdict(lambda: ([], []))
        for r in self.rows:
            key = (r.ent, r.chem)
            bal[key] += r.kg if r.direction == Direction.IN else -r.kg
            if bal[key] < 0:
                raise RuntimeError(f"demo plan overdraws {self.ents[r.ent].name} {r.chem} on {r.on}: {bal[key]}")
            r.balance = bal[key]
            dates, values = history[key]
            if dates and dates[-1] == r.on:
                values[-1] = bal[key]
            else:
                dates.append(r.on)
                values.append(bal[key])
        self.balances = dict(bal)
        ends = []
        for y in range(self.start.year, self.today.year + 1):
            for m, d in ((3, 31), (6, 30), (9, 30), (12, 31)):
                on = date(y, m, d)
                if self.start < on < self.today:
                    ends.append(on)
        counts = []
        for key, (dates, values) in history.items():
            cat = CHEMS[key[1]].category
            for on in ends:
                if on.month in (3, 9) and cat == 3:
                    continue
                i = bisect.bisect_right(dates, on)
                if i == 0:
                    continue
                counts.append([key[0], key[1], on, values[i - 1], values[i - 1]])
        # Planted: a count well short of the ledger at a trader.
        for _c in range(copies):
            pool = [c for c in counts if c[0] not in self.used and self.ents[c[0]].arch.code in
                    ("reagent_trader", "chem_trader") and c[4] >= 20]
            pool.sort(key=lambda c: (c[1] != "乙醚", c[1] != "三氯甲烷", -c[4]))
            if pool:
                c = pool[0]
                self.used.add(c[0])
                c[3] = (c[4] * D("0.7")).quantize(D("0.001"))
                self.note_plant("count_short", [self.ents[c[0]]], c[1], c[2],
                                f"盘点 {c[3]} 千克，账面 {c[4]} 千克")
        self.counts = [tuple(c) for c in counts]


# ---------------------------------------------------------------------------------------------
# Writing the plan
# ---------------------------------------------------------------------------------------------

def _demo_divisions(city) -> tuple[dict, dict, dict]:
    """Towns of the demo city by name, their villages, and each town's district name."""
    from jindu.geo.choices import Level
    from jindu.geo.models import Division

    districts = {d.pk: d.name for d in Division.objects.filter(parent=city, level=Level.DISTRICT)}
    towns = {t.name: t for t in Division.objects.filter(parent_id__in=districts, level=Level.TOWN).order_by("code")}
    villages: dict[int, list] = defaultdict(list)
    for v in Division.objects.filter(parent__in=list(towns.values()), level=Level.VILLAGE).order_by("code"):
        villages[v.parent_id].append(v)
    return towns, dict(villages), {t.pk: districts[t.parent_id] for t in towns.values()}


def write_world(world: DemoWorld, city) -> dict:
    """Save ``world`` with bulk inserts (history rows for the models that keep history);
    returns counts."""
    from django.db import connection
    from django.utils import timezone
    from simple_history.utils import bulk_create_with_history

    from jindu.org.models import Unit
    from jindu.precursors.models import (
        Chemical,
        Destruction,
        Enterprise,
        LedgerEntry,
        Licence,
        LicenceChemical,
        StockBalance,
        StockCount,
    )

    chemicals = {c.name_zh: c for c in Chemical.objects.filter(name_zh__in=list(CHEMS))}
    units = {u.name: u for u in Unit.objects.filter(is_demo=True)}
    city_name = city.name

    def unit(name):
        return units.get(name) or units.get(f"{city_name}{name}")

    objs = []
    for e in world.ents:
        e.obj = Enterprise(
            name=e.name, credit_code=e.credit_code, legacy_code=e.legacy_code, kind=e.arch.kind,
            division=e.division, address=e.address, contact_name=e.contact_name, contact_phone=e.contact_phone,
            risk_level=e.risk, status=e.status, is_demo=True,
            note="演示数据（虚构企业）" + ("；旧档案仅有组织机构代码" if e.legacy_code else ""),
        )
        objs.append(e.obj)
    bulk_create_with_history(objs, Enterprise, batch_size=500)
    Supervision = Enterprise.supervising_units.through
    links = []
    for e in world.ents:
        chosen = [unit(f"公安局{e.district}分局禁毒大队")]
        if any(CHEMS[c].category < 3 for c in e.chems) or e.arch.kind == EnterpriseKind.TRANSPORTER:
            chosen.append(unit("公安局禁毒支队"))
        sectors = e.arch.sectors
        if e.arch.code == "lab" and "学院" not in e.name:  # a testing company, not a college
            sectors = ("market", "industry")
        chosen += [unit(SECTOR_UNITS[k]) for k in sectors]
        for u in {u.pk: u for u in chosen if u is not None}.values():
            links.append(Supervision(enterprise_id=e.obj.pk, unit_id=u.pk))
    Supervision.objects.bulk_create(links, batch_size=2000)

    lic_objs = []
    for lp in world.licences:
        e = world.ents[lp.ent]
        lp.obj = Licence(enterprise=e.obj, kind=lp.kind, number=lp.number, number_raw=lp.number_raw, issuer=lp.issuer,
                         issuer_raw=lp.issuer_raw, issued_on=lp.valid_from - timedelta(days=world.rng.randint(0, 5)),
                         valid_from=lp.valid_from, valid_until=lp.valid_until, one_trip=lp.one_trip,
                         counterparty_credit_code=lp.cp_code, counterparty_name=lp.cp_name, note=lp.note)
        lic_objs.append(lp.obj)
    bulk_create_with_history(lic_objs, Licence, batch_size=1000)
    bulk_create_with_history([
        LicenceChemical(licence=lp.obj, chemical=chemicals[c], quantity_limit_kg=limit)
        for lp in world.licences for c, limit in lp.lines.items()
    ], LicenceChemical, batch_size=2000)
    # Bulk rows send no signals: flatten the licences for the reconciliation here.
    from jindu.precursors.reconciliation.cover import rebuild_cover

    rebuild_cover()

    witnesses = []
    for dp in world.destructions:
        e = world.ents[dp.ent]
        dp.obj = Destruction(
            enterprise=e.obj, destroyed_on=dp.on, method="交有资质的危险废物处置单位焚烧、中和处置",
            place="海口市危险废物集中处置中心（演示）", witnesses=f"{world.person()}、{world.person()}",
            note="市公安局禁毒支队组织过期易制毒化学品集中销毁（演示数据）",
        )
    bulk_create_with_history([dp.obj for dp in world.destructions], Destruction, batch_size=500)
    Witness = Destruction.witness_units.through
    for dp in world.destructions:
        e = world.ents[dp.ent]
        for name in (f"公安局{e.district}分局禁毒大队", "公安局禁毒支队", "生态环境局"):
            u = unit(name)
            if u is not None:
                witnesses.append(Witness(destruction_id=dp.obj.pk, unit_id=u.pk))
    Witness.objects.bulk_create(witnesses, batch_size=1000, ignore_conflicts=True)

    def number_of(ref) -> tuple[str, str]:
        if ref is None:
            return "", ""
        if isinstance(ref, LicPlan):
            return ref.number, ref.number_raw
        from jindu.precursors.normalize import normalize_number

        return normalize_number(ref), ref

    columns = ("enterprise_id", "chemical_id", "chemical_raw", "occurred_on", "direction", "quantity_kg",
               "quantity_entered", "unit_entered", "density_kg_per_l", "piece_mass_kg", "balance_after_kg",
               "counterparty_id", "counterparty_credit_code", "counterparty_name", "document_number",
               "permit_number", "permit_number_raw", "transport_permit_number", "purpose", "expires_on",
               "reported_on", "destruction_id", "source", "import_batch_id", "recorded_at", "recorded_by_id",
               "voided_at", "void_reason")
    recorded_at = connection.ops.adapt_datetimefield_value(timezone.now())
    values = []
    for r in world.rows:
        e = world.ents[r.ent]
        cp = world.ents[r.cp] if r.cp is not None else None
        permit, permit_raw = number_of(None if r.no_permit else r.permit)
        transport, _raw = number_of(None if r.no_transport else r.transport)
        values.append((
            e.obj.pk, chemicals[r.chem].pk, "", r.on, r.direction.value, r.kg, r.entered, str(r.unit), r.density,
            r.piece, r.balance, cp.obj.pk if cp else None,
            cp.code if cp else (r.out.code if r.out else ""), cp.name if cp else (r.out.name if r.out else ""),
            r.doc, permit, permit_raw if permit_raw != permit else "", transport, r.purpose, r.expires_on,
            r.reported_on, world.destructions[r.destruction].obj.pk if r.destruction is not None else None,
            EntrySource.DEMO.value, None, recorded_at, None, None, "",
        ))
    # Plain INSERTs: the ORM's per-field preparation would take most of a minute for ~90,000
    # rows; the values above are already what the columns hold.
    table = connection.ops.quote_name(LedgerEntry._meta.db_table)
    head = f"INSERT INTO {table} ({', '.join(connection.ops.quote_name(c) for c in columns)}) VALUES "
    one = f"({', '.join(['%s'] * len(columns))})"
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            cols = ", ".join(connection.ops.quote_name(c) for c in columns)
            with cur.cursor.copy(f"COPY {table} ({cols}) FROM STDIN") as copy:
                for row in values:
                    copy.write_row(row)
        else:
            for i in range(0, len(values), 5000):
                cur.executemany(head + one, values[i:i + 5000])
    StockBalance.objects.bulk_create([
        StockBalance(enterprise_id=world.ents[ent].obj.pk, chemical_id=chemicals[chem].pk, quantity_kg=kg)
        for (ent, chem), kg in world.balances.items()
    ], batch_size=2000)
    # The rows above bypassed the posting path: sum their monthly summary (LedgerMonth).
    from jindu.precursors.reconciliation.months import rebuild_ledger_months

    rebuild_ledger_months()
    bulk_create_with_history([
        StockCount(enterprise_id=world.ents[ent].obj.pk, chemical_id=chemicals[chem].pk, counted_on=on,
                   quantity_kg=counted, ledger_balance_kg=ledger, counted_by=world.person(),
                   note="" if counted == ledger else "实盘与账面不符，原因待查")
        for ent, chem, on, counted, ledger in world.counts
    ], StockCount, batch_size=2000)
    return {"enterprises": len(objs), "licences": len(lic_objs), "entries": len(values),
            "destructions": len(world.destructions), "counts": len(world.counts)}


#: What the demo's inspections found, by item of the shipped checklist
#: ``precursor-enterprise`` (``inspections/data/checklists.json``). Only items whose failure
#: leaves no trace in the ledger are used, so that inspections and the closed-loop
#: reconciliation tell the same story (the ledgers outside the planted cases are clean).
HAZARD_NOTES = {
    "P02": "管理制度未上墙，专职管理人员变更后未重新明确职责",
    "P04": "部分购买方备案证明复印件未存档",
    "P07": "专柜未落实双人双锁，钥匙由一人保管",
    "P08": "运输备案证明未随货同行",
    "P09": "未制定丢失、被盗、被抢报告流程，员工不清楚报告要求",
    "P10": "上年度经营、购买情况年度报告未按期报送",
}


def _enterprise_template():
    """The current default checklist for enterprises (shipped by the inspections app)."""
    from jindu.inspections.models import ChecklistTemplate

    current = ChecklistTemplate.objects.filter(category="enterprise", is_current=True)
    return current.filter(is_default=True).first() or current.first()


def seed_inspections(world: DemoWorld, city) -> str:
    """The seed's enterprise inspections over the ledger window: 2562 inspections
    (routine rounds every three to five months, and the re-inspections) that found 101
    hazards, all rectified and verified, closed once the re-inspection passed
    (:data:`SEED_INSPECTIONS`, :data:`SEED_HAZARDS`; scaled down for a smaller world).
    Joint teams: the district police brigade, the town office and the sector department.
    Returns a summary."""
    from simple_history.utils import bulk_create_with_history

    from jindu.inspections.choices import HazardStatus, ItemOutcome
    from jindu.inspections.models import Hazard, Inspection, ItemResult, Target
    from jindu.inspections.rules import scorecard
    from jindu.org.models import Unit

    template = _enterprise_template()
    if template is None:
        return "no inspections (no enterprise checklist)"
    items = list(template.items.order_by("seq"))
    soft = [it for it in items if it.code in HAZARD_NOTES] or [it for it in items if not it.required] or items
    rng = random.Random(SEED + 1)
    scale = (len(world.ents)) / (FULL_SIZE + TRANSPORTERS)
    hazards_wanted = max(3, round(SEED_HAZARDS * scale))
    total_wanted = max(20, round(SEED_INSPECTIONS * scale))
    targets = {t.source_key: t for t in Target.objects.filter(source_model="precursors.Enterprise",
                                                             source_key__in=[str(e.obj.pk) for e in world.ents])}
    units = {u.name: u for u in Unit.objects.filter(is_demo=True)}
    now = datetime.now(tz=local_tz())
    last_day = world.today - timedelta(days=1)

    def at(d: date) -> datetime:
        return datetime.combine(d, time(rng.randint(9, 16), rng.choice((0, 15, 30, 45))), tzinfo=local_tz())

    def team(e: Ent) -> list:
        names = [f"{city.name}公安局{e.district}分局禁毒大队", f"{e.town.name}禁毒办"]
        names += [f"{city.name}{SECTOR_UNITS[k]}" for k in e.arch.sectors[:1]]
        return [units[n] for n in names if n in units]

    # Routine rounds: every enterprise every three to five months.
    visits: list[tuple[Ent, date]] = []
    for e in world.ents:
        d = world.start + timedelta(days=rng.randint(0, 100))
        while d <= last_day:
            visits.append((e, d))
            d += timedelta(days=rng.randint(90, 150))
    rechecks_wanted = max(1, round(hazards_wanted * 0.8))
    routine_wanted = total_wanted - rechecks_wanted
    rng.shuffle(visits)
    visits = sorted(visits[:routine_wanted], key=lambda v: (v[1], v[0].idx))
    while len(visits) < routine_wanted:  # a smaller world: top up with extra rounds
        e = rng.choice(world.ents)
        visits.append((e, world.start + timedelta(days=rng.randint(0, (last_day - world.start).days))))
    # Failed rounds: old enough for the hazard to have been rectified and re-inspected.
    eligible = [i for i, (_e, d) in enumerate(visits) if (world.today - d).days >= 45]
    failed = sorted(rng.sample(eligible, min(rechecks_wanted, len(eligible))))
    per_failed = [1] * len(failed)
    for i in range(hazards_wanted - len(failed)):
        per_failed[i % len(failed)] += 1
    fail_items = {idx: rng.sample(soft, min(n, len(soft))) for idx, n in zip(failed, per_failed)}

    routine, results, follow = [], {}, []
    for i, (e, d) in enumerate(visits):
        bad = {it.pk for it in fail_items.get(i, ())}
        outcomes = [(it, ItemOutcome.FAIL if it.pk in bad else ItemOutcome.PASS) for it in items]
        card = scorecard(outcomes, template.pass_score_pct)
        insp = Inspection(target=targets[str(e.obj.pk)], template=template, inspected_at=at(d), passed=card.passed,
                          score_pct=card.score_pct, items_passed=card.items_passed, items_failed=card.items_failed,
                          items_na=card.items_na, required_failed=len(card.required_failed), is_demo=True,
                          summary="检查证照、购买许可、出入库台账与库存，未发现问题。" if card.passed
                          else "发现问题，已责令限期整改。")
        routine.append(insp)
        results[id(insp)] = [(it, o, HAZARD_NOTES.get(it.code, "现场检查发现未落实") if o == ItemOutcome.FAIL else "")
                             for it, o in outcomes]
        if bad:
            re_day = min(d + timedelta(days=rng.randint(8, 20)), last_day)
            card2 = scorecard(((it, ItemOutcome.PASS) for it in items), template.pass_score_pct)
            re = Inspection(target=insp.target, template=template, inspected_at=at(re_day), passed=True,
                            score_pct=card2.score_pct, items_passed=card2.items_passed, is_demo=True,
                            summary="复查：隐患已整改到位。")
            results[id(re)] = [(it, ItemOutcome.PASS, "") for it in items]
            follow.append((re, insp, e))
    routine = bulk_create_with_history(routine, Inspection, batch_size=1000)
    for re, orig, _e in follow:
        re.follow_up_of = orig
    rechecks = bulk_create_with_history([re for re, _o, _e in follow], Inspection, batch_size=1000)
    ents_of = {id(insp): e for insp, (e, _d) in zip(routine, visits)}
    ents_of.update({id(re): e for re, _o, e in follow})
    Through = Inspection.units.through
    Through.objects.bulk_create([Through(inspection_id=i.pk, unit_id=u.pk) for i in routine + rechecks
                                 for u in team(ents_of[id(i)])], batch_size=2000)
    bulk_create_with_history([ItemResult(inspection=i, item=it, outcome=o, note=note)
                              for i in routine + rechecks for it, o, note in results[id(i)]],
                             ItemResult, batch_size=2000)
    hazards = []
    for re, insp, _e in follow:
        found = insp.inspected_at
        for it, o, note in results[id(insp)]:
            if o != ItemOutcome.FAIL:
                continue
            rectified = min(found + timedelta(days=rng.randint(2, 7)), re.inspected_at)
            closed = min(re.inspected_at + timedelta(days=rng.randint(1, 3)), now)
            hazards.append(Hazard(
                target=insp.target, inspection=insp, item=it, description=f"{it.text}：{note}", found_at=found,
                deadline=found.astimezone(local_tz()).date() + timedelta(days=template.rectification_days),
                status=HazardStatus.CLOSED, rectified_at=rectified, rectification_note="已按要求整改，提交整改报告。",
                verified_by=re, verified_at=re.inspected_at, closed_at=closed, closing_note="复查合格，予以销号。",
                is_demo=True,
            ))
    bulk_create_with_history(hazards, Hazard, batch_size=1000)
    return f"{len(routine) + len(rechecks)} inspections, {len(hazards)} hazards (all rectified)"


def register_targets(world: DemoWorld) -> None:
    """Every demo enterprise becomes an inspection target (precursor_enterprise), through
    :func:`jindu.inspections.services.register_external_target` (system action)."""
    from jindu.inspections.choices import TargetKind, TargetStatus
    from jindu.inspections.models import Target
    from jindu.inspections.services import register_external_target

    main_licence: dict[int, LicPlan] = {}
    for lp in world.licences:
        if lp.valid_from <= world.today <= lp.valid_until and not lp.one_trip:
            rank = 0 if lp.kind in (LicenceKind.PRODUCTION_LICENCE, LicenceKind.TRADE_LICENCE) else 1 \
                if lp.kind in (LicenceKind.PRODUCTION_FILING, LicenceKind.TRADE_FILING) else 2
            best = main_licence.get(lp.ent)
            if best is None or rank < best[0]:
                main_licence[lp.ent] = (rank, lp)
    for e in world.ents:
        lic = main_licence.get(e.idx)
        register_external_target(
            user=None, source_model="precursors.Enterprise", source_key=e.obj.pk,
            kind=TargetKind.PRECURSOR_ENTERPRISE,
            data={"name": e.name, "division": e.division, "address": e.address, "longitude": e.lon,
                  "latitude": e.lat, "licence_number": lic[1].number[:64] if lic else "",
                  "operator_name": e.contact_name, "operator_phone": e.contact_phone,
                  "status": TargetStatus.OPERATING, "note": "演示数据（虚构企业）：坐标为示意位置。"},
        )
    Target.objects.filter(source_model="precursors.Enterprise",
                          source_key__in=[str(e.obj.pk) for e in world.ents]).update(is_demo=True)


def link_enterprise_user(world: DemoWorld, stdout) -> None:
    """The demo login ``enterprise`` (accounts' DEMO_USERS) becomes the account of one clean
    chemical trader, so the enterprise role can be tried on a realistic ledger."""
    from jindu.accounts.models import User

    user = User.objects.filter(username=ENTERPRISE_LOGIN, is_demo=True).first()
    if user is None:
        return
    candidates = [e for e in world.of("chem_trader") if e.idx not in world.used and e.district == "龙华区"] \
        or [e for e in world.of("chem_trader") if e.idx not in world.used]
    if candidates:
        candidates[0].obj.account_users.add(user)
        stdout.write(f"demo precursors: login “{ENTERPRISE_LOGIN}” keeps the records of {candidates[0].name}")


ENTERPRISE_LOGIN = "enterprise"


def reconcile(stdout) -> None:
    """Run the full reconciliation so the discrepancy queue shows what the rules find."""
    from jindu.precursors.reconciliation import run_reconciliation

    run = run_reconciliation(mode="full")
    stdout.write(f"demo precursors: full reconciliation raised {run.raised} discrepancies "
                 f"over {run.pairs_checked} enterprise × chemical pairs")


def seed(stdout, *, size: int | None = None) -> list[dict] | None:
    """Create the demo precursor world once (see the module docstring); a second run
    changes nothing. ``size``: enterprises besides the 5 transport enterprises (default
    ``settings.JINDU_DEMO_PRECURSORS_SIZE`` if set, else 409, the seed's figure; tests use
    fewer). Returns the planted cases (``PLANTED``
    codes with the enterprises, chemical and date where each was planted), or ``None``
    when nothing was created."""
    import time as _time

    from jindu.geo.models import Division
    from jindu.precursors.models import Enterprise

    if Enterprise.objects.filter(is_demo=True).exists():
        stdout.write("demo precursors: already present, left as they are")
        return None
    city = Division.objects.filter(code=settings.JINDU_DEMO_CITY.ljust(12, "0")).first()
    if city is None or city.code[:6] != "460100":
        stdout.write("demo precursors: the demo world is Haikou's; skipped for another demo city")
        return None
    t0 = _time.monotonic()
    towns, villages, district_of = _demo_divisions(city)
    size = size or getattr(settings, "JINDU_DEMO_PRECURSORS_SIZE", None) or FULL_SIZE
    world = DemoWorld(size=size, today=local_today(), towns=towns, villages=villages,
                      district_of=district_of).plan()
    t1 = _time.monotonic()
    counts = write_world(world, city)
    t2 = _time.monotonic()
    for item in world.manifest:
        item["enterprise_pks"] = [world.ents[i].obj.pk for i in item["enterprise_ids"]]
    register_targets(world)
    link_enterprise_user(world, stdout)
    t3 = _time.monotonic()
    inspections = seed_inspections(world, city)
    t4 = _time.monotonic()
    reconcile(stdout)
    t5 = _time.monotonic()
    stdout.write(
        f"demo precursors: {counts['enterprises']} enterprises, {counts['licences']} licences and filings, "
        f"{counts['entries']} ledger entries, {counts['counts']} stock counts, {counts['destructions']} "
        f"destructions, {len(world.manifest)} planted cases, {inspections} (plan {t1 - t0:.1f} s, write "
        f"{t2 - t1:.1f} s, targets {t3 - t2:.1f} s, inspections {t4 - t3:.1f} s, reconciliation {t5 - t4:.1f} s)"
    )
    return world.manifest
