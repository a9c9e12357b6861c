"""Loading the statistical division tree from the shipped NBS data (idempotent)."""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

from django.db import transaction
from simple_history.utils import bulk_create_with_history, bulk_update_with_history

from jindu.geo.choices import Level, TownKind
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
    return result
