"""Normalisation of what real precursor records look like, for imports, forms and services.

Pure functions (only :class:`ChemicalIndex` reads the catalogue). The variants handled are
those of ``reference/regulatory/precursor_import_notes.md`` ("Data-quality notes"):

1. chemical names with synonyms, traditional characters, bracket styles and catalogue
   asterisks (醋酸酐 / 乙酸酐, 哌啶(六氢吡啶), 鹽酸, 高錳酸鉀, N-乙醯鄰氨基苯酸, 麦角酸*), and CAS numbers;
2. issuer names across the 2018 institutional reform (安全生产监督管理局 → 应急管理局);
5. brackets in document numbers (琼环科字〔2024〕7号, 应急厅(2020)31号, (琼)3J…);
6. dates written 2022-01-18, 2015年09月24日, 2018/11/19, with full-width digits;
7. old organisation codes (GB 11714, 9 characters) and registration numbers (15 digits)
   instead of unified social credit codes (GB 32100-2015, 18 characters).

Callers keep the value as written beside the normalised one (``chemical_raw``,
``number_raw``, ``issuer_raw``, ``permit_number_raw``).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Iterable

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

# -- traditional → simplified --------------------------------------------------------------

#: Traditional (and variant) characters → simplified, for the characters that occur in the
#: chemical catalogue, its synonyms, and issuer names (administrative words, the provinces,
#: Hainan's places). Generated from OpenCC's ``STCharacters.txt`` (the traditional forms of
#: every simplified character in those names) and checked by hand; 醯 → 酰 added (the
#: Taiwan chemistry spelling of the acyl character, absent from OpenCC's table). A character
#: outside this table is left as written: if its simplified form occurs in no catalogue
#: name, folding it could not make a name match anyway.
TRADITIONAL_TO_SIMPLIFIED: dict[str, str] = dict(zip(
    "萬業東臨樂鄉書買雲亞產産倉會偽僞儲蘭關內製劑辦務區醫華衛廳縣發號員團國場處備學寧實審廣慶應開異態總執"
    "術機査欄覈檢橫氫濟濃灣澂環瓊鹽監鹼類經編縮羥肅蘇葯藥營許証證試責質購貴貿輸遼邁運鄰郟鉀錳鎭鎮門隊陝麥"
    "黃龍臺醯",
    "万业东临乐乡书买云亚产产仓会伪伪储兰关内制剂办务区医华卫厅县发号员团国场处备学宁实审广庆应开异态总执"
    "术机查栏核检横氢济浓湾澄环琼盐监碱类经编缩羟肃苏药药营许证证试责质购贵贸输辽迈运邻郏钾锰镇镇门队陕麦"
    "黄龙台酰",
    strict=True,
))
_FOLD_TABLE = str.maketrans(TRADITIONAL_TO_SIMPLIFIED)


def fold_traditional(text: str) -> str:
    """``text`` with the traditional characters of :data:`TRADITIONAL_TO_SIMPLIFIED`
    replaced by their simplified forms (鹽酸 → 盐酸, 高錳酸鉀 → 高锰酸钾, 安全生產監督管理局 →
    安全生产监督管理局). Everything else is kept as written."""
    return (text or "").translate(_FOLD_TABLE)


def to_halfwidth(text: str) -> str:
    """Unicode NFKC: full-width letters, digits and punctuation to ASCII (２０２４ → 2024,
    （ → (, ＊ → *, ﹝ → 〔); CJK characters are unchanged."""
    return unicodedata.normalize("NFKC", text or "")


def _squeeze(text: str) -> str:
    return "".join(text.split())


# -- brackets ----------------------------------------------------------------------------------

#: Opening and closing brackets seen in records (after NFKC: （）→ (), ［］→ [], ﹝﹞→ 〔〕).
OPEN_BRACKETS = "([{〔【〖〈⦅"
CLOSE_BRACKETS = ")]}〕】〗〉⦆"
_TO_ASCII_BRACKETS = str.maketrans(OPEN_BRACKETS + CLOSE_BRACKETS, "(" * len(OPEN_BRACKETS) + ")" * len(CLOSE_BRACKETS))
_YEAR_IN_BRACKETS = re.compile(
    "[" + re.escape(OPEN_BRACKETS) + r"]((?:19|20)\d{2})[" + re.escape(CLOSE_BRACKETS) + "]"
)
_DASHES = str.maketrans({c: "-" for c in "‐‑‒–—―−﹣"})


def normalize_number(raw: Any) -> str:
    """A licence, filing or document number in one spelling, for storage and matching.

    Full-width characters become ASCII, traditional characters simplified, spaces removed,
    ASCII letters upper-cased; a year in any bracket style becomes 〔year〕 (the style of
    official document numbers, 《党政机关公文格式》GB/T 9704-2012 §7.2.4), every other
    bracket pair the full-width （）. ``"琼环科字(2024)7号"``, ``"琼环科字［2024］7号"`` and
    ``"琼环科字〔2024〕7号"`` all give ``"琼环科字〔2024〕7号"``; ``"(琼) 3j4601"`` gives
    ``"（琼）3J4601"``. Empty input gives ``""``. Keep the raw value beside it
    (``number_raw``, ``permit_number_raw``): the import notes §5 found all three styles in
    real numbers.
    """
    text = _squeeze(fold_traditional(to_halfwidth(str(raw or "")))).translate(_DASHES)
    if not text:
        return ""
    text = _YEAR_IN_BRACKETS.sub(r"〔\1〕", text)
    out = []
    for ch in text:
        if ch in "〔〕":
            out.append(ch)
        elif ch in OPEN_BRACKETS:
            out.append("（")
        elif ch in CLOSE_BRACKETS:
            out.append("）")
        elif "a" <= ch <= "z":
            out.append(ch.upper())
        else:
            out.append(ch)
    return "".join(out)


# -- dates -------------------------------------------------------------------------------------

_DATE_FORMS = (
    re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T]00:00(?::00)?)?$"),
    re.compile(r"^(\d{4})/(\d{1,2})/(\d{1,2})(?:[ T]00:00(?::00)?)?$"),
    re.compile(r"^(\d{4})\.(\d{1,2})\.(\d{1,2})$"),
    re.compile(r"^(\d{4})年(\d{1,2})月(\d{1,2})[日号]$"),
    re.compile(r"^((?:19|20)\d{2})(\d{2})(\d{2})$"),
)
DATE_FORMS_TEXT = "2022-01-18、2022/1/18、2022.1.18、2022年1月18日、20220118"


def parse_date(raw: Any) -> date | None:
    """A calendar date from what records write: ``2022-01-18``, ``2018/11/19``,
    ``2018.11.19``, ``2015年09月24日`` (also ``…号``), ``20150924``, in full-width digits too
    (import notes §6); a ``date``, or a ``datetime`` at midnight (an Excel date cell).
    Always year first, so the order is never ambiguous. ``None`` or blank gives ``None``.

    Raises ``ValidationError`` (Chinese) for other text, for a date that does not exist
    (2024-02-30) and for a ``datetime`` with a time of day.
    """
    if raw is None:
        return None
    if isinstance(raw, datetime):
        if (raw.hour, raw.minute, raw.second, raw.microsecond) != (0, 0, 0, 0):
            raise ValidationError(_("应为日期，收到日期时间“%(value)s”") % {"value": raw})
        return raw.date()
    if isinstance(raw, date):
        return raw
    text = _squeeze(to_halfwidth(str(raw)))
    if not text:
        return None
    for pattern in _DATE_FORMS:
        m = pattern.match(text)
        if m:
            y, mo, d = (int(g) for g in m.groups())
            try:
                return date(y, mo, d)
            except ValueError:
                raise ValidationError(_("日期“%(value)s”不存在") % {"value": raw}) from None
    raise ValidationError(
        _("无法识别的日期“%(value)s”：应为 %(forms)s 等年份在前的写法") % {"value": raw, "forms": DATE_FORMS_TEXT}
    )


# -- issuers -----------------------------------------------------------------------------------

#: Local institutional reform completed (the 2018 reform plan asked provinces to finish the
#: local reforms by the end of March 2019): a document dated later that still names a
#: pre-reform office is worth a note.
REFORM_COMPLETED_ON = date(2019, 3, 31)
_PROVINCE_SUFFIX = ("省", "自治区")
_SAFETY = r"(?:安全生产监督管理|安全生产监管|安全监管|安监)"
_FOOD_DRUG = r"(?:食品药品监督管理|食品药品监管|食药监|药监)"
_MARKET_OLD = r"(?:工商行政管理|工商|质量技术监督|质监)"


def _rename(name: str) -> str:
    """The post-reform name of one authority (see :func:`normalize_issuer`)."""
    # National bodies.
    name = re.sub(r"^国家" + _SAFETY + "总局", "应急管理部", name)
    name = re.sub(_SAFETY + "总局$", "应急管理部", name)
    name = re.sub(r"^国家" + _FOOD_DRUG + "总局", "国家药品监督管理局", name)
    name = re.sub(r"^国家" + _MARKET_OLD + "总局", "国家市场监督管理总局", name)

    def safety(m: re.Match) -> str:
        prefix, suffix = m.group(1), m.group(2)
        if suffix == "局" and prefix.endswith(_PROVINCE_SUFFIX):
            suffix = "厅"  # provincial emergency-management departments are 厅 (海南省应急管理厅)
        return f"{prefix}应急管理{suffix}"

    name = re.sub(r"^(.*?)" + _SAFETY + r"(局|分局|厅)$", safety, name)

    def food_drug(m: re.Match) -> str:
        prefix, suffix = m.group(1), m.group(2)
        # Provinces kept a drug regulator (省药品监督管理局); below province level the food
        # and drug offices were merged into market regulation (市场监督管理局).
        if prefix.endswith(_PROVINCE_SUFFIX):
            return f"{prefix}药品监督管理{suffix}"
        return f"{prefix}市场监督管理{suffix}"

    name = re.sub(r"^(.*?)" + _FOOD_DRUG + r"(局|分局)$", food_drug, name)
    name = re.sub(r"^(.*?)" + _MARKET_OLD + r"(局|分局)$", r"\1市场监督管理\2", name)
    return name


class IssuerName(str):
    """An issuing authority's current name (a ``str``), carrying ``raw`` (as printed),
    ``renamed`` (whether the printed name is a pre-reform one) and ``note`` (Chinese, for
    a preview warning; ``""`` when there is nothing to say)."""

    raw: str
    renamed: bool
    note: str

    def __new__(cls, name: str, raw: str, renamed: bool, note: str = "") -> "IssuerName":
        obj = super().__new__(cls, name)
        obj.raw, obj.renamed, obj.note = raw, renamed, note
        return obj


def normalize_issuer(raw: Any, *, on: date | None = None) -> IssuerName:
    """The current name of the authority that issued a licence or filing (import notes §2).

    Traditional characters are folded, full-width characters and spaces normalised, and
    the names of the 2018 institutional reform (第十三届全国人大第一次会议批准的《国务院机构改革方案》,
    2018-03-17) mapped to their successors: 安全生产监督管理局/安监局 → 应急管理局 (provincial:
    应急管理厅; 国家安全生产监督管理总局 → 应急管理部), 食品药品监督管理局 → 药品监督管理局 at
    provincial level and 市场监督管理局 below it, 工商行政管理局 / 质量技术监督局 → 市场监督管理局.
    Other names (公安局, 商务厅 …) are returned normalised but unchanged.

    ``on`` is the document's date: a pre-reform name on a document dated after
    :data:`REFORM_COMPLETED_ON` gets a ``note`` (the A1 page of the notes, published 2022,
    still prints 郏县安全生产监督管理局). Keep ``raw`` beside the result (``issuer_raw``).
    """
    raw_text = str(raw or "").strip()
    cleaned = _squeeze(fold_traditional(to_halfwidth(raw_text)))
    if not cleaned:
        return IssuerName("", raw_text, False)
    name = _rename(cleaned)
    renamed = name != cleaned
    note = ""
    if renamed and on is not None and on > REFORM_COMPLETED_ON:
        note = _("%(date)s 的证照仍使用机构改革前的名称“%(raw)s”，已按现名“%(name)s”登记") % {
            "date": on.isoformat(), "raw": raw_text, "name": name}
    return IssuerName(name, raw_text, renamed, note)


# -- credit codes -----------------------------------------------------------------------------

_ORG_CODE_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)
_ORG_CODE_CHARS = re.compile(r"^[0-9A-Z]{8}[0-9X]$")


def org_code_check_char(body: str) -> str:
    """The GB 11714-1997 check character of an 8-character organisation-code body:
    digits count 0–9, letters A–Z 10–35, weights 3 7 9 10 5 8 4 2, C9 = 11 − (Σ mod 11),
    10 written X and 11 written 0."""
    total = sum((int(c) if c.isdigit() else ord(c) - 55) * w for c, w in zip(body, _ORG_CODE_WEIGHTS))
    c9 = 11 - total % 11
    return {10: "X", 11: "0"}.get(c9, str(c9))


def is_valid_org_code(code: str) -> bool:
    """Whether ``code`` (9 characters, no hyphen) is a GB 11714 organisation code."""
    return bool(_ORG_CODE_CHARS.match(code)) and code[8] == org_code_check_char(code[:8])


class CreditCode(tuple):
    """``(credit_code, legacy_code)`` — one of them set, or both ``""`` — with ``warning``
    (Chinese, ``""`` when there is nothing to flag)."""

    warning: str

    def __new__(cls, credit_code: str, legacy_code: str, warning: str = "") -> "CreditCode":
        obj = super().__new__(cls, (credit_code, legacy_code))
        obj.warning = warning
        return obj

    @property
    def credit_code(self) -> str:
        return self[0]

    @property
    def legacy_code(self) -> str:
        return self[1]


def check_credit_code(raw: Any) -> CreditCode:
    """Read an enterprise's code as records give it (import notes §7 and "Credit-code check").

    - 18 characters: a unified social credit code (GB 32100-2015), checked with
      ``stdnum.cn.uscc`` (alphabet without I O Z S V, check character 18) and, since
      positions 9–17 are the organisation code, with its GB 11714 check too → ``(code, "")``.
      A code of an individual business (个体工商户, ``92…``) is accepted with a ``warning``:
      a 92 code in a precursor licence list is itself worth a look (notes, last line).
    - 9 characters (also written ``12345678-9``): an organisation code (GB 11714-1997) →
      ``("", code)``.
    - 15 digits: a business registration number (注册号) → ``("", number)``. Numbers
      issued under GS 15-2006 end in an ISO 7064 MOD 11,10 check digit; older ones may
      not, so a failing check digit is a ``warning``, not an error (as the services'
      ``clean_legacy_code`` accepts any 15 digits).

    Spaces and hyphens are ignored, full-width characters read, letters upper-cased. Blank
    gives ``("", "")``. Raises ``ValidationError`` (Chinese) naming the reason otherwise.
    """
    from stdnum import exceptions as stdnum_errors
    from stdnum.cn import uscc
    from stdnum.iso7064 import mod_11_10

    text = to_halfwidth(str(raw or "")).upper()
    code = re.sub(r"[\s\-]", "", text)
    if not code:
        return CreditCode("", "")
    if len(code) == 18:
        try:
            uscc.validate(code)
        except stdnum_errors.InvalidChecksum:
            raise ValidationError(
                _("统一社会信用代码“%(code)s”校验位不符（第18位应为 %(check)s），请核对是否抄错")
                % {"code": code, "check": uscc.calc_check_digit(code[:17])}) from None
        except stdnum_errors.ValidationError:
            raise ValidationError(
                _("统一社会信用代码“%(code)s”格式不符：前8位应为数字，其余为数字或大写字母（不含 I、O、Z、S、V）")
                % {"code": code}) from None
        if not is_valid_org_code(code[8:17]):
            raise ValidationError(
                _("统一社会信用代码“%(code)s”第9–17位（组织机构代码）校验不符，请核对是否抄错") % {"code": code})
        warning = ""
        if code.startswith("92"):
            warning = _("代码“%(code)s”以 92 开头，是个体工商户：请核实其是否具备易制毒化学品相关资质") % {"code": code}
        return CreditCode(code, "", warning)
    if len(code) == 9:
        if not is_valid_org_code(code):
            raise ValidationError(
                _("组织机构代码“%(code)s”校验不符（GB 11714：前8位数字或字母，第9位为校验码），请核对是否抄错")
                % {"code": code})
        return CreditCode("", code)
    if len(code) == 15 and code.isdigit():
        warning = ""
        if not mod_11_10.is_valid(code):
            warning = _("注册号“%(code)s”校验位不符（2007年以前核发的注册号可能没有校验位），请核对是否抄错") % {"code": code}
        return CreditCode("", code, warning)
    raise ValidationError(
        _("“%(code)s”（%(n)s位）不是有效的代码：应为18位统一社会信用代码，或旧档案的9位组织机构代码、15位注册号")
        % {"code": code, "n": len(code)})


# -- chemicals ---------------------------------------------------------------------------------

_ASTERISKS = str.maketrans("", "", "*※")
_CAS = re.compile(r"(?<![\d-])(\d{2,7}-\d{2}-\d)(?![\d-])")
_CAS_LABEL = re.compile(r"(?i)cas(?:号|no\.?|number|rn)?[:：#]?")
_CONCENTRATION = re.compile(r"\d+(?:\.\d+)?%")
#: Grade words written before a name (工业硫酸, 分析纯丙酮); removed only when the rest of
#: the name then matches.
GRADE_PREFIXES = ("工业级", "工业", "分析纯", "化学纯", "优级纯", "试剂级", "试剂", "医药级", "药用", "电子级")


def chemical_key(text: str) -> str:
    """The comparison form of a chemical name: full-width → ASCII, traditional →
    simplified, every bracket style → ``()``, dashes → ``-``, asterisks and spaces removed,
    Latin letters case-folded. ``"麻黄素（麻黄碱）*"`` and ``"麻黃素(麻黃鹼)"`` give the same key."""
    t = fold_traditional(to_halfwidth(text or ""))
    t = _squeeze(t).translate(_TO_ASCII_BRACKETS).translate(_DASHES).translate(_ASTERISKS)
    return t.casefold()


def _split_brackets(key: str) -> tuple[str, str] | None:
    """``"outer(inner)"`` → ``("outer", "inner")`` for a key ending in its bracket (nested
    brackets inside ``inner`` kept); ``None`` for keys without that shape."""
    if not key.endswith(")") or "(" not in key:
        return None
    start = key.index("(")
    depth = 0
    for i in range(start, len(key)):
        depth += {"(": 1, ")": -1}.get(key[i], 0)
        if depth == 0 and i != len(key) - 1:
            return None  # "a(b)c(d)": not one trailing bracket
    outer, inner = key[:start], key[start + 1:-1]
    return (outer, inner) if outer and inner else None


def _catalogue_cas(text: str) -> list[str]:
    """CAS numbers a catalogue row gives, outside parenthetical remarks ("90717-16-1
    (conflict: … 6740-87-0)" gives only the first)."""
    depth, kept = 0, []
    for ch in to_halfwidth(text or ""):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth = max(0, depth - 1)
        elif depth == 0:
            kept.append(ch)
    return _CAS.findall("".join(kept))


_AMBIGUOUS = object()
_FAMILY = re.compile(r"^(.+?)及其(?:盐类|酯类|盐|酯)$")


@dataclass
class ChemicalResolution:
    """What :meth:`ChemicalIndex.resolve` found: ``chemical`` (``None`` when nothing or
    something ambiguous matched), ``raw`` (the text as written, stripped), ``via`` (how:
    ``name``, ``synonym``, ``bracket``, ``english``, ``cas``, ``grade``) and ``problem`` (a
    Chinese reason when ``chemical`` is ``None``)."""

    chemical: Any
    raw: str
    via: str = ""
    problem: str = ""


@dataclass
class ChemicalIndex:
    """The catalogue's names, synonyms and CAS numbers keyed by :func:`chemical_key`.

    Levels are tried in order: catalogue names, the synonym table
    (``data/chemical_synonyms.csv``), the parts of catalogue names (麻黄素（麻黄碱） → 麻黄素,
    麻黄碱; 麻黄浸膏、麻黄浸膏粉 → each; …缩水甘油酸及其酯类 → the acid), English names. A key two chemicals share at the same level is
    ambiguous and matches neither. Active chemicals win over ones that left the list.
    Build once per import (:meth:`load`) — it is one query.
    """

    levels: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    by_cas: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def load(cls, chemicals: Iterable[Any] | None = None, synonyms: Iterable[dict] | None = None) -> "ChemicalIndex":
        from jindu.precursors.loaders import synonym_rows
        from jindu.precursors.models import Chemical

        rows = list(chemicals if chemicals is not None else Chemical.objects.order_by("-is_active", "category", "id"))
        rows.sort(key=lambda c: not c.is_active)  # stable: active first, caller's order kept
        names: dict[str, Any] = {}
        parts: dict[str, Any] = {}
        english: dict[str, Any] = {}
        by_cas: dict[str, Any] = {}

        def put(table: dict, key: str, chem: Any) -> None:
            if not key:
                return
            current = table.get(key)
            if current is None:
                table[key] = chem
            elif current is not _AMBIGUOUS and current.pk != chem.pk and current.is_active == chem.is_active:
                table[key] = _AMBIGUOUS
            # an active chemical already holding the key wins over an inactive one

        for chem in rows:
            key = chemical_key(chem.name_zh)
            put(names, key, chem)
            split = _split_brackets(key)
            if split:
                for part in split:
                    put(parts, part, chem)
            # 麻黄浸膏、麻黄浸膏粉 names two forms; 2-甲基-3-苯基缩水甘油酸及其酯类 names the acid too.
            for part in key.split("、") if "、" in key else ():
                put(parts, part, chem)
            family = _FAMILY.match(key)
            if family:
                put(parts, family.group(1), chem)
            if chem.name_en:
                en = chemical_key(chem.name_en)
                put(english, en, chem)
                split = _split_brackets(en)
                if split:
                    put(english, split[0], chem)
            for cas in _catalogue_cas(chem.cas_number):
                put(by_cas, cas, chem)
        synonym_table: dict[str, Any] = {}
        for row in (synonyms if synonyms is not None else synonym_rows()):
            target = names.get(chemical_key(row["name_zh"]))
            if target is not None and target is not _AMBIGUOUS:
                put(synonym_table, chemical_key(row["synonym"]), target)
        return cls(levels=[("name", names), ("synonym", synonym_table), ("bracket", parts), ("english", english)],
                   by_cas=by_cas)

    def _by_key(self, key: str) -> tuple[Any, str]:
        for via, table in self.levels:
            found = table.get(key)
            if found is not None:
                return found, via
        return None, ""

    def _by_name(self, key: str) -> tuple[Any, str]:
        found, via = self._by_key(key)
        if found is not None:
            return found, via
        split = _split_brackets(key)
        if split:  # 哌啶(六氢吡啶), 丙酮(AR), 硫酸(98%): either part may name it
            outer, inner = (self._by_key(p)[0] for p in split)
            hits = {c.pk: c for c in (outer, inner) if c is not None and c is not _AMBIGUOUS}
            if len(hits) == 1:
                return next(iter(hits.values())), "bracket"
            if len(hits) > 1:
                return _AMBIGUOUS, "bracket"
            key = split[0]
        stripped = _CONCENTRATION.sub("", key)
        for prefix in GRADE_PREFIXES:
            if stripped.startswith(prefix):
                stripped = stripped[len(prefix):]
                break
        if stripped and stripped != key:
            found, _via = self._by_key(stripped)
            if found is not None:
                return found, "grade"
        return None, ""

    def resolve(self, raw: Any) -> ChemicalResolution:
        """Match ``raw`` (a name, a CAS number, or both as in "丙酮 67-64-1") to one
        catalogue entry. A name and a CAS number that name different chemicals, an
        ambiguous name, or a CAS number with a wrong check digit match nothing, with the
        reason in ``problem``."""
        from stdnum import casrn

        text = str(raw or "").strip()
        if not text:
            return ChemicalResolution(None, "", problem=_("品种名称为空"))
        half = to_halfwidth(text).translate(_DASHES)
        cas_numbers = _CAS.findall(half)
        by_cas = None
        for cas in cas_numbers:
            if not casrn.is_valid(cas):
                return ChemicalResolution(None, text, problem=_("CAS号“%(cas)s”校验位不符") % {"cas": cas})
            found = self.by_cas.get(cas)
            if found is _AMBIGUOUS:
                return ChemicalResolution(None, text, problem=_("CAS号“%(cas)s”对应多个品种，请填写中文名称") % {"cas": cas})
            if found is None:
                return ChemicalResolution(None, text, problem=_("CAS号“%(cas)s”不在易制毒化学品目录中") % {"cas": cas})
            if by_cas is not None and by_cas.pk != found.pk:
                return ChemicalResolution(None, text, problem=_("同一单元格中的CAS号指向不同品种"))
            by_cas = found
        name_text = _CAS_LABEL.sub("", _CAS.sub("", half)) if cas_numbers else half
        key = chemical_key(name_text).replace("()", "").strip(",;:、，")
        by_name, via = self._by_name(key) if key else (None, "")
        if by_name is _AMBIGUOUS:
            return ChemicalResolution(None, text, problem=_("“%(value)s”对应多个品种，请填写目录中的完整名称") % {"value": text})
        if by_name is not None and by_cas is not None and by_name.pk != by_cas.pk:
            return ChemicalResolution(None, text, problem=_(
                "名称（%(name)s）与CAS号（%(cas)s）指向不同品种，请核对") % {"name": by_name.name_zh, "cas": by_cas.name_zh})
        if by_name is not None:
            return ChemicalResolution(by_name, text, via)
        if by_cas is not None:
            # The number (check digit verified) decides, also beside words that are not a
            # catalogue name ("二甲基酮 67-64-1").
            return ChemicalResolution(by_cas, text, "cas")
        return ChemicalResolution(None, text, problem=_(
            "易制毒化学品目录中没有“%(value)s”：请填写目录中的名称、常用别名或CAS号") % {"value": text})


def match_chemical(raw: Any, *, index: ChemicalIndex | None = None) -> tuple[Any, str]:
    """``(chemical, raw)``: the catalogue :class:`~jindu.precursors.models.Chemical` that
    ``raw`` names, or ``None``, and the text as written (stripped), to keep as
    ``chemical_raw``.

    Matching (import notes §1): after folding traditional characters, full-width
    characters, bracket styles and asterisks, ``raw`` is looked up among catalogue names,
    the synonym table, the parts of bracketed names and English names; a CAS number
    (``67-64-1``, check digit verified) matches too, alone or beside a name (they must
    agree). Grade words and concentrations (工业硫酸, 硫酸98%, 丙酮(AR)) are set aside when
    the rest matches. See :meth:`ChemicalIndex.resolve` for the reason when nothing does.
    Pass ``index`` when matching many values (one catalogue query for all).
    """
    found = (index or ChemicalIndex.load()).resolve(raw)
    return found.chemical, found.raw


# -- licence kinds ------------------------------------------------------------------------------

#: Activity words → (licence kind, filing kind).
_KIND_ACTIVITIES = (
    ("运输", ("transport_licence", "transport_filing")),
    ("购买", ("purchase_licence", "purchase_filing")),
    ("购进", ("purchase_licence", "purchase_filing")),
    ("生产", ("production_licence", "production_filing")),
    ("经营", ("trade_licence", "trade_filing")),
    ("销售", ("trade_licence", "trade_filing")),
)
_LICENCE_WORDS = ("许可", "审核", "审批", "核定", "核发")
_FILING_WORDS = ("备案",)


def parse_licence_kind(raw: Any) -> str | None:
    """The :class:`~jindu.precursors.choices.LicenceKind` value a document or service-item
    name denotes, or ``None`` when it names no single kind.

    Real records spell one kind several ways (import notes §3): 经营许可证 / 经营许可 /
    非药品类易制毒化学品经营许可证审核 are the trade licence; 第二、第三类非药品类易制毒化学品生产备案,
    生产备案证明 and 生产备案通知书 the production filing. So the name is read as one activity
    (生产, 经营/销售, 购买, 运输) and one kind of document: a licence (许可, 审核, 审批, 核定) or a
    filing (备案: 备案证明, 备案通知书, 备案证). Names with two activities or both document
    words are ambiguous (``None``); so are names with neither.
    """
    text = _squeeze(fold_traditional(to_halfwidth(str(raw or ""))))
    if not text:
        return None
    activities = {kinds for word, kinds in _KIND_ACTIVITIES if word in text}
    if len(activities) != 1:
        return None
    licence_kind, filing_kind = next(iter(activities))
    is_licence = any(w in text for w in _LICENCE_WORDS)
    is_filing = any(w in text for w in _FILING_WORDS)
    if is_licence == is_filing:
        return None
    return licence_kind if is_licence else filing_kind


# -- quantities ---------------------------------------------------------------------------------

#: Unit words as written (after NFKC and case-folding) → :class:`QuantityUnit` values.
UNIT_WORDS: dict[str, str] = {
    "kg": "kg", "kgs": "kg", "千克": "kg", "公斤": "kg",
    "t": "t", "吨": "t", "公吨": "t",
    "g": "g", "克": "g",
    "l": "L", "升": "L", "公升": "L",
    "ml": "mL", "毫升": "mL",
    "piece": "piece", "pcs": "piece", "件": "piece", "瓶": "piece", "桶": "piece", "袋": "piece", "箱": "piece",
    "罐": "piece", "包": "piece", "支": "piece", "听": "piece", "件/瓶": "piece",
}
#: Units refused because their size is not certain (the 市斤 is 500 g, the old 台斤 600 g).
AMBIGUOUS_UNITS: dict[str, str] = {
    "斤": "500 克（市斤）或 600 克（台斤）", "两": "50 克或 37.5 克", "磅": "0.4536 千克", "lb": "0.4536 千克",
    "lbs": "0.4536 千克", "加仑": "3.785 升（美制）或 4.546 升（英制）", "gal": "3.785 升（美制）或 4.546 升（英制）",
}
_QUANTITY = re.compile(r"^(?P<number>[+-]?(?:\d+(?:\.\d*)?|\.\d+))(?P<unit>.*)$")


def parse_unit(raw: Any) -> str | None:
    """A :class:`~jindu.precursors.choices.QuantityUnit` value from a unit as written
    (千克, 公斤, KG, ㎏, 吨, t, 克, 升, L, 毫升, mL, 件, 瓶, 桶…); ``None`` for blank. Raises
    ``ValidationError`` (Chinese) for units whose size is not certain (斤, 两, 磅, 加仑) and
    for unknown words."""
    text = _squeeze(to_halfwidth(str(raw or ""))).casefold()
    if not text:
        return None
    if text in UNIT_WORDS:
        return UNIT_WORDS[text]
    if text in AMBIGUOUS_UNITS:
        raise ValidationError(_("单位“%(unit)s”不明确（可能是 %(sizes)s），请换算为千克、吨或升后填写")
                              % {"unit": str(raw).strip(), "sizes": AMBIGUOUS_UNITS[text]})
    raise ValidationError(_("无法识别单位“%(unit)s”：请用千克（kg）、吨（t）、克（g）、升（L）、毫升（mL），"
                            "或件、瓶、桶（须填每件净重）") % {"unit": str(raw).strip()})


def parse_quantity(raw: Any) -> tuple[Any, str | None]:
    """``(Decimal, unit or None)`` from a quantity as written: ``"25"``, ``"25kg"``,
    ``"1.5 吨"``, ``"200L"``, ``"４桶"``, ``"1,250.5公斤"``. A ``Decimal``/``int`` is taken
    as is (unit ``None``). Raises ``ValidationError`` (Chinese) for text that is not a
    number with an optional unit (:func:`parse_unit`), and for negative numbers (the
    direction column says whether stock goes in or out)."""
    from decimal import Decimal, InvalidOperation

    if raw is None or raw == "":
        return None, None
    if isinstance(raw, (int, Decimal)) and not isinstance(raw, bool):
        number, unit = Decimal(raw), None
    else:
        text = _squeeze(to_halfwidth(str(raw))).replace(",", "")
        m = _QUANTITY.match(text)
        if not m:
            raise ValidationError(_("数量应为数字，可带单位（如 25、25kg、1.5吨、200L、4桶），收到“%(value)s”")
                                  % {"value": str(raw).strip()})
        try:
            number = Decimal(m.group("number"))
        except InvalidOperation:  # pragma: no cover - the pattern admits only decimals
            raise ValidationError(_("数量应为数字，收到“%(value)s”") % {"value": raw}) from None
        unit = parse_unit(m.group("unit"))
    if number < 0:
        raise ValidationError(_("数量不能为负数（出入库由“方向”列区分），收到“%(value)s”") % {"value": str(raw).strip()})
    return number, unit
