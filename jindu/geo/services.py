"""The division tree: loading the shipped NBS data (idempotent), and grids under villages
(create, rename, deactivate — each one transaction with its audit event)."""

from __future__ import annotations

import csv
import hashlib
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _
from simple_history.utils import bulk_create_with_history, bulk_update_with_history

from jindu.core.audit import record_event
from jindu.core.scope import ADD, CHANGE
from jindu.core.services import ensure_in_scope
from jindu.geo.choices import Level, TownKind
from jindu.core.text import normalize_text
from jindu.geo.models import Division, short_code_for

DATA_DIR = Path(__file__).resolve().parent / "data"
SOURCE = "NBS 2023 统计用区划代码 (china-division 2.7.0)"


@dataclass
class LoadResult:
    created: dict[str, int] = field(default_factory=dict)
    updated: int = 0
    villages_available: bool = True


def _rows(name: str) -> list[dict[str, str]]:
    with open(DATA_DIR / name, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def _pad(code: str) -> str:
    return code.ljust(12, "0")


def city_rows(city_code: str) -> list[tuple[str, str, str, str | None]]:
    """``(code12, name, level, parent_code12)`` for a city and everything under it, parents first.

    ``city_code`` is the 6-digit GB/T 2260 code (``460100``) or the 4-digit NBS code.
    Raises ``ValueError`` for an unknown city.
    """
    c4 = city_code[:4]
    p2 = c4[:2]
    province = next((r for r in _rows("provinces.csv") if r["code"] == p2), None)
    city = next((r for r in _rows("cities.csv") if r["code"] == c4), None)
    if province is None or city is None:
        raise ValueError(f"未知的城市代码：{city_code}")
    out = [(_pad(p2), province["name"], Level.PROVINCE, None), (_pad(c4), city["name"], Level.CITY, _pad(p2))]
    areas = [r for r in _rows("areas.csv") if r["cityCode"] == c4]
    out += [(_pad(r["code"]), r["name"], Level.DISTRICT, _pad(c4)) for r in areas]
    area_codes = {r["code"] for r in areas}
    towns = [r for r in _rows("streets.csv") if r["areaCode"] in area_codes]
    out += [(_pad(r["code"]), r["name"], Level.TOWN, _pad(r["areaCode"])) for r in towns]
    village_file = DATA_DIR / f"villages-{p2}.csv"
    if village_file.exists():
        town_codes = {r["code"] for r in towns}
        out += [
            (r["code"], r["name"], Level.VILLAGE, _pad(r["streetCode"]))
            for r in _rows(village_file.name)
            if r["streetCode"] in town_codes
        ]
    return out


def villages_available(city_code: str) -> bool:
    return (DATA_DIR / f"villages-{city_code[:2]}.csv").exists()


@transaction.atomic
def load_city(city_code: str) -> LoadResult:
    """Create or update the divisions of one city (province and city rows included).

    Re-running changes nothing unless the data changed: rows are matched by code, names
    updated with history, nothing duplicated or deleted. Returns counts per level.
    """
    result = LoadResult(villages_available=villages_available(city_code))
    existing = {d.code: d for d in Division.objects.filter(code__in=[r[0] for r in city_rows(city_code)])}
    by_code: dict[str, Division] = dict(existing)
    to_update = []
    rows = city_rows(city_code)
    for level in (Level.PROVINCE, Level.CITY, Level.DISTRICT, Level.TOWN, Level.VILLAGE):
        new = []
        for code, name, lvl, parent_code in rows:
            if lvl != level:
                continue
            town_kind = TownKind.from_code(code[:9]) if level == Level.TOWN else ""
            div = by_code.get(code)
            if div is not None:
                if div.name != name or div.town_kind != town_kind:
                    div.name, div.town_kind = name, town_kind
                    to_update.append(div)
                continue
            parent = by_code.get(parent_code) if parent_code else None
            path = (parent.path if parent else "") + short_code_for(code, level) + "/"
            div = Division(code=code, name=name, level=level, town_kind=town_kind, parent=parent,
                           path=path, depth=path.count("/"), source=SOURCE)
            new.append(div)
        if new:
            bulk_create_with_history(new, Division, batch_size=500)
            # Re-read to get primary keys on every backend (SQLite may not return them).
            for div in Division.objects.filter(code__in=[d.code for d in new]):
                by_code[div.code] = div
        result.created[level] = len(new)
    if to_update:
        bulk_update_with_history(to_update, Division, ["name", "town_kind"], batch_size=500)
    result.updated = len(to_update)
    load_population(city_code)
    return result


POPULATION_CSV = DATA_DIR / "population.csv"


def load_population(city_code: str) -> int:
    """Create the shipped population figures (``data/population.csv``, each with its
    source) of the city and its province and districts; existing figures — possibly
    corrected by an administrator — are kept. Returns how many were created."""
    from jindu.geo.models import Population

    prefix = city_code[:2]
    created = 0
    with POPULATION_CSV.open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            code = row["code"].strip()
            if not code.startswith(prefix):
                continue
            division = Division.objects.filter(code=code.ljust(12, "0")).first()
            if division is None:
                continue
            _obj, made = Population.objects.get_or_create(
                division=division, year=int(row["year"]), kind=row["kind"].strip(),
                defaults={"population": int(row["population"]), "source_doc": row["source_doc"].strip(),
                          "source_ref": row["source_ref"].strip(), "confidence": row["confidence"].strip()})
            created += made
    return created


def population_of(division: Division, year: int) -> "Population | None":
    """The figure to divide by for ``division`` in ``year``: the latest year ≤ ``year``,
    preferring year-end resident, then census resident, then registered population
    (population.md: "census for 2020, year-end resident later; store year and kind")."""
    from jindu.geo.models import Population

    order = {Population.Kind.YEAR_END_RESIDENT: 0, Population.Kind.CENSUS_RESIDENT: 1, Population.Kind.REGISTERED: 2}
    figures = list(Population.objects.filter(division=division, year__lte=year))
    if not figures:
        return None
    return min(figures, key=lambda p: (-p.year, order.get(p.kind, 9)))


# -- grids (网格) -----------------------------------------------------------------------
#
# A grid is a Division of level ``grid`` whose parent is a village; its code is
# ``<village 12-digit code>-<nn>`` (two digits, three from the hundredth grid on), given
# out by the system, never reused (deactivated grids keep theirs) and never deleted:
# later modules (persons, workforce) point at grids, and Division's foreign keys protect.

GRID_SOURCE = "本系统网格划分"
GRID_CODE_RE = re.compile(r"^(\d{12})-(\d{2,3})$")
GRID_NAME_MAX = 100
_CREATE_ATTEMPTS = 5


def clean_grid_name(name: str) -> str:
    """``name`` in its stored form (:func:`jindu.core.text.normalize_text`: invisible and
    control characters removed, spaces trimmed), so the duplicate check sees what is stored.
    Raises ``ValidationError`` (field ``name``) when empty or longer than 100 characters."""
    cleaned = normalize_text(name, multiline=False)
    if not cleaned:
        raise ValidationError({"name": _("请填写网格名称。")})
    if len(cleaned) > GRID_NAME_MAX:
        raise ValidationError({"name": _("网格名称不能超过 %(n)d 个字。") % {"n": GRID_NAME_MAX}})
    return cleaned


def check_grid_code(code: str, village: Division) -> str:
    """A grid code given by hand: ``<village code>-<nn>``, not taken by any division.

    Returns the normalised code (full-width digits and hyphens folded). Raises
    ``ValidationError`` (field ``code``) naming the expected shape or the taken code.
    """
    text = "".join(unicodedata.normalize("NFKC", code or "").split()).replace("—", "-").replace("－", "-")
    m = GRID_CODE_RE.match(text)
    if not m or m.group(1) != village.code:
        raise ValidationError(
            {"code": _("网格编码应为“村居代码-两位序号”，如 %(example)s；收到“%(value)s”。")
             % {"example": f"{village.code}-01", "value": code}}
        )
    if int(m.group(2)) == 0:
        raise ValidationError({"code": _("网格序号从 01 开始；收到“%(value)s”。") % {"value": code}})
    if Division.objects.filter(code=text).exists():
        raise ValidationError({"code": _("网格编码 %(code)s 已被使用。") % {"code": text}})
    return text


def next_grid_code(village: Division) -> str:
    """The next free code under ``village`` (one more than the highest ever given there).

    Call with the village row locked (see :func:`create_grid`), so two writers never
    compute the same number; the unique constraint on ``code`` is the last guard.
    """
    prefix = f"{village.code}-"
    highest = 0
    for code in Division.objects.filter(parent=village, code__startswith=prefix).values_list("code", flat=True):
        m = GRID_CODE_RE.match(code)
        if m:
            highest = max(highest, int(m.group(2)))
    return f"{prefix}{highest + 1:02d}"


def _village_for_grids(user: Any, village_pk: int, action: str) -> Division:
    """The village row, locked, if ``user`` may ``action`` divisions there.

    Raises ``PermissionDenied`` for a village outside the user's scope (views answer 404
    before getting here) and ``ValidationError`` when the division is not a village.
    """
    village = Division.objects.select_for_update().filter(pk=village_pk).first()
    if village is None or not Division.objects.restrict(user, action).filter(pk=village_pk).exists():
        raise PermissionDenied(_("该村居不在您的管辖范围内。"))
    if village.level != Level.VILLAGE:
        raise ValidationError({"parent": _("网格只能建在村（社区）之下，“%(name)s”是%(level)s。")
                               % {"name": village.name, "level": village.get_level_display()}})
    return village


def _name_taken(village: Division, name: str, *, exclude_pk: int | None = None) -> bool:
    qs = Division.objects.filter(parent=village, level=Level.GRID, name=name)
    if exclude_pk is not None:
        qs = qs.exclude(pk=exclude_pk)
    return qs.exists()


def _name_taken_error(village: Division, name: str) -> ValidationError:
    return ValidationError({"name": _("%(village)s已有名为“%(name)s”的网格（含已停用网格）。")
                            % {"village": village.name, "name": name}})


def create_grid(*, user: Any, village: Division, name: str, code: str | None = None) -> Division:
    """Create a grid named ``name`` under ``village``; returns the saved grid.

    ``code`` (optional) must be ``<village code>-<nn>`` and free; without it the next
    number is given out with the village row locked (``SELECT … FOR UPDATE``), so
    concurrent creates under one village get different codes; a clash that slips through
    (SQLite has no row locks) hits the unique constraint and is retried.

    Raises ``PermissionDenied`` when ``user`` may not add divisions at the village
    (``geo.add_division`` in a subtree containing it), ``ValidationError`` (fields
    ``parent``, ``name``, ``code``) for a non-village parent, an empty or duplicate name
    or a bad code. Writes one ``geo.grid_created`` audit event.
    """
    name = clean_grid_name(name)
    for attempt in range(_CREATE_ATTEMPTS):
        try:
            with transaction.atomic():
                locked = _village_for_grids(user, village.pk, ADD)
                if not locked.is_active:
                    raise ValidationError({"parent": _("该村居已停用，不能新建网格。")})
                if _name_taken(locked, name):
                    raise _name_taken_error(locked, name)
                grid_code = check_grid_code(code, locked) if code else next_grid_code(locked)
                grid = Division(code=grid_code, name=name, level=Level.GRID, parent=locked, source=GRID_SOURCE)
                grid._history_user = user
                grid.save()
                ensure_in_scope(grid, user=user, action=ADD)
                record_event(action="geo.grid_created", target=grid, actor=user,
                             changes={"village": locked.code, "code": grid_code, "name": name})
            return grid
        except IntegrityError:
            # Lost a race for the code or the name: the next attempt re-reads and either
            # takes the next number or reports the duplicate name/code.
            if attempt == _CREATE_ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def _locked_grid(user: Any, grid: Division) -> Division:
    locked = Division.objects.select_for_update().filter(pk=grid.pk, level=Level.GRID).first()
    if locked is None or not Division.objects.restrict(user, CHANGE).filter(pk=grid.pk).exists():
        raise PermissionDenied(_("该网格不在您的管辖范围内。"))
    return locked


def rename_grid(
    *, user: Any, grid: Division, name: str, reason: str = "", expected_name: str | None = None
) -> tuple[Division, bool]:
    """Give ``grid`` a new name (unique within its village); its code stays.

    ``expected_name``: the name the editor saw; when the stored name differs (someone
    renamed the grid meanwhile) the rename is refused (``ValidationError`` on ``name``)
    instead of silently replacing the newer name.

    Returns ``(grid, changed)``; an unchanged name writes nothing. Raises
    ``PermissionDenied`` outside the user's ``geo.change_division`` scope and
    ``ValidationError`` (field ``name``) for an empty or duplicate name. Writes one
    ``geo.grid_renamed`` event.
    """
    name = clean_grid_name(name)
    with transaction.atomic():
        locked = _locked_grid(user, grid)
        old = locked.name
        if expected_name is not None and normalize_text(expected_name, multiline=False) != old:
            raise ValidationError({"name": _("该网格在您打开后已被改名为“%(name)s”，未保存。请刷新后重试。")
                                   % {"name": old}})
        if old == name:
            return locked, False
        village = locked.parent
        if _name_taken(village, name, exclude_pk=locked.pk):
            raise _name_taken_error(village, name)
        locked.name = name
        locked._history_user = user
        try:
            with transaction.atomic():
                locked.save(update_fields=["name"])
        except IntegrityError:
            raise _name_taken_error(village, name) from None
        ensure_in_scope(locked, user=user, action=CHANGE)
        record_event(action="geo.grid_renamed", target=locked, actor=user,
                     changes={"name": [old, name]}, reason=reason)
    return locked, True


def set_grid_active(*, user: Any, grid: Division, active: bool, reason: str = "") -> tuple[Division, bool]:
    """Deactivate (``active=False``) or reactivate a grid; it is never deleted, so records
    that point at it keep their place. Returns ``(grid, changed)``. Raises
    ``PermissionDenied`` like :func:`rename_grid`. Writes one ``geo.grid_deactivated`` or
    ``geo.grid_reactivated`` event."""
    with transaction.atomic():
        locked = _locked_grid(user, grid)
        if locked.is_active == active:
            return locked, False
        locked.is_active = active
        locked._history_user = user
        locked.save(update_fields=["is_active"])
        ensure_in_scope(locked, user=user, action=CHANGE)
        record_event(action="geo.grid_reactivated" if active else "geo.grid_deactivated", target=locked,
                     actor=user, changes={"is_active": [not active, active]}, reason=reason)
    return locked, True


def deactivate_grid(*, user: Any, grid: Division, reason: str = "") -> tuple[Division, bool]:
    """:func:`set_grid_active` with ``active=False``."""
    return set_grid_active(user=user, grid=grid, active=False, reason=reason)


def reactivate_grid(*, user: Any, grid: Division, reason: str = "") -> tuple[Division, bool]:
    """:func:`set_grid_active` with ``active=True``."""
    return set_grid_active(user=user, grid=grid, active=True, reason=reason)


# -- population figures (人口数据) ---------------------------------------------------------
#
# Figures are reference data kept by the NCC office: each one is a published number with
# its source (population.md). Writes go through these two functions from the page and the
# import alike, so both leave the same history, audit event and scope check.

POPULATION_FIELDS = ("division", "year", "kind", "population", "source_doc", "source_ref", "confidence")


def population_fingerprint(figure) -> str:
    """What the editor saw of a stored figure (number, source, reference, confidence), so a
    save over someone else's newer edit is refused instead of silently replacing it."""
    values = (figure.division_id, figure.year, figure.kind, figure.population, figure.source_doc, figure.source_ref,
              figure.confidence)
    text = "\x1f".join(str(v) for v in values)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def duplicate_population_message(existing) -> str:
    """The Chinese refusal for a second figure of one division, year and kind."""
    return _("%(division)s %(year)s 年的%(kind)s已录入（%(population)s 人，来源：%(source)s），"
             "同一区划、年度、口径只能有一条人口数据；如需更正，请编辑已有的那一条。") % {
        "division": existing.division.name, "year": existing.year, "kind": existing.get_kind_display(),
        "population": existing.population, "source": existing.source_doc[:60],
    }


def _population_summary(p) -> dict[str, Any]:
    return {"division": p.division.code, "year": p.year, "kind": p.kind, "population": p.population,
            "source_doc": p.source_doc, "source_ref": p.source_ref, "confidence": p.confidence}


def _duplicate_population(division: Division, year: int, kind: str, *, exclude_pk: int | None = None):
    from jindu.geo.models import Population

    qs = Population.objects.filter(division=division, year=year, kind=kind).select_related("division")
    if exclude_pk is not None:
        qs = qs.exclude(pk=exclude_pk)
    existing = qs.first()
    return None if existing is None else ValidationError(duplicate_population_message(existing))


def create_population(*, user: Any, data: dict[str, Any]) -> "Population":
    """Record one population figure (``data``: keys of :data:`POPULATION_FIELDS`; ``division``
    a :class:`Division`, ``population`` a whole number of persons, ``source_doc`` required).

    Raises ``ValidationError`` (Chinese message naming the existing figure) when the
    division already has a figure of that year and kind — also when a concurrent save wins
    the race and the unique constraint ``geo_population_unique`` refuses the insert — and
    ``PermissionDenied`` when the division lies outside where ``user`` may add figures
    (``geo.add_population``). Nothing is written then. Writes one
    ``geo.population_created`` audit event and the row's history entry.
    """
    from jindu.geo.models import Population

    with transaction.atomic():
        figure = Population(**{k: data[k] for k in POPULATION_FIELDS if k in data})
        duplicate = _duplicate_population(figure.division, figure.year, figure.kind)
        if duplicate is not None:
            raise duplicate
        figure.full_clean(validate_unique=False, validate_constraints=False)
        figure._history_user = user
        try:
            with transaction.atomic():
                figure.save()
        except IntegrityError:
            raise _duplicate_population(figure.division, figure.year, figure.kind) or ValidationError(
                _("同一区划、年度、口径只能有一条人口数据。")) from None
        ensure_in_scope(figure, user=user, action=ADD)
        record_event(action="geo.population_created", target=figure, actor=user, changes=_population_summary(figure))
    return figure


def update_population(
    *, user: Any, figure: "Population", data: dict[str, Any], expected: str | None = None, reason: str = ""
) -> tuple["Population", bool]:
    """Correct a population figure: apply ``data`` (keys of :data:`POPULATION_FIELDS`).

    ``expected``: :func:`jindu.geo.forms.population_fingerprint` of the figure as the editor
    loaded it; when the stored figure differs (someone corrected it meanwhile) the save is
    refused with ``ValidationError`` instead of replacing the newer figure. ``None`` skips
    the check (imports hold the row lock themselves).

    Returns ``(figure, changed)``; an unchanged figure writes nothing. Raises
    ``PermissionDenied`` outside ``user``'s ``geo.change_population`` scope (before or after
    the edit) and ``ValidationError`` for a duplicate (division, year, kind). Writes one
    ``geo.population_updated`` event with the changed fields as ``[old, new]``.
    """
    from jindu.geo.models import Population

    with transaction.atomic():
        locked = Population.objects.select_for_update().filter(pk=figure.pk).first()
        if locked is None or not Population.objects.restrict(user, CHANGE).filter(pk=figure.pk).exists():
            raise PermissionDenied(_("该人口数据不在您的管辖范围内。"))
        if expected is not None and expected != population_fingerprint(locked):
            raise ValidationError(_("该人口数据在您打开后已被他人修改，您的修改未保存。请刷新页面查看最新内容后再编辑。"))
        changes: dict[str, list[Any]] = {}
        for name in POPULATION_FIELDS:
            if name not in data:
                continue
            value = data[name]
            old = getattr(locked, name)
            if old != value:
                changes[name] = [old.code if name == "division" else old, value.code if name == "division" else value]
                setattr(locked, name, value)
        if not changes:
            return locked, False
        duplicate = _duplicate_population(locked.division, locked.year, locked.kind, exclude_pk=locked.pk)
        if duplicate is not None:
            raise duplicate
        locked.full_clean(validate_unique=False, validate_constraints=False)
        locked._history_user = user
        try:
            with transaction.atomic():
                locked.save()
        except IntegrityError:
            raise _duplicate_population(locked.division, locked.year, locked.kind, exclude_pk=locked.pk) \
                or ValidationError(_("同一区划、年度、口径只能有一条人口数据。")) from None
        ensure_in_scope(locked, user=user, action=CHANGE)
        record_event(action="geo.population_updated", target=locked, actor=user, changes=changes, reason=reason)
    return locked, True
