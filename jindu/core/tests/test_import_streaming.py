"""The import engine streams: rows are read, validated and written as they come from the
file, never all held at once; in-file duplicates are still all refused, each naming the
others; bulk importers get their rows in lists (preview outside any transaction, commit
inside one); a file that breaks half-way is refused whole; errors are capped and in row
order; the reader's estimate, spool and header handling."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone
from openpyxl import Workbook

from jindu.core.imports import engine, readers, services
from jindu.core.imports.engine import MAX_ERRORS, read_and_run, run_import
from jindu.core.imports.readers import EMPTY, NUMBER, TEXT, RawCell, SheetStream, open_table, read_table, spool
from jindu.core.imports.services import create_batch
from jindu.core.imports.testing import make_csv, make_xlsx
from jindu.core.testing import division, permissions_for, user_with
from jindu.core.tests.test_imports import ID_A, ID_B, SpecimenImporter, synthetic_id
from jindu.core.tests.testapp.models import Specimen


@pytest.fixture
def user(db):
    return user_with(permissions_for(Specimen, ["view", "add", "change"]) + ["geo.view_division"], division("4601"))


def ids(n: int) -> list[str]:
    """``n`` distinct valid identity numbers (up to 10,080)."""
    return [synthetic_id(f"4601061990{1 + i // 840:02d}{1 + i // 30 % 28:02d}{i % 30:03d}") for i in range(n)]


def lazy_table(rows: list[list[str]], produced: list[int]) -> SheetStream:
    """A stream over ``rows`` (header first) counting in ``produced[0]`` the rows handed out."""

    def generate():
        for number, values in enumerate(rows[1:], start=2):
            produced[0] += 1
            yield number, [RawCell(v, TEXT if v else EMPTY, "", f"{readers.column_letter(i)}{number}")
                           for i, v in enumerate(values)]

    return SheetStream(readers.CSV, rows[0], 1, generate, estimated_rows=len(rows) - 1)


class CountingImporter(SpecimenImporter):
    """Records, at each row written, how far the reader had got ahead of the writes."""

    def __init__(self, produced):
        self.produced = produced
        self.saved = 0
        self.ahead: list[int] = []

    def save(self, form, *, user, created):
        self.saved += 1
        self.ahead.append(self.produced[0] - self.saved)
        return super().save(form, user=user, created=created)


@pytest.mark.parametrize("commit", [False, True])
def test_rows_are_written_as_they_are_read(user, monkeypatch, commit):
    """A 600-row file is never read more than a chunk ahead of what is being written."""
    monkeypatch.setattr(engine, "PREVIEW_CHUNK", 50)
    monkeypatch.setattr(engine, "PREVIEW_SQLITE_PAUSE_S", 0)
    rows = [["身份证号", "姓名"]] + [[n, f"人{i}"] for i, n in enumerate(ids(600))]
    produced = [0]
    importer = CountingImporter(produced)
    result = run_import(importer, lazy_table(rows, produced), user=user, commit=commit)
    assert result.ok and result.counts["created"] == 600 and result.total_rows == 600
    assert importer.saved == 600
    # commit: one row at a time; preview: a chunk and the next one read ahead.
    assert max(importer.ahead) <= (0 if commit else 2 * 50)
    assert Specimen.objects.count() == (600 if commit else 0)


def test_every_row_of_a_duplicate_group_names_the_others(user):
    """Three rows with one identity number (one written with a lower-case x) are all refused,
    each naming the other two, even though the first was processed before the others were
    read; the rows between are unaffected and the errors come out in row order."""
    x_id = synthetic_id("11010119880516105")
    assert x_id.endswith("X")
    data = make_csv([
        ["身份证号", "姓名", "数量(千克)"],
        [x_id, "甲", "1"],         # 2
        [ID_A, "乙", "很多"],      # 3: its own error
        [x_id.lower(), "丙", "2"],  # 4
        [ids(1)[0], "丁", "3"],    # 5
        [x_id, "戊", "4"],         # 6
    ])
    for commit in (False, True):
        result = read_and_run(SpecimenImporter(), data, "d.csv", user=user, commit=commit)
        found = [(e["row"], e["message"]) for e in result.errors]
        assert [r for r, _m in found] == [2, 3, 4, 6]
        assert "与第 4、6 行重复" in found[0][1] and "与第 2、6 行重复" in found[2][1] and "与第 2、4 行重复" in found[3][1]
        assert result.counts == {"created": 1, "updated": 0, "unchanged": 0}  # 丁 only
        assert result.error_rows == 4 and result.errors_total == 4
        assert [p["action"] for p in result.preview] == ["error", "error", "error", "created", "error"]
        assert not result.committed
    assert Specimen.objects.count() == 0


class BulkSpecimenImporter(SpecimenImporter):
    """A bulk importer that writes through the row-by-row path, recording its batches:
    (rows, commit, atomic blocks open around the call)."""

    bulk_rows = 4

    def __init__(self):
        self.calls: list[tuple[int, bool, int]] = []

    def process_rows(self, rows, *, user, commit, fallback):
        self.calls.append((len(rows), commit, len(connection.savepoint_ids)))
        return [fallback(row) for row in rows]


def test_bulk_importers_get_lists_and_give_the_same_answers(user):
    numbers = ids(9)
    rows = [["身份证号", "姓名", "数量(千克)"]] + [[n, f"人{i}", "1"] for i, n in enumerate(numbers)]
    rows[3][2] = "很多"   # row 4: cell error, never handed to process_rows
    rows[6][0] = numbers[0]  # row 7 repeats row 2
    data = make_csv(rows)
    plain = read_and_run(SpecimenImporter(), data, "b.csv", user=user, commit=False)

    importer = BulkSpecimenImporter()
    preview = read_and_run(importer, data, "b.csv", user=user, commit=False)
    assert [(e["row"], e["column"], e["message"]) for e in preview.errors] == \
        [(e["row"], e["column"], e["message"]) for e in plain.errors]
    assert preview.counts == plain.counts == {"created": 6, "updated": 0, "unchanged": 0}
    assert preview.preview == plain.preview
    # the chunks of 4 rows lose the refused rows 4 and 7; the preview opens no transaction
    outside = len(connection.savepoint_ids)  # the test's own
    assert importer.calls == [(3, False, outside), (3, False, outside), (1, False, outside)]
    assert Specimen.objects.count() == 0

    rows[6][0] = ids(10)[9]
    rows[3][2] = "2"
    importer = BulkSpecimenImporter()
    result = read_and_run(importer, make_csv(rows), "b.csv", user=user, commit=True)
    assert result.committed and result.counts["created"] == 9
    assert importer.calls == [(4, True, outside + 1), (4, True, outside + 1), (1, True, outside + 1)]
    assert sorted(result.object_ids) == sorted(Specimen.objects.values_list("pk", flat=True))


def test_csv_broken_half_way_is_refused_whole(user):
    """A csv whose syntax breaks after some good rows (a field over the csv module's limit)
    writes nothing and says why, as a file-level error."""
    good = [[n, f"人{i}"] for i, n in enumerate(ids(3))]
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows([["身份证号", "姓名"], *good, [ID_A, "长" * 200_000]])
    data = buffer.getvalue().encode()
    for commit in (False, True):
        result = read_and_run(SpecimenImporter(), data, "broken.csv", user=user, commit=commit)
        assert not result.committed
        assert [(e["row"], e["column"]) for e in result.errors] == [(None, "")]
        assert result.errors[0]["message"].startswith("CSV 格式错误")
    assert Specimen.objects.count() == 0


def test_errors_are_capped_counted_and_in_row_order(user):
    numbers = ids(MAX_ERRORS + 100)
    data = make_csv([["身份证号", "姓名", "数量(千克)"]] + [[n, "甲", "很多"] for n in numbers])
    result = read_and_run(SpecimenImporter(), data, "many.csv", user=user, commit=False)
    assert result.errors_total == result.error_rows == MAX_ERRORS + 100
    assert len(result.errors) == MAX_ERRORS
    assert [e["row"] for e in result.errors] == list(range(2, MAX_ERRORS + 2))


def test_progress_ends_with_the_real_count(user, monkeypatch):
    """The estimate (row elements of the sheet) counts formatted empty rows; the last
    progress call gives the rows really read."""
    monkeypatch.setattr(engine, "PREVIEW_CHUNK", 2)
    monkeypatch.setattr(engine, "PREVIEW_SQLITE_PAUSE_S", 0)
    data = make_xlsx([["身份证号", "姓名"], [ID_A, "甲"], [ID_B, "乙"], [None, None], [synthetic_id("11010119700101001"), "丙"]],
                     formats={"A8": "@", "B9": "@"}, text_columns=[1])
    assert open_table(data, "p.xlsx").estimated_rows == 5  # rows 2, 3, 5, 8, 9
    calls = []
    result = read_and_run(SpecimenImporter(), data, "p.xlsx", user=user, commit=False,
                          progress=lambda done, total: calls.append((done, total)))
    assert result.ok and result.total_rows == 3
    assert calls == [(2, 5), (3, 3)]


# -- readers -------------------------------------------------------------------------------


def written_by_a_script(rows) -> bytes:
    """An xlsx as openpyxl's write-only mode (and many exporters) writes it: no <dimension>."""
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("名单")
    for row in rows:
        ws.append(row)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def test_stream_reads_what_read_table_reads_and_can_be_read_again():
    """Header = first non-empty row; empty rows skipped; row numbers the sheet's; the same
    for a workbook written by a script (no <dimension>, which openpyxl otherwise searches
    the whole sheet for)."""
    rows = [[None, None, None], ["身份证号", "姓名", "数量"], [ID_A, "甲", 1.5], [None, None, None], [ID_B, "乙", 2]]
    for data in (make_xlsx(rows), written_by_a_script(rows)):
        stream = open_table(data, "s.xlsx")
        assert (stream.headers, stream.header_row) == (["身份证号", "姓名", "数量"], 2)
        first, second = list(stream), list(stream)
        assert first == second == read_table(data, "s.xlsx").rows
        assert [n for n, _cells in first] == [3, 5]
        assert [(c.value, c.kind) for c in first[0][1]] == [(ID_A, TEXT), ("甲", TEXT), (1.5, NUMBER)]
        assert first[0][1][2].coordinate == "C3"


def test_spool_gives_back_the_same_rows():
    rows = [["身份证号", "姓名", "日期"]] + [[n, f"人{i}", f"2024-01-{i % 28 + 1:02d}"] for i, n in enumerate(ids(30))]
    stream = open_table(make_xlsx(rows), "s.xlsx")
    spooled = spool(stream)
    try:
        assert (spooled.headers, spooled.header_row, spooled.estimated_rows) == (stream.headers, 1, 30)
        assert list(spooled) == list(stream) == list(spooled)
        assert all(isinstance(c, RawCell) for _n, cells in spooled for c in cells)
    finally:
        spooled.close()


def test_upload_does_not_open_the_file(user, monkeypatch):
    def no_reading(*args, **kwargs):
        raise AssertionError("the upload must not read the rows")

    monkeypatch.setattr(readers, "open_table", no_reading)
    monkeypatch.setattr(services, "open_table", no_reading)
    batch = create_batch(importer=SpecimenImporter(), user=user, name="p.xlsx",
                         content=make_xlsx([["身份证号", "姓名"], [ID_A, "甲"], [ID_B, "乙"]]))
    assert batch.total_rows == 2


def test_insert_rows_writes_what_bulk_create_with_history_writes(user):
    """The bulk importers' insert: the same records and "+" history rows as simple-history's
    helper (normalised and encrypted identity numbers, blind index, timestamps), keys set."""
    from decimal import Decimal

    from simple_history.utils import bulk_create_with_history

    from jindu.core.imports.bulk import insert_rows

    place = division("4601")

    def specimens(suffix):
        return [Specimen(name=f"甲{suffix}", division=place, id_number=ID_A.lower() if suffix == "a" else ID_A,
                         quantity_kg=Decimal("1.500")),
                Specimen(name=f"乙{suffix}", division=place, id_number="")]

    def rows(objs):
        skip = {"id", "created_at", "updated_at", "name"}
        records = [{f.attname: getattr(o, f.attname) for f in Specimen._meta.concrete_fields if f.attname not in skip}
                   for o in Specimen.objects.filter(pk__in=[o.pk for o in objs]).order_by("pk")]
        history = [(h.history_type, h.history_user_id, h.id_number, h.id_number_digest, h.quantity_kg)
                   for h in Specimen.history.filter(id__in=[o.pk for o in objs]).order_by("id")]
        return records, history

    made = bulk_create_with_history(specimens("a"), Specimen, default_user=user)
    expected = rows(made)
    Specimen.history.all().delete()
    Specimen.objects.all().delete()
    inserted = insert_rows(specimens("b"), history_user=user)
    assert all(o.pk and not o._state.adding for o in inserted)
    assert rows(inserted) == expected
    records, history = expected
    assert records[0]["id_number"] == ID_A and records[1]["id_number_digest"] is None
    assert history[0] == ("+", user.pk, ID_A, records[0]["id_number_digest"], Decimal("1.500"))
    # One clock reading per call: the records' timestamps (on the instances as in the
    # database) and their history rows' date.
    stored = list(Specimen.objects.filter(pk__in=[o.pk for o in inserted]).values_list("created_at", "updated_at"))
    stamps = {o.created_at for o in inserted} | {o.updated_at for o in inserted} | {t for pair in stored for t in pair}
    assert len(stamps) == 1 and stamps == set(Specimen.history.filter(id__in=[o.pk for o in inserted])
                                               .values_list("history_date", flat=True))


def test_value_shortcuts_give_what_django_gives(user):
    """``insert_rows`` skips Django's per-value preparation only where it would return the
    value unchanged: for every field that takes the shortcut, the value written is the one
    ``get_db_prep_save(pre_save(...))`` gives — including values of another type, which
    take the full path (a digit string in an integer field becomes an int)."""
    from decimal import Decimal

    from jindu.core.imports.bulk import _value_prep
    from jindu.core.models import AuditEvent
    from jindu.persons.models import Event

    objs = [
        Specimen(name="甲", division=division("4601"), id_number=ID_A, quantity_kg=Decimal("1.500")),
        AuditEvent(actor=user, actor_repr="甲", action="persons.person_registered", target_id="7",
                   changes={"a": 1}, reason="", ip_address=None, request_id=""),
        Event(person_id=5, kind="found_using", source="import", term_months="24", days=3, approved=True),
    ]
    shortcut = 0
    for obj in objs:
        for field in type(obj)._meta.concrete_fields:
            prep = _value_prep(field, connection, timezone.now())
            if field.primary_key or prep.__name__ != "fast":
                continue
            shortcut += 1
            assert prep(obj) == field.get_db_prep_save(field.pre_save(obj, True), connection), field
    assert shortcut >= 10
    term = Event._meta.get_field("term_months")
    assert _value_prep(term, connection, timezone.now())(objs[2]) == 24


# -- the preview's recorded rows ---------------------------------------------------------


def _stored(batch) -> bool:
    return bool(batch.rows_file.name) and batch.rows_file.storage.exists(batch.rows_file.name)


def test_commit_reads_the_rows_the_preview_recorded(user, monkeypatch, django_capture_on_commit_callbacks):
    """The preview keeps the file's cells; the commit validates and writes them without
    parsing the workbook again, and then removes them."""
    from jindu.core.imports.services import commit_batch, preview_batch
    from jindu.core.models import ImportBatch

    rows = [["身份证号", "姓名", "所属区划"]] + [[n, f"人{i}", "460106001000"] for i, n in enumerate(ids(25))]
    batch = create_batch(importer=SpecimenImporter(), user=user, name="名单.xlsx", content=make_xlsx(rows))
    preview_batch(batch, user=user)
    assert batch.status == ImportBatch.Status.PREVIEWED and _stored(batch)
    assert len(batch.summary["rows_mac"]) == 64
    name = batch.rows_file.name

    def no_reading(*args, **kwargs):
        raise AssertionError("the commit must not parse the workbook again")

    monkeypatch.setattr(services, "open_table", no_reading)
    with django_capture_on_commit_callbacks(execute=True):
        result = commit_batch(batch, user=user)
    assert result.committed and batch.status == ImportBatch.Status.COMMITTED
    assert sorted(Specimen.objects.values_list("name", flat=True)) == sorted(f"人{i}" for i in range(25))
    assert not batch.rows_file.name and not batch.rows_file.storage.exists(name)


def test_altered_recorded_rows_are_never_used(user, monkeypatch):
    """Recorded rows whose HMAC no longer matches are ignored (never unpickled): the commit
    reads the stored file instead."""
    from jindu.core.imports.services import commit_batch, preview_batch

    rows = [["身份证号", "姓名"], [ID_A, "甲"], [ID_B, "乙"]]
    batch = create_batch(importer=SpecimenImporter(), user=user, name="a.xlsx", content=make_xlsx(rows))
    preview_batch(batch, user=user)
    path = batch.rows_file.path
    with open(path, "r+b") as fh:
        fh.seek(-3, 2)
        fh.write(b"\x00\x00\x00")
    opened = []
    real_open = services.open_table
    monkeypatch.setattr(services, "open_table", lambda *a, **k: opened.append(1) or real_open(*a, **k))
    result = commit_batch(batch, user=user)
    assert result.committed and opened == [1]
    assert sorted(Specimen.objects.values_list("name", flat=True)) == ["乙", "甲"]


def test_recorded_rows_are_kept_only_for_a_batch_that_may_be_committed(user, django_capture_on_commit_callbacks):
    """A rejected preview keeps no rows; a second preview replaces the first one's; a
    cancelled batch's rows are removed."""
    from jindu.core.imports.services import cancel_batch, preview_batch
    from jindu.core.models import ImportBatch

    bad = create_batch(importer=SpecimenImporter(), user=user, name="bad.csv",
                       content=make_csv([["身份证号", "姓名"], ["123", "甲"]]))
    preview_batch(bad, user=user)
    assert bad.status == ImportBatch.Status.REJECTED and not bad.rows_file.name and "rows_mac" not in bad.summary

    batch = create_batch(importer=SpecimenImporter(), user=user, name="ok.csv",
                         content=make_csv([["身份证号", "姓名"], [ID_A, "甲"]]))
    preview_batch(batch, user=user)
    preview_batch(batch, user=user)
    assert _stored(batch)
    folder = Path(batch.rows_file.path).parent
    assert [p.name for p in folder.iterdir()] == [Path(batch.rows_file.name).name]
    second = batch.rows_file.name
    with django_capture_on_commit_callbacks(execute=True):
        cancel_batch(batch, user=user)
    assert batch.status == ImportBatch.Status.CANCELLED and not batch.rows_file.name
    assert not batch.rows_file.storage.exists(second)
    assert Specimen.objects.count() == 0


def test_planner_statistics_follow_a_table_the_import_grows(db, monkeypatch):
    """On PostgreSQL the table is analysed inside the import's transaction each time the rows
    written since the last analysis reach its size then (so the planner sees the registry
    it is querying); on SQLite nothing is run."""
    from jindu.core.imports.bulk import PlannerStatistics, insert_rows

    monkeypatch.setattr(PlannerStatistics, "MIN_ROWS", 20)
    stats = PlannerStatistics(Specimen)
    place = division("4601")

    def write(n):
        insert_rows([Specimen(name=f"甲{i}", division=place) for i in range(n)], history=False)
        return stats.wrote(n)

    def reltuples():
        with connection.cursor() as cursor:
            cursor.execute("SELECT reltuples FROM pg_class WHERE oid = to_regclass(%s)", [Specimen._meta.db_table])
            return cursor.fetchone()[0]

    if connection.vendor != "postgresql":
        assert not stats.enabled and write(50) is False
        return
    assert write(10) is False  # below the minimum
    assert write(15) is True and reltuples() == 25  # 25 written: analysed, size 25
    assert write(20) is False  # 20 since: below the size
    assert write(10) is True and reltuples() == 55


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL only")
def test_planner_statistics_do_not_wait_for_another_imports_lock(db, monkeypatch):
    """Another transaction holding the table's analysis lock (as a concurrent import does
    until it commits): the analysis is skipped after ``LOCK_WAIT``, the import's transaction
    goes on, and the lock timeout is what it was. (The per-test transaction is enough: the
    lock needs no committed rows; ``transaction=True`` would flush the session's divisions.)"""
    import psycopg
    from django.db import transaction

    from jindu.core.imports.bulk import PlannerStatistics

    monkeypatch.setattr(PlannerStatistics, "MIN_ROWS", 1)
    settings = connection.settings_dict
    other = psycopg.connect(host=settings["HOST"] or None, port=settings["PORT"] or None, user=settings["USER"],
                            password=settings["PASSWORD"] or None, dbname=settings["NAME"])
    try:
        other.execute(f"ANALYZE {Specimen._meta.db_table}")  # in other's open transaction: lock held
        with transaction.atomic():
            stats = PlannerStatistics(Specimen)
            assert stats.wrote(10) is False and stats.pending == 10
            with connection.cursor() as cursor:
                cursor.execute("SELECT current_setting('lock_timeout'), 1")
                assert cursor.fetchone() == ("0", 1)  # the transaction is usable, the setting restored
        other.rollback()
        with transaction.atomic():
            assert stats.wrote(1) is True and stats.pending == 0
    finally:
        other.close()


def test_errors_raised_while_saving_are_shown_under_their_column():
    """A service's field-keyed ``ValidationError`` (raised after the form passed) names the
    row's column as the form's own errors do; other messages stand under no column."""
    from django.core.exceptions import ValidationError

    from jindu.core.imports.engine import error_problems

    importer = SpecimenImporter()
    error = ValidationError({"id_number": ["已登记"], "name": ["姓名有误"], "__all__": ["整行有误"]})
    assert [(str(c), m) for c, m in error_problems(importer, error)] == [
        ("身份证号", "已登记"), ("姓名", "姓名有误"), ("", "整行有误")]
    assert error_problems(importer, ValidationError(["甲", "乙"])) == [("", "甲"), ("", "乙")]
