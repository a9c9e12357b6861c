"""Export adapter: text cells for identity numbers and codes, numbers stay numbers,
formula-like text escaped (peer case 22), csv with BOM, the access log, and a query
count that does not grow with rows (peer case 21)."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from openpyxl import load_workbook

from jindu.core.text import normalize_text
from jindu.core.exports import (
    CODE,
    IDENTITY,
    NUMBER,
    ExportColumn,
    Exporter,
    escape_formula,
    export_to_file,
    unescape_formula,
)
from jindu.core.imports.engine import read_and_run
from jindu.core.models import AccessLog
from jindu.core.testing import division, permissions_for, user_with
from jindu.core.tests.test_imports import ID_A, ID_B, SpecimenImporter
from jindu.core.tests.testapp.models import Specimen

HYPERLINK = '=HYPERLINK("http://example.invalid","点击")'
FORMULA_LIKE = [HYPERLINK, "+1-2", "-3", "@SUM(A1)", "\tTAB", "'=already quoted"]


class SpecimenExporter(Exporter):
    name = "testapp.specimen"
    label = "样本"
    model = Specimen
    select_related = ("division",)
    personal_data = True
    columns = [
        ExportColumn("身份证号", "id_number", kind=IDENTITY),
        ExportColumn("姓名", "name"),
        ExportColumn("所属区划", "division.code", kind=CODE),
        ExportColumn("区划名称", "division.name"),
        ExportColumn("数量(千克)", "quantity_kg", kind=NUMBER),
    ]


@pytest.fixture
def user(db):
    # Holds the unmasking permission: the re-import tests need the full numbers back.
    perms = permissions_for(Specimen, ["view", "add", "change"]) + ["geo.view_division", "accounts.view_identity_number"]
    return user_with(perms, division("4601"))


def make_specimens(n: int, *, start: int = 0):
    town = division("460106001")
    Specimen.objects.bulk_create(
        [Specimen(name=f"样本{start + i}", division=town, quantity_kg=Decimal("1.250")) for i in range(n)]
    )


@pytest.mark.parametrize("text", FORMULA_LIKE + ["plain", "", "a=b", "'abc", "''=x"])
def test_escape_roundtrip(text):
    escaped = escape_formula(text)
    assert not escaped.startswith(("=", "+", "-", "@", "\t", "\r"))
    assert unescape_formula(escaped) == text


def test_xlsx_cells_are_text_or_numbers_never_formulas(user):
    town = division("460106001")
    for i, name in enumerate(FORMULA_LIKE):
        Specimen.objects.create(name=name, division=town, quantity_kg=Decimal("-3.500"), id_number=[ID_A, ID_B][i % 2]
                                if i < 2 else "")
    fh, count = export_to_file(SpecimenExporter(), user=user, fmt="xlsx")
    assert count == len(FORMULA_LIKE)
    ws = load_workbook(io.BytesIO(fh.read())).active
    rows = list(ws.iter_rows(min_row=2))
    names = {r[1].value for r in rows}
    # Stored text is normalised on save ("\tTAB" → "TAB"); the rest stays formula-like.
    assert names == {normalize_text(n, multiline=False) for n in FORMULA_LIKE}
    for r in rows:
        assert r[1].data_type == "s", r[1].value  # never "f"
        assert r[4].data_type == "n" and r[4].value == -3.5  # numeric stays numeric
        assert r[2].data_type == "s" and r[2].value == "460106001000" and r[2].number_format == "@"
    hyperlink = next(r for r in rows if r[1].value == HYPERLINK)
    assert hyperlink[1].quotePrefix
    ids = {r[0].value for r in rows if r[0].value}
    assert ids == {ID_A, ID_B}
    assert all(r[0].number_format == "@" for r in rows)


def test_csv_is_utf8_bom_and_escaped(user):
    town = division("460106001")
    for name in FORMULA_LIKE:
        Specimen.objects.create(name=name, division=town, quantity_kg=Decimal("-3.500"))
    fh, _count = export_to_file(SpecimenExporter(), user=user, fmt="csv")
    raw = fh.read()
    assert raw.startswith(b"\xef\xbb\xbf")
    text = raw.decode("utf-8-sig")
    assert "'=HYPERLINK" in text and ",'+1-2," in text and ",'-3," in text and ",'@SUM(A1)," in text
    assert ",-3.500" in text  # the numeric column is not escaped
    for line in text.splitlines()[1:]:
        for field in line.split(","):
            assert not field.startswith(("=", "+", "@")) or field == ""


@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
def test_reimport_of_export_gives_back_original_strings(user, fmt):
    """Peer case 22 and 17: exported then re-imported, every string comes back exactly and
    no record is duplicated."""
    town = division("460106001")
    names = [HYPERLINK, "+1-2", "王\U0002003e"]
    for name, idn in zip(names, [ID_A, ID_B, "110101197508123415"]):
        Specimen.objects.create(name=name, division=town, id_number=idn, quantity_kg=Decimal("2.000"))
    fh, _ = export_to_file(SpecimenExporter(), user=user, fmt=fmt)
    result = read_and_run(SpecimenImporter(), fh.read(), f"export.{fmt}", user=user, commit=True)
    assert result.ok, result.errors
    assert result.counts == {"created": 0, "updated": 0, "unchanged": 3}
    assert sorted(Specimen.objects.values_list("name", flat=True)) == sorted(names)
    # the "区划名称" column is not part of the import: ignored with a warning
    assert any("区划名称" in w for w in result.warnings)


def test_export_is_scoped_and_logged(user):
    make_specimens(3)
    Specimen.objects.create(name="秀英样本", division=division("460105001"))
    town_user = user_with(permissions_for(Specimen, ["view"]), division("460106001"))
    fh, count = export_to_file(SpecimenExporter(), user=town_user, fmt="xlsx", path="/x/")
    assert count == 3
    log = AccessLog.objects.get(kind=AccessLog.Kind.EXPORT)
    assert log.user == town_user and log.result_count == 3 and len(log.object_ids) == 3


def test_export_query_count_does_not_grow_with_rows(user):
    """Peer case 21: the same number of queries for 10 and 60 rows."""
    make_specimens(10)
    user.refresh_grants()
    with CaptureQueriesContext(connection) as small:
        export_to_file(SpecimenExporter(), user=user, fmt="xlsx")
    make_specimens(50, start=10)
    user.refresh_grants()
    with CaptureQueriesContext(connection) as large:
        fh, count = export_to_file(SpecimenExporter(), user=user, fmt="xlsx")
    assert count == 60
    assert len(large.captured_queries) == len(small.captured_queries)
