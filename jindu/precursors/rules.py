"""Legal tables of the precursor regime and small pure helpers over them.

Everything here is data or a pure function (no database, no Django settings), so pages,
services, importers, the demo and the reconciliation can all import it. Source throughout:
《易制毒化学品管理条例》(国务院令第445号, 2018 revision; "the Regulation"), tabulated in
``reference/regulatory/legal_rules.md`` §6. Numbers that the law does not fix (matching
windows, tolerances, statistical thresholds) are named constants marked *reasoned
default* with the reasoning next to them; change them here and every user follows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from jindu.precursors.choices import ChemicalCategory, LicenceKind

# ---------------------------------------------------------------------------------------------
# Which document covers which activity for which category
# ---------------------------------------------------------------------------------------------

#: Activities the Regulation licenses or requires a filing for.
PRODUCTION = "production"
TRADE = "trade"
PURCHASE = "purchase"
TRANSPORT = "transport"
ACTIVITIES = (PRODUCTION, TRADE, PURCHASE, TRANSPORT)

_ALL = frozenset({1, 2, 3})


@dataclass(frozen=True)
class KindRule:
    """What one kind of licence or filing is for.

    ``activity``: one of :data:`ACTIVITIES`. ``required_for``: the categories for which
    this kind is *the* document the Regulation asks for. ``accepted_for``: the categories
    it covers when it lists the chemical: a licence (the stricter document, issued after
    review) is also accepted where a filing would suffice, never the reverse.
    ``articles``: the Regulation's articles.
    """

    activity: str
    required_for: frozenset[int]
    accepted_for: frozenset[int]
    articles: str


LICENCE_KIND_RULES: dict[str, KindRule] = {
    # Production: Category 1 licence (arts. 7, 8); Categories 2/3 filing within 30 days (art. 13).
    LicenceKind.PRODUCTION_LICENCE: KindRule(PRODUCTION, frozenset({1}), _ALL, "第七条、第八条"),
    LicenceKind.PRODUCTION_FILING: KindRule(PRODUCTION, frozenset({2, 3}), frozenset({2, 3}), "第十三条"),
    # Trade: Category 1 licence (arts. 9, 10); Categories 2/3 filing (art. 13).
    LicenceKind.TRADE_LICENCE: KindRule(TRADE, frozenset({1}), _ALL, "第九条、第十条"),
    LicenceKind.TRADE_FILING: KindRule(TRADE, frozenset({2, 3}), frozenset({2, 3}), "第十三条"),
    # Purchase: Category 1 purchase licence (arts. 14, 15); Categories 2/3 filing with the
    # county police before buying (art. 17).
    LicenceKind.PURCHASE_LICENCE: KindRule(PURCHASE, frozenset({1}), _ALL, "第十四条、第十五条"),
    LicenceKind.PURCHASE_FILING: KindRule(PURCHASE, frozenset({2, 3}), frozenset({2, 3}), "第十七条"),
    # Transport: Category 1 one-trip licence (city police, arts. 20, 22); Category 2 permit
    # (county police, 3 or 12 months, arts. 20, 22); Category 3 filing before transport (art. 20).
    LicenceKind.TRANSPORT_LICENCE: KindRule(TRANSPORT, frozenset({1, 2}), _ALL, "第二十条、第二十二条"),
    LicenceKind.TRANSPORT_FILING: KindRule(TRANSPORT, frozenset({3}), frozenset({3}), "第二十条"),
}


def covering_kinds(activity: str, category: int) -> tuple[str, ...]:
    """The licence/filing kinds that cover ``activity`` for a chemical of ``category``
    (1–3), required kind first. E.g. ``covering_kinds(PURCHASE, 1) == ("purchase_licence",)``,
    ``covering_kinds(PURCHASE, 3) == ("purchase_filing", "purchase_licence")``.
    Raises ``ValueError`` for an unknown activity or category."""
    if activity not in ACTIVITIES or category not in _ALL:
        raise ValueError(f"unknown activity/category: {activity!r}, {category!r}")
    kinds = [k for k, r in LICENCE_KIND_RULES.items() if r.activity == activity and category in r.accepted_for]
    kinds.sort(key=lambda k: category not in LICENCE_KIND_RULES[k].required_for)
    return tuple(str(k) for k in kinds)


def required_kind(activity: str, category: int) -> str:
    """The kind the Regulation asks for (``required_kind(TRANSPORT, 3) == "transport_filing"``)."""
    return covering_kinds(activity, category)[0]


# ---------------------------------------------------------------------------------------------
# Transport: when a document is needed (art. 20)
# ---------------------------------------------------------------------------------------------

def transport_document_required(category: int, *, counterparty_in_jindu: bool) -> bool:
    """Whether moving a chemical of ``category`` out to another party needs a transport
    licence or filing under art. 20, as Jindu decides it from what a ledger shows.

    - Category 1: a licence is needed when the transport crosses the boundary of the
      设区的市 (or a county boundary in key areas the MPS designates). Jindu runs one city,
      so a transfer to an enterprise registered in Jindu stays inside it (key-area
      designation is not modelled); a transfer to a party *outside* Jindu is presumed to
      leave the city and needs the licence.
    - Category 2: art. 20 sentence 2 asks for a county-police permit for transport with no
      boundary condition: always needed.
    - Category 3: a filing before transport, always.
    """
    if category == ChemicalCategory.ONE:
        return not counterparty_in_jindu
    return True


# ---------------------------------------------------------------------------------------------
# Sale reports (art. 19)
# ---------------------------------------------------------------------------------------------

#: Days from the sale date within which a sale must be reported to the local police
#: (art. 19: Category 1 "自销售之日起5日内", Categories 2/3 "30日内"). Counted as the
#: Civil Code counts periods (art. 201: the starting day is not counted), so the last
#: day to report is ``sale date + days``.
REPORT_DEADLINE_DAYS: dict[int, int] = {1: 5, 2: 30, 3: 30}


def report_deadline(category: int, sold_on: date) -> date:
    """The last local date on which a sale of ``sold_on`` may be reported (art. 19);
    overdue from the following local midnight."""
    return sold_on + timedelta(days=REPORT_DEADLINE_DAYS[category])


# ---------------------------------------------------------------------------------------------
# Ledger keeping (arts. 18, 19)
# ---------------------------------------------------------------------------------------------

#: Sales ledgers, copies of the buyer's documents and Category 1 use ledgers are kept two
#: years (art. 19).
LEDGER_RETENTION_YEARS = 2


# ---------------------------------------------------------------------------------------------
# Reconciliation parameters (reasoned defaults unless a source is named)
# ---------------------------------------------------------------------------------------------

#: Cross-enterprise matching: an inbound at B from A matches an outbound at A to B of the
#: same chemical when their dates are at most this many days apart (either way). Reasoned
#: default: a transfer inside one city takes a day or two; a week absorbs weekends,
#: holidays and a receiver that books goods when it unpacks them. An outbound is reported
#: unmatched only once this window has closed on the reconciliation date.
TRANSFER_WINDOW_DAYS = 7

#: Relative quantity tolerance (0.5 %) for a transfer's two sides and for a stock count
#: against the ledger. Reasoned default: the accuracy class of platform scales and
#: flow meters used in trade is 0.1–0.5 %, and volatile liquids (acetone, ether, toluene)
#: lose a little in handling.
QUANTITY_TOLERANCE_RATIO = Decimal("0.005")

#: Absolute floor of the tolerance per category, kilograms. Reasoned default: 1 kg for the
#: bulk Category 2/3 liquids and solids (a drum's residue), 10 g for Category 1 items,
#: whose usual lots (ephedrine, safrole oil) are small and whose diversion matters by the gram.
QUANTITY_TOLERANCE_MIN_KG: dict[int, Decimal] = {1: Decimal("0.010"), 2: Decimal("1.000"), 3: Decimal("1.000")}


def quantity_tolerance_kg(category: int, quantity_kg: Decimal) -> Decimal:
    """The accepted difference, kilograms, between two measurements of ``quantity_kg``
    of a chemical of ``category``: ``max(0.5 % × |quantity|, floor(category))``."""
    tolerance = max(abs(quantity_kg) * QUANTITY_TOLERANCE_RATIO, QUANTITY_TOLERANCE_MIN_KG[category])
    return tolerance.quantize(Decimal("0.001"))


#: Below this, a computed balance counts as zero (half a gram: quantities are kept to the
#: gram, and SQLite sums decimals as binary floats).
BALANCE_EPSILON_KG = Decimal("0.0005")

#: Unusual movements: the modified z-score of Iglewicz & Hoaglin (1993), *How to Detect and
#: Handle Outliers*, ASQC Basic References in Quality Control vol. 16, p. 11–12:
#: ``M = 0.6745 (x − median) / MAD``; values with ``|M| > 3.5`` are labelled potential
#: outliers. Jindu scores the logarithm of monthly kilograms and reports the high side only
#: (:mod:`jindu.precursors.reconciliation.anomaly` says why).
ROBUST_Z_THRESHOLD = Decimal("3.5")
ROBUST_Z_MAD_FACTOR = Decimal("0.6745")
#: When the MAD is zero (more than half the months equal), the mean absolute deviation is
#: used instead, scaled to the normal's standard deviation: ``M = (x − median) /
#: (1.253314 × MeanAD)`` (the fallback used by IBM SPSS Modeler's anomaly node; 1.253314 =
#: sqrt(pi/2)).
ROBUST_Z_MEANAD_FACTOR = Decimal("1.253314")
#: Months with outbound movements a pair needs before its months are scored. Reasoned
#: default: below six points a median and MAD say little.
ROBUST_Z_MIN_MONTHS = 6

#: ... and only months at least this many times the pair's median month are reported,
#: whatever their score (only unusually high months are reported at all). Reasoned
#: default: reorders and large orders bunching into one month make two and sometimes
#: three times the usual month in ordinary trade (the bench's simulated traders show
#: clean months up to five or six times their median); the floor also keeps degenerate
#: series (MAD zero or nearly so) from flagging a one-per-cent wobble.
ROBUST_Z_MIN_RATIO = Decimal("3")

#: Expired lots: days after ``expires_on`` allowed for arranging a witnessed destruction
#: before the lot is reported. Reasoned default 0: the Regulation sets no period, and a
#: lot still on hand after it expired is worth a look at once.
EXPIRY_GRACE_DAYS = 0

#: Enterprise kinds that hold goods for others. A movement between two Jindu enterprises
#: one of which is of these kinds is a custody transfer (warehousing, carriage), not a
#: sale or a purchase: the sale and purchase rules (arts. 14–19) skip it, while the
#: transport and cross-enterprise matching rules still apply.
CUSTODY_KINDS = ("storage", "transporter")
