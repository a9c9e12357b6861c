"""Helpers for tests of importers: small xlsx/csv files built in memory.

``make_xlsx([["单位名称", "联系电话"], ["甲", 13900001111]], formats={"B2": "0000"},
merges=["A2:A4"])`` gives xlsx bytes with real numeric/date cells, number formats and
merged ranges; ``make_csv(rows, encoding="gbk", bom=False)`` gives csv bytes.
"""

from __future__ import annotations

import csv
import io
from typing import Any, Iterable, Sequence


def make_xlsx(
    rows: Sequence[Sequence[Any]],
    *,
    formats: dict[str, str] | None = None,
    merges: Iterable[str] = (),
    text_columns: Iterable[int] = (),
) -> bytes:
    """An xlsx workbook whose first sheet holds ``rows`` (Python values become typed cells:
    ``int``/``float``/``Decimal`` numeric, ``date``/``datetime`` date cells, ``str`` text —
    a ``str`` starting with ``=`` is stored as text, not a formula). ``formats`` maps
    coordinates to number formats; ``text_columns`` (1-based) get format ``@``."""
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    text_cols = set(text_columns)
    for r, row in enumerate(rows, start=1):
        for c, value in enumerate(row, start=1):
            if value is None:
                continue
            cell = ws.cell(row=r, column=c, value=value)
            if isinstance(value, str) and value.startswith("="):
                cell.data_type = "s"
            if c in text_cols:
                cell.number_format = "@"
    for coord, fmt in (formats or {}).items():
        ws[coord].number_format = fmt
    for rng in merges:
        ws.merge_cells(rng)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def make_csv(rows: Sequence[Sequence[Any]], *, encoding: str = "utf-8", bom: bool = False) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    data = buffer.getvalue().encode(encoding)
    return (b"\xef\xbb\xbf" + data) if bom else data
