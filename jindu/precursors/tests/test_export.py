"""Exports of enterprises, licences and ledgers: scope, filters, codes as text, exact
quantities, formula escaping, access log for contact data, and files that the importers
read back (their headers are the import templates')."""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.exceptions import BadRequest
from openpyxl import load_workbook

from jindu.core.exports import export_to_file
from jindu.core.imports import get_importer
from jindu.core.imports.engine import read_and_run
from jindu.core.models import AccessLog
from jindu.core.testing import division, grant, make_user
from jindu.precursors.choices import Direction, EnterpriseKind, LicenceKind
from jindu.precursors.exporters import EnterpriseExporter, LedgerExporter, LicenceExporter
from jindu.precursors.tests.factories import EnterpriseFactory, LicenceFactory, entry, licence_line

DATA = Path(__file__).parent / "data"
E1_CODE, E2_CODE = "914601060000000190", "91460106000000027T"


@pytest.fixture
def world(db):
    e1 = EnterpriseFactory(name="海口龙华化工贸易有限公司", credit_code=E1_CODE, division=division("460106001"),
                           contact_name="王某", contact_phone="13900001111")
    e2 = EnterpriseFactory(name="=HYPERLINK(\"x\")美安", credit_code=E2_CODE, kind=EnterpriseKind.USER,
                           division=division("460106001"))
    far = EnterpriseFactory(name="秀英港务化工有限公司", division=division("460105001"))
    regulator = make_user()
    grant(regulator, "regulator", division("460106"))
    return e1, e2, far, regulator


def csv_rows(exporter, user, params=None) -> list[list[str]]:
    fh, _count = export_to_file(exporter, user=user, fmt="csv", params=params)
    return list(csv.reader(io.StringIO(fh.read().decode("utf-8-sig"))))


def test_enterprise_export_is_scoped_filtered_and_logged(world):
    e1, e2, far, regulator = world
    rows = csv_rows(EnterpriseExporter(), regulator)
    header, body = rows[0], rows[1:]
    assert header[:3] == ["企业名称", "统一社会信用代码", "组织机构代码/注册号"]
    names = [r[0] for r in body]
    assert "秀英港务化工有限公司" not in names and "海口龙华化工贸易有限公司" in names
    assert "'=HYPERLINK(\"x\")美安" in names  # never a formula in a spreadsheet
    assert AccessLog.objects.filter(kind=AccessLog.Kind.EXPORT).count() == 1
    only_users = csv_rows(EnterpriseExporter(), regulator, {"kind": EnterpriseKind.USER})
    assert [r[1] for r in only_users[1:]] == [E2_CODE]
    with pytest.raises(BadRequest):
        EnterpriseExporter().get_queryset(regulator, {"kind": "nonsense"})


def test_enterprise_xlsx_keeps_codes_as_text(world):
    e1, _e2, _far, regulator = world
    fh, count = export_to_file(EnterpriseExporter(), user=regulator, fmt="xlsx")
    ws = load_workbook(io.BytesIO(fh.read())).worksheets[0]
    header = [c.value for c in ws[1]]
    row = next(r for r in ws.iter_rows(min_row=2) if r[0].value == e1.name)
    code = row[header.index("统一社会信用代码")]
    phone = row[header.index("联系电话")]
    assert code.value == E1_CODE and code.data_type == "s" and code.number_format == "@"
    assert phone.value == "13900001111" and phone.data_type == "s"
    assert count == 2


def test_ledger_export_exact_quantities_and_enterprise_scope(world):
    e1, e2, far, regulator = world
    entry(e1, "硫酸", Direction.IN, "1000.125", document_number="RK-1", chemical_raw="濃硫酸")
    entry(e1, "硫酸", Direction.OUT, "0.005", document_number="CK-1")
    entry(far, "丙酮", Direction.IN, "5")
    rows = csv_rows(LedgerExporter(), regulator)
    header, body = rows[0], rows[1:]
    assert len(body) == 2
    kg = header.index("数量（千克）")
    assert [r[kg] for r in body] == ["1000.125", "0.005"]
    assert body[0][header.index("品种（原文）")] == "濃硫酸"
    assert body[1][header.index("结存（千克）")] == "1000.120"
    # An enterprise account sees its own ledger only.
    user = make_user()
    grant(user, "enterprise", division("460106"))
    e2.account_users.add(user)
    entry(e2, "丙酮", Direction.IN, "7")
    own = csv_rows(LedgerExporter(), user)
    assert [r[header.index("企业")] for r in own[1:]] == [E2_CODE]
    assert csv_rows(LedgerExporter(), regulator, {"enterprise": str(e2.pk), "direction": "in"})[1:][0][
        header.index("数量（千克）")] == "7.000"
    with pytest.raises(BadRequest):
        LedgerExporter().get_queryset(regulator, {"date_from": "2025-03-09", "date_to": "2025-03-01"})


def test_exported_ledger_reads_back_into_the_importer(world):
    e1, _e2, _far, regulator = world
    imported = read_and_run(get_importer("precursors.ledger"), (DATA / "ledger_clean.csv").read_bytes(),
                            "ledger_clean.csv", user=regulator, commit=True)
    assert imported.committed, imported.errors
    fh, count = export_to_file(LedgerExporter(), user=regulator, fmt="xlsx", params={"enterprise": str(e1.pk)})
    assert count == 9
    # Read back: every column maps (extra ones are ignored with a warning), and since the
    # movements are on file already each row is refused as a repeat, nothing doubled.
    again = read_and_run(get_importer("precursors.ledger"), fh.read(), "export.xlsx", user=regulator, commit=False)
    assert again.error_rows == 9
    assert all("已在台账中" in e["message"] for e in again.errors)
    assert any("已忽略" in w for w in again.warnings)


def test_licence_export_one_row_per_chemical_and_reads_back(world):
    e1, _e2, far, regulator = world
    licence = LicenceFactory(enterprise=e1, kind=LicenceKind.PURCHASE_FILING, number="琼公（易）购备字〔2025〕001号",
                             number_raw="琼公(易)购备字(2025)001号", issuer_raw="海口市公安局")
    licence_line(licence, "盐酸", Decimal("300"))
    licence_line(licence, "硫酸")
    licence_line(LicenceFactory(enterprise=far), "丙酮")
    rows = csv_rows(LicenceExporter(), regulator)
    header, body = rows[0], rows[1:]
    assert len(body) == 2
    by_chemical = {r[header.index("品种")]: r for r in body}
    assert by_chemical["盐酸"][header.index("限量（千克）")] == "300.000"
    assert by_chemical["硫酸"][header.index("限量（千克）")] == ""
    assert by_chemical["盐酸"][header.index("证照编号（原文）")] == "琼公(易)购备字(2025)001号"
    assert csv_rows(LicenceExporter(), regulator, {"kind": LicenceKind.TRADE_FILING})[1:] == []
    with pytest.raises(BadRequest):
        LicenceExporter().get_queryset(regulator, {"enterprise": "x"})
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    again = read_and_run(get_importer("precursors.licence"), buffer.getvalue().encode("utf-8"), "licences.csv",
                         user=regulator, commit=False)
    errors = {e["row"]: e["message"] for e in again.errors}
    # Already on file: the licence's first row says so, its second row points to the first.
    assert set(errors) == {2, 3} and "已登记" in errors[2] and "首行有错误" in errors[3]
