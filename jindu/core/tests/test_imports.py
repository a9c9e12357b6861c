"""Import adapter: readers, typed columns, the one validation path, duplicates, preview and
the all-or-nothing commit — with small files built by the tests (peer cases 1–7).

The import target is the test-only ``Specimen`` (identity number, division, timestamp,
Decimal quantity) through :class:`SpecimenImporter` declared below.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest
from django import forms
from django.core.files.base import ContentFile
from django.utils import timezone

from jindu.core.fields import identity_lookup
from jindu.core.idnumbers import normalize_identity_number
from jindu.core.imports import (
    CodeColumn,
    DateColumn,
    DecimalColumn,
    ForeignKeyColumn,
    IdentityNumberColumn,
    Importer,
    IntegerColumn,
    PhoneColumn,
    TextColumn,
    register,
)
from jindu.core.imports.columns import DATE_ISO, DATE_SLASH, CellError, ParseContext
from jindu.core.imports.engine import read_and_run
from jindu.core.imports.readers import EMPTY, NUMBER, TEXT, FileRejected, RawCell, decode_csv, read_table
from jindu.core.imports.services import commit_batch, create_batch, preview_batch
from jindu.core.imports.testing import make_csv, make_xlsx
from jindu.core.models import AccessLog, AuditEvent, ImportBatch
from jindu.core.scope import VIEW
from jindu.core.testing import division, permissions_for, user_with
from jindu.core.tests.testapp.models import Specimen
from jindu.geo.models import Division

ID_A = "110101199003071233"  # Person A, valid check digit
ID_B = "11010119880516105X"  # Person B, check digit X
CITY = "460100000000"


class SpecimenForm(forms.ModelForm):
    """What a manual-entry form for the test model would be."""

    class Meta:
        model = Specimen
        fields = ["name", "division", "id_number", "recorded_at", "quantity_kg"]


@register
class SpecimenImporter(Importer):
    name = "testapp.specimen"
    label = "样本"
    model = Specimen
    form_class = SpecimenForm
    key_fields = ("id_number",)
    personal_data = True
    columns = [
        IdentityNumberColumn("id_number", "身份证号", aliases=("公民身份号码",), required=True),
        TextColumn("name", "姓名"),
        ForeignKeyColumn("division", "所属区划", required=False, code_length=12,
                         queryset=lambda user: Division.objects.restrict(user, VIEW)),
        DateColumn("recorded_at", "尿检日期"),
        DecimalColumn("quantity_kg", "数量(千克)"),
    ]

    def get_form_kwargs(self, *, user, instance):
        # Rows without 所属区划 go to the city (a column absent from the file keeps the
        # form's initial value): lets the peer cases use two-column files.
        return {"initial": {"division": Division.objects.get(code=CITY).pk}} if instance.pk is None else {}

    def key_of(self, values):
        raw = values.get("id_number")
        if not raw:
            return None
        try:
            return (normalize_identity_number(raw),)
        except Exception:
            return None

    def key_lookup(self, values):
        return identity_lookup("id_number", values["id_number"])


@pytest.fixture
def user(db):
    return user_with(permissions_for(Specimen, ["view", "add", "change"]) + ["geo.view_division"], division("4601"))


def synthetic_id(first17: str) -> str:
    """A synthetic identity number with a correct check character."""
    from stdnum.cn import ric

    return first17 + ric.calc_check_digit(first17 + "0")


def run(data: bytes, name: str, user, *, commit: bool = False):
    return read_and_run(SpecimenImporter(), data, name, user=user, commit=commit)


def messages(result) -> list[str]:
    return [f"{e['row']}|{e['column']}|{e['message']}" for e in result.errors]


# -- readers ------------------------------------------------------------------------------


def test_csv_utf8_bom_header_recognised(user):
    """Peer case 3: the BOM is not part of the first header."""
    data = b"\xef\xbb\xbf" + "身份证号,姓名\n110101199003071233,张测试\n".encode()
    result = run(data, "a.csv", user, commit=True)
    assert result.ok, messages(result)
    assert result.counts["created"] == 1
    s = Specimen.objects.get(name="张测试")
    assert s.id_number == ID_A


def test_csv_gbk_without_bom(user):
    """Peer case 4: the same csv saved as GBK maps its headers and imports."""
    data = make_csv([["身份证号", "姓名"], [ID_A, "张测试"]], encoding="gbk")
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    result = run(data, "gbk.csv", user, commit=True)
    assert result.ok, messages(result)
    assert Specimen.objects.filter(name="张测试").count() == 1


def test_csv_gb18030_rare_character(user):
    """Peer case 4: 王𠀾 (U+2003E) exists only in GB18030, and is stored exactly."""
    name = "王\U0002003e"
    with pytest.raises(UnicodeEncodeError):
        name.encode("gbk")
    data = make_csv([["身份证号", "姓名"], [ID_B, name]], encoding="gb18030")
    result = run(data, "gb18030.csv", user, commit=True)
    assert result.ok, messages(result)
    stored = Specimen.objects.get(id_number_digest=identity_lookup("id_number", ID_B)["id_number_digest"])
    assert [hex(ord(c)) for c in stored.name] == ["0x738b", "0x2003e"]


@pytest.mark.parametrize("data", [
    b"\xff\xfe" + "身份证号,姓名\n".encode("utf-16-le"),  # UTF-16
    "身份证号,姓名\n".encode("gbk") + b"\x80\xff\n",  # bytes valid in no encoding we read
    "Name,Caf\xe9 cr\xe8me\n".encode("latin-1"),  # Latin-1 that GB18030 would read as mojibake
])
def test_csv_in_other_encodings_refused(user, data):
    """Peer case 4: never imported as mojibake — an encoding error, nothing written."""
    result = run(data, "bad.csv", user, commit=True)
    assert not result.ok
    assert result.errors[0]["row"] is None
    assert "编码" in result.errors[0]["message"]
    assert Specimen.objects.count() == 0


def test_decode_csv_prefers_utf8():
    assert decode_csv("王\U0002003e".encode()) == "王\U0002003e"
    assert decode_csv("\ufeff身份证号".encode()) == "身份证号"
    assert decode_csv("身份证号".encode("gb18030")) == "身份证号"


def test_xls_and_junk_refused():
    with pytest.raises(FileRejected, match="xls"):
        read_table(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100, "old.xls")
    with pytest.raises(FileRejected):
        read_table(b"not a zip", "broken.xlsx")


def test_merged_cells_refused_with_range(user):
    """Peer case 5: a street merged over A2:A4 is refused naming the range."""
    data = make_xlsx(
        [["所属区划", "身份证号", "姓名"], ["460106001000", ID_A, "张测试"], [None, ID_B, "李样例"],
         [None, "110101197508123415", "王测试"]],
        merges=["A2:A4"], text_columns=[1, 2],
    )
    result = run(data, "merged.xlsx", user, commit=True)
    assert not result.ok
    assert "合并单元格 A2:A4" in result.errors[0]["message"]
    assert Specimen.objects.count() == 0


def test_headers_tolerate_spaces_fullwidth_and_star(user):
    data = make_csv([[" 身份证号*", "\u3000姓名\u3000", "尿检 日期"], [ID_A, "张测试", "2024-03-05"]])
    result = run(data, "h.csv", user)
    assert result.ok, messages(result)
    assert result.columns == ["身份证号", "姓名", "尿检日期"]


def test_header_alias(user):
    result = run(make_csv([["公民身份号码", "姓名"], [ID_A, "张测试"]]), "alias.csv", user)
    assert result.ok, messages(result)


def test_missing_required_column_is_one_clear_error(user):
    result = run(make_csv([["姓名", "备注"], ["张测试", "x"]]), "missing.csv", user)
    assert not result.ok
    assert len(result.errors) == 1
    assert "缺少必填列：身份证号" in result.errors[0]["message"]
    assert result.errors[0]["row"] == 1


def test_unknown_columns_are_ignored_with_a_warning(user):
    result = run(make_csv([["身份证号", "姓名", "备注"], [ID_A, "张测试", "x"]]), "extra.csv", user)
    assert result.ok
    assert any("备注" in w for w in result.warnings)


def test_empty_trailing_rows_ignored(user):
    data = make_xlsx([["身份证号", "姓名"], [ID_A, "张测试"], [None, None], ["", " "]], text_columns=[1])
    result = run(data, "trailing.xlsx", user)
    assert result.ok, messages(result)
    assert result.total_rows == 1
    csv_data = "身份证号,姓名\n110101199003071233,张测试\n,\n\n,\n".encode()
    assert run(csv_data, "trailing.csv", user).total_rows == 1


# -- columns ------------------------------------------------------------------------------


def test_numeric_identity_cell_refused_naming_row_and_column(user):
    """DESIGN.md "Input": precision is already lost in a numeric cell."""
    data = make_xlsx([["身份证号", "姓名"], [ID_A, "张测试"], [110101199003071233, "李样例"]], formats={"A2": "@"})
    result = run(data, "numeric-id.xlsx", user, commit=True)
    assert not result.ok
    assert len(result.errors) == 1
    err = result.errors[0]
    assert err["row"] == 3 and err["column"] == "身份证号"
    assert "文本" in err["message"]
    assert ID_A not in err["message"]
    assert Specimen.objects.count() == 0


def cell(value, kind=NUMBER, fmt="General"):
    return RawCell(value, kind, fmt, "A2")


def test_phone_numeric_cell_never_gets_dot_zero():
    """Peer case 1: 13900001111 as a numeric cell (int or float) → "13900001111"."""
    col = PhoneColumn("phone", "联系电话")
    ctx = ParseContext()
    assert col.parse(cell(13900001111), ctx) == "13900001111"
    assert col.parse(cell(13900001111.0), ctx) == "13900001111"
    with pytest.raises(CellError):
        col.parse(cell(1.39e10 + 0.5), ctx)
    assert col.parse(cell(" 0898-66778899 ", TEXT), ctx) == "0898-66778899"
    # Whether text is a phone number is the form's decision (PhoneNumberField), not the column's.
    assert col.parse(cell("电话见备注", TEXT), ctx) == "电话见备注"


def test_code_numeric_cell_with_zero_pad_format_read_as_shown():
    """Peer case 1, decided: 231 shown with format ``0000`` is read as "0231" (what the
    user sees); the same number in General format is refused asking for text format."""
    col = CodeColumn("code", "社区编码")
    ctx = ParseContext()
    assert col.parse(cell(231, fmt="0000"), ctx) == "0231"
    with pytest.raises(CellError, match="文本"):
        col.parse(cell(231), ctx)
    with pytest.raises(CellError, match="文本"):
        col.parse(cell(231.5, fmt="0000"), ctx)
    assert col.parse(cell("0231", TEXT), ctx) == "0231"
    assert col.parse(cell("０２３１", TEXT), ctx) == "0231"  # full-width digits
    fixed = CodeColumn("code", "区划代码", length=12)
    assert fixed.parse(cell(460106001000), ctx) == "460106001000"
    with pytest.raises(CellError):
        fixed.parse(cell(46010600100), ctx)  # 11 digits: a leading zero may be lost
    with pytest.raises(CellError):
        fixed.parse(cell(1.2345678901234567e17), ctx)  # beyond 15 digits


def test_code_from_real_xlsx_cell_with_number_format():
    data = make_xlsx([["社区编码", "联系电话"], [231, 13900001111], [231, None]], formats={"A2": "0000"})
    table = read_table(data, "codes.xlsx")
    col = CodeColumn("code", "社区编码")
    assert col.parse(table.rows[0][1][0], ParseContext()) == "0231"
    with pytest.raises(CellError):
        col.parse(table.rows[1][1][0], ParseContext())
    assert PhoneColumn("p", "联系电话").parse(table.rows[0][1][1], ParseContext()) == "13900001111"


def test_decimal_is_exact_never_float():
    col = DecimalColumn("q", "数量")
    ctx = ParseContext()
    assert col.parse(cell(0.1), ctx) == Decimal("0.1")
    assert str(col.parse(cell(1.005), ctx)) == "1.005"
    assert col.parse(cell(12), ctx) == Decimal(12)
    assert col.parse(cell("1,234.500", TEXT), ctx) == Decimal("1234.500")
    with pytest.raises(CellError):
        col.parse(cell("约3千克", TEXT), ctx)
    with pytest.raises(CellError):
        col.parse(cell("NaN", TEXT), ctx)


def test_integer_column():
    col = IntegerColumn("n", "人数")
    ctx = ParseContext()
    assert col.parse(cell(12.0), ctx) == 12
    assert col.parse(cell("1,200", TEXT), ctx) == 1200
    with pytest.raises(CellError):
        col.parse(cell(1.5), ctx)
    with pytest.raises(CellError):
        col.parse(cell("12人", TEXT), ctx)
    assert col.parse(cell(None, EMPTY), ctx) is None


def test_error_cell_refused():
    with pytest.raises(CellError, match="#N/A"):
        TextColumn("n", "姓名").parse(RawCell("#N/A", "error", "", "A2"), ParseContext())


def test_dates_four_ways(user):
    """Peer case 2: a date cell, "2024/3/5", "2024年3月5日" and the serial 45356 are all
    2024-03-05; "2024-02-30" rejects that row only."""
    ids = [ID_A, ID_B, "110101197508123415", synthetic_id("11010519491231002"), synthetic_id("11010120000101001")]
    data = make_xlsx([
        ["身份证号", "姓名", "尿检日期"],
        [ids[0], "甲", date(2024, 3, 5)],
        [ids[1], "乙", "2024/3/5"],
        [ids[2], "丙", "2024年3月5日"],
        [ids[3], "丁", 45356],
        [ids[4], "戊", "2024-02-30"],
    ], text_columns=[1])
    result = run(data, "dates.xlsx", user)
    assert [(e["row"], e["column"]) for e in result.errors] == [(6, "尿检日期")]
    assert "不存在" in result.errors[0]["message"]
    assert result.counts["created"] == 4  # the other rows are valid
    assert [r["cells"][2] for r in result.preview[:4]] == ["2024-03-05"] * 4
    assert result.preview[4]["action"] == "error" and result.preview[4]["cells"][2] == "2024-02-30"

    # without the impossible date the file commits, every date the same local day
    data = make_xlsx([
        ["身份证号", "姓名", "尿检日期"],
        [ids[0], "甲", date(2024, 3, 5)], [ids[1], "乙", "2024/3/5"], [ids[2], "丙", "2024年3月5日"],
        [ids[3], "丁", 45356],
    ], text_columns=[1])
    result = run(data, "dates.xlsx", user, commit=True)
    assert result.ok, messages(result)
    assert {timezone.localtime(s.recorded_at).date() for s in Specimen.objects.all()} == {date(2024, 3, 5)}


def test_ambiguous_day_month_dates_refused(user):
    """Peer case 7: "15/04/2023" and "02/05/2023" are refused with the expected formats;
    "2024-11-06" is always 6 November."""
    data = make_csv([
        ["身份证号", "姓名", "尿检日期"],
        [ID_A, "甲", "15/04/2023"],
        [ID_B, "乙", "02/05/2023"],
        ["110101197508123415", "丙", "2024-11-06"],
    ])
    result = run(data, "dmy.csv", user)
    assert [e["row"] for e in result.errors] == [2, 3]
    for e in result.errors:
        assert "日期格式不符" in e["message"] and "YYYY-MM-DD" in e["message"]
    assert result.preview[2]["cells"][2] == "2024-11-06"
    col = DateColumn("d", "入所日期", formats=[DATE_ISO])
    assert col.parse(cell("2024-11-06", TEXT), ParseContext()) == date(2024, 11, 6)
    with pytest.raises(CellError, match="YYYY-MM-DD"):
        col.parse(cell("2024/11/06", TEXT), ParseContext())  # declared format enforced
    slash = DateColumn("d", "入所日期", formats=[DATE_SLASH])
    assert slash.parse(cell("2024/11/6", TEXT), ParseContext()) == date(2024, 11, 6)
    assert col.parse(cell(datetime(2024, 11, 6, 0, 0), "date"), ParseContext()) == date(2024, 11, 6)


# -- the form, duplicates, commit -----------------------------------------------------


def test_rows_are_validated_by_the_form(user):
    """One validation path: a bad identity number fails in the model form's field."""
    data = make_csv([["身份证号", "姓名"], ["110101199003071232", "坏校验位"], [ID_A, ""]])
    result = run(data, "form.csv", user)
    rows = {(e["row"], e["column"]) for e in result.errors}
    assert rows == {(2, "身份证号"), (3, "姓名")}
    assert all("110101199003071232" not in e["message"] for e in result.errors)


def test_in_file_duplicates_flag_every_row_and_commit_nothing(user):
    """Peer case 6: both rows with one ID are flagged; nothing committed; no "2 created"."""
    data = make_csv([
        ["身份证号", "姓名"], [ID_A, "张测试"], [ID_B, "李样例"], [ID_A.lower(), "张测式"],
    ])
    result = run(data, "dup.csv", user, commit=True)
    flagged = {e["row"]: e["message"] for e in result.errors}
    assert set(flagged) == {2, 4}
    assert "第 4 行" in flagged[2] and "第 2 行" in flagged[4]
    assert not result.committed
    assert Specimen.objects.count() == 0
    assert result.counts["created"] == 1  # only 李样例 would be created


def test_all_or_nothing_one_bad_row_writes_nothing(user):
    data = make_csv([["身份证号", "姓名", "数量(千克)"], [ID_A, "甲", "1.5"], [ID_B, "乙", "很多"]])
    result = run(data, "bad.csv", user, commit=True)
    assert not result.committed
    assert [(e["row"], e["column"]) for e in result.errors] == [(3, "数量(千克)")]
    assert Specimen.objects.count() == 0


def test_preview_writes_nothing_and_commit_creates_updates_unchanged(user):
    data = make_csv([["身份证号", "姓名", "数量(千克)"], [ID_A, "甲", "1.500"], [ID_B, "乙", "2"]])
    preview = run(data, "p.csv", user)
    assert preview.ok and preview.counts == {"created": 2, "updated": 0, "unchanged": 0}
    assert Specimen.objects.count() == 0
    assert run(data, "p.csv", user, commit=True).counts["created"] == 2
    a = Specimen.objects.get(name="甲")
    assert a.quantity_kg == Decimal("1.500") and a.version == 1

    again = make_csv([["身份证号", "姓名", "数量(千克)"], [ID_A, "甲", "1.5"], [ID_B.lower(), "乙改", "2"]])
    result = run(again, "p2.csv", user, commit=True)
    assert result.ok, messages(result)
    assert result.counts == {"created": 0, "updated": 1, "unchanged": 1}
    assert Specimen.objects.count() == 2
    b = Specimen.objects.get(name="乙改")
    assert b.version == 2
    assert b.history.count() == 2


def test_out_of_scope_rows_fail_the_commit(db):
    """A town user's file placing a row in another district fails that row; nothing written."""
    town_user = user_with(permissions_for(Specimen, ["view", "add", "change"]) + ["geo.view_division"],
                          division("460106001"))
    data = make_csv([
        ["身份证号", "姓名", "所属区划"],
        [ID_A, "甲", "460106001000"],
        [ID_B, "乙", "460105000000"],  # 秀英区: not visible to the user
        ["110101197508123415", "丙", ""],  # empty: the form's initial (the city) — out of scope
    ])
    result = run(data, "scope.csv", town_user, commit=True)
    assert {e["row"] for e in result.errors} == {3, 4}
    assert not result.committed
    assert Specimen.objects.count() == 0


def test_batch_commit_writes_access_log_and_audit_event(user):
    data = make_csv([["身份证号", "姓名"], [ID_A, "甲"], [ID_B, "乙"]])
    batch = create_batch(importer=SpecimenImporter(), user=user, name="名单.csv", content=data)
    assert batch.status == ImportBatch.Status.UPLOADED and batch.total_rows == 2
    assert len(batch.sha256) == 64
    preview_batch(batch, user=user)
    assert batch.status == ImportBatch.Status.PREVIEWED
    assert Specimen.objects.count() == 0
    assert not AccessLog.objects.filter(kind="import").exists()

    commit_batch(batch, user=user)
    assert batch.status == ImportBatch.Status.COMMITTED
    assert batch.summary["counts"] == {"created": 2, "updated": 0, "unchanged": 0}
    log = AccessLog.objects.get(kind=AccessLog.Kind.IMPORT)
    assert log.user == user and log.result_count == 2
    assert sorted(log.object_ids) == sorted(str(pk) for pk in Specimen.objects.values_list("pk", flat=True))
    event = AuditEvent.objects.get(action="core.import_committed")
    assert event.actor == user and event.changes["created"] == 2
    assert ID_A not in str(event.changes) and ID_A not in str(batch.summary)
    # the preview shows identity numbers masked
    assert batch.summary["preview"][0]["cells"][0] == "110101********1233"

    # a batch commits once
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        commit_batch(batch, user=user)


def test_commit_revalidates_against_current_data(db):
    """A row valid at preview that fails at commit (the database changed meanwhile: the
    number was registered outside the importer's scope) rejects the whole batch; nothing is
    written."""
    town_user = user_with(permissions_for(Specimen, ["view", "add", "change"]) + ["geo.view_division"],
                          division("460106"))
    data = make_csv([["身份证号", "姓名", "所属区划"], [ID_A, "甲", "460106001000"], [ID_B, "乙", "460106002000"]])
    batch = create_batch(importer=SpecimenImporter(), user=town_user, name="a.csv", content=data)
    preview_batch(batch, user=town_user)
    assert batch.status == ImportBatch.Status.PREVIEWED
    Specimen.objects.create(name="别处", division=division("460105"), id_number=ID_B)
    commit_batch(batch, user=town_user)
    assert batch.status == ImportBatch.Status.REJECTED
    assert [e["row"] for e in batch.errors] == [3]
    assert Specimen.objects.count() == 1


def test_commit_without_the_previews_rows_reads_the_stored_file(user):
    """A batch whose recorded rows are gone (previewed before they were kept) is committed
    from its stored file, read and validated again: here the file on record was replaced
    after the preview, and its broken row rejects the batch."""
    data = make_csv([["身份证号", "姓名", "所属区划"], [ID_A, "甲", "460106001000"], [ID_B, "乙", "460106002000"]])
    batch = create_batch(importer=SpecimenImporter(), user=user, name="a.csv", content=data)
    preview_batch(batch, user=user)
    assert batch.status == ImportBatch.Status.PREVIEWED
    batch.rows_file.delete(save=True)
    broken = make_csv([["身份证号", "姓名", "所属区划"], [ID_A, "甲", "460106001000"], [ID_B, "乙", "999"]])
    batch.file.save("a.csv", ContentFile(broken), save=True)
    commit_batch(batch, user=user)
    assert batch.status == ImportBatch.Status.REJECTED
    assert [e["row"] for e in batch.errors] == [3]
    assert Specimen.objects.count() == 0


def test_only_uploader_may_commit(user):
    from django.core.exceptions import PermissionDenied

    other = user_with(permissions_for(Specimen, ["view", "add", "change"]), division("4601"))
    batch = create_batch(importer=SpecimenImporter(), user=user, name="a.csv",
                         content=make_csv([["身份证号", "姓名"], [ID_A, "甲"]]))
    preview_batch(batch, user=user)
    with pytest.raises(PermissionDenied):
        commit_batch(batch, user=other)
    assert Specimen.objects.count() == 0
