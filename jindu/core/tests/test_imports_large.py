"""Imports under load and odd files (breaker findings): the preview works in short
transactions with progress between them, the commit's progress goes through a side
connection, the upload decides "job or not" without parsing, and files with no data rows,
thousands of extra columns or formula cells get clear answers. Also the template.
"""

from __future__ import annotations

import io
import threading
import zipfile

import pytest
from django.db import connection, connections, transaction
from django.urls import reverse
from openpyxl import Workbook, load_workbook

from jindu.core.imports import engine
from jindu.core.imports.engine import read_and_run
from jindu.core.imports.readers import FORMULA, estimate_rows, read_table
from jindu.core.imports.services import commit_batch, create_batch, preview_batch
from jindu.core.imports.template import import_template_xlsx
from jindu.core.imports.testing import make_csv, make_xlsx
from jindu.core.jobs import JobReporter
from jindu.core.models import ImportBatch, Job
from jindu.core.testing import division, no_committed_trail, permissions_for, user_with
from jindu.core.tests.test_imports import ID_A, ID_B, SpecimenImporter, synthetic_id
from jindu.core.tests.testapp.models import Specimen


def perms():
    return permissions_for(Specimen, ["view", "add", "change"]) + ["geo.view_division"]


@pytest.fixture
def user(db):
    return user_with(perms(), division("4601"))


def ids(n: int) -> list[str]:
    return [synthetic_id(f"46010619900101{i:03d}") for i in range(n)]


def people_csv(n: int) -> bytes:
    return make_csv([["身份证号", "姓名"]] + [[number, f"人{i}"] for i, number in enumerate(ids(n))])


def in_other_thread(fn):
    """Run ``fn()`` on another thread (its own database connection); its result or the
    exception's text."""
    out: list = []

    def work():
        try:
            out.append(fn())
        except Exception as exc:  # reported to the caller
            out.append(f"error: {exc}")
        finally:
            connections.close_all()

    t = threading.Thread(target=work)
    t.start()
    t.join(timeout=30)
    return out[0] if out else "timeout"


# -- committed fixtures: real concurrency needs rows other connections see ----------------
#
# Like the concurrency tests elsewhere, these run outside the per-test transaction and
# remove their own rows (``transaction=True`` would flush the session's divisions).


@pytest.fixture
def committed_user(django_db_setup, django_db_blocker, settings, tmp_path):
    from jindu.accounts.models import RoleAssignment, User

    with django_db_blocker.unblock(), no_committed_trail():
        u = user_with(perms(), division("4601"), username="import-chunks")
        yield u
        Specimen.objects.filter(name__startswith="人").delete()
        Specimen.history.filter(name__startswith="人").delete()
        Job.objects.filter(created_by=u).delete()
        ImportBatch.objects.filter(created_by=u).delete()
        roles = [a.role for a in RoleAssignment.objects.filter(user=u)]
        RoleAssignment.objects.filter(user=u).delete()
        for role in roles:
            role.delete()
        User.objects.filter(pk=u.pk).delete()


def test_preview_runs_in_short_transactions_and_others_can_write_between(
    committed_user, django_db_blocker, monkeypatch
):
    """B1: the preview of a big file no longer holds one transaction (SQLite's write lock)
    for the whole file: between chunks no transaction is open and another connection can
    write; progress is reported after every chunk."""
    monkeypatch.setattr(engine, "PREVIEW_CHUNK", 10)
    with django_db_blocker.unblock():
        job = Job.objects.create(kind="t", title="t", created_by=committed_user)
        calls = []

        def progress(done, total):
            wrote = in_other_thread(lambda: Job.objects.filter(pk=job.pk).update(message=f"写入 {done}"))
            calls.append((done, total, connection.in_atomic_block, wrote))

        result = read_and_run(SpecimenImporter(), people_csv(35), "p.csv", user=committed_user,
                              commit=False, progress=progress)
        assert result.ok and result.counts["created"] == 35
        assert calls == [(10, 35, False, 1), (20, 35, False, 1), (30, 35, False, 1), (35, 35, False, 1)]
        assert Job.objects.get(pk=job.pk).message == "写入 35"
        assert not Specimen.objects.filter(name__startswith="人").exists()


def test_background_preview_progress_is_visible_while_it_runs(committed_user, django_db_blocker, monkeypatch):
    """B1: the job page (another connection) sees the preview's progress move."""
    from jindu.core.imports.tasks import preview_import

    monkeypatch.setattr(engine, "PREVIEW_CHUNK", 10)
    monkeypatch.setattr(JobReporter, "min_interval", 0)
    seen: list = []
    original = JobReporter.flush

    def flush(self, **kwargs):
        original(self, **kwargs)
        seen.append(in_other_thread(lambda: Job.objects.get(pk=self.job_id).progress_done))

    monkeypatch.setattr(JobReporter, "flush", flush)
    with django_db_blocker.unblock():
        batch = create_batch(importer=SpecimenImporter(), user=committed_user, name="p.csv", content=people_csv(35))
        job = Job.objects.create(kind="core.import_preview", title="t", created_by=committed_user,
                                 params={"batch_id": batch.pk})
        preview_import.func(job.pk)
        job.refresh_from_db()
        batch.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED, job.message
    assert batch.status == ImportBatch.Status.PREVIEWED and batch.total_rows == 35
    assert [v for v in seen if isinstance(v, int) and 0 < v < 35], seen
    assert job.progress_done == 35


def test_progress_inside_the_jobs_own_transaction(committed_user, django_db_blocker):
    """The commit reports progress from inside its all-or-nothing transaction: written
    through the side connection on PostgreSQL (visible at once); skipped on SQLite, where
    the transaction holds the write lock, without failing — the final numbers are written
    when the job ends."""
    with django_db_blocker.unblock():
        job = Job.objects.create(kind="t", title="t", created_by=committed_user)
        reporter = JobReporter(job.pk, user=committed_user)
        reporter.start()
        with transaction.atomic():
            Specimen.objects.create(name="人在事务中", division=division("4601"))  # the job's own write
            reporter.progress(5, 10)
            seen = in_other_thread(lambda: Job.objects.values_list("progress_done", "progress_total").get(pk=job.pk))
        if connection.vendor == "postgresql":
            assert seen == (5, 10)
        else:
            assert seen == (0, 0) or str(seen).startswith("error"), seen
        with transaction.atomic():
            # A transaction that locks the job's own row: the side write gives up, no hang.
            Job.objects.filter(pk=job.pk).update(title="在事务中")
            reporter.progress(6, 10)
        reporter.progress(7, 10)
        assert reporter.succeed(result={})
        job.refresh_from_db()
    assert (job.status, job.progress_done, job.progress_total, job.title) == (Job.Status.SUCCEEDED, 7, 10, "在事务中")


def test_commit_of_a_file_larger_than_a_chunk_is_unchanged(user, monkeypatch):
    """Chunking the preview changes neither what it reports nor what the commit writes;
    duplicates are still found across chunks."""
    monkeypatch.setattr(engine, "PREVIEW_CHUNK", 10)
    numbers = ids(25)
    rows = [["身份证号", "姓名"]] + [[n, f"人{i}"] for i, n in enumerate(numbers)]
    batch = create_batch(importer=SpecimenImporter(), user=user, name="p.csv", content=make_csv(rows))
    preview_batch(batch, user=user)
    assert batch.status == ImportBatch.Status.PREVIEWED
    assert batch.summary["counts"] == {"created": 25, "updated": 0, "unchanged": 0}
    assert Specimen.objects.count() == 0
    commit_batch(batch, user=user)
    assert batch.status == ImportBatch.Status.COMMITTED
    assert batch.summary["counts"] == {"created": 25, "updated": 0, "unchanged": 0}
    assert Specimen.objects.count() == 25

    rows[3][1] = "改名"
    again = create_batch(importer=SpecimenImporter(), user=user, name="p2.csv", content=make_csv(rows))
    preview_batch(again, user=user)
    assert again.summary["counts"] == {"created": 0, "updated": 1, "unchanged": 24}

    dup = rows + [[numbers[0], "重复"]]  # row 27 repeats row 2, two chunks apart
    result = read_and_run(SpecimenImporter(), make_csv(dup), "d.csv", user=user, commit=False)
    assert sorted(e["row"] for e in result.errors) == [2, 27]


# -- upload decides from cheap facts -----------------------------------------------------


def test_upload_does_not_parse_the_file(user, monkeypatch):
    """The upload request only estimates the row count (to choose job or not); parsing is
    the preview's work."""
    from jindu.core.imports import readers, services

    def no_parsing(*args, **kwargs):
        raise AssertionError("the upload must not parse the file")

    monkeypatch.setattr(readers, "read_table", no_parsing)
    monkeypatch.setattr(services, "read_table", no_parsing)
    batch = create_batch(importer=SpecimenImporter(), user=user, name="p.xlsx",
                         content=make_xlsx([["身份证号", "姓名"], [ID_A, "甲"], [ID_B, "乙"]]))
    assert batch.total_rows == 2


def test_estimate_rows():
    assert estimate_rows(make_csv([["a"], ["1"], ["2"], ["3"]]), "x.csv") == 3
    assert estimate_rows(b"a,b\r\n1,2", "x.csv") == 1
    assert estimate_rows(b"", "x.csv") == 0
    assert estimate_rows(make_xlsx([["a"]] + [[i] for i in range(1500)]), "x.xlsx") == 1500
    assert estimate_rows(make_xlsx([["a"]]), "x.xlsx") == 0
    assert estimate_rows(b"PK\x03\x04broken", "x.xlsx") == 0


# -- odd files ---------------------------------------------------------------------------


@pytest.mark.parametrize("data,name", [
    (make_xlsx([["身份证号", "姓名"]]), "h.xlsx"),
    (make_csv([["身份证号", "姓名"]]), "h.csv"),
    (make_xlsx([["身份证号", "姓名"], [None, None], [None, None]]), "blank.xlsx"),
])
def test_file_with_headers_only_is_refused(client, user, data, name):
    f = io.BytesIO(data)
    f.name = name
    client.force_login(user)
    client.post(reverse("import_upload", args=["testapp.specimen"]), {"file": f})
    batch = ImportBatch.objects.get()
    assert batch.status == ImportBatch.Status.REJECTED
    assert [e["message"] for e in batch.errors] == ["文件中没有数据行：表头下方至少要有一行数据。"]
    html = client.get(reverse("import_batch", args=[batch.pk])).content.decode()
    assert "文件中没有数据行" in html and 'data-testid="commit"' not in html and "校验通过" not in html


def test_many_ignored_columns_are_summarised(user):
    extra = [f"多余列{i}" for i in range(1, 16001)]
    data = make_csv([["身份证号", "姓名", *extra], [ID_A, "甲", *([""] * len(extra))]])
    result = read_and_run(SpecimenImporter(), data, "wide.csv", user=user, commit=False)
    assert result.ok
    [warning] = result.warnings
    assert "多余列1、多余列2" in warning and "多余列10 等" in warning
    assert "多余列11" not in warning and "共 16000 列" in warning and "其余 15990 列" in warning
    assert len(warning) < 300

    few = make_csv([["身份证号", "姓名", "备注", "来源"], [ID_A, "甲", "", ""]])
    assert read_and_run(SpecimenImporter(), few, "f.csv", user=user, commit=False).warnings == [
        "以下列不在模板中，已忽略：备注、来源"
    ]


def _with_cached_value(data: bytes, coordinate: str, cached: str) -> bytes:
    """``data`` with a cached result written for the formula at ``coordinate`` (what
    Excel saves; openpyxl writes none)."""
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as dst:
        for item in src.infolist():
            content = src.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                text = content.decode()
                start = text.index(f'<c r="{coordinate}"')
                end = text.index("</c>", start)
                cell = text[start:end]
                fixed = cell.replace("<v></v>", "").replace("<v />", "").replace("<v/>", "") + f"<v>{cached}</v>"
                assert "<f>" in fixed
                text = text[:start] + fixed + text[end:]
                content = text.encode()
            dst.writestr(item, content)
    return out.getvalue()


def test_formula_cells_are_refused_with_row_and_column(user):
    """A formula without a cached result used to read as blank (→ "必填" or silently
    dropped); with one, as a possibly stale value. Both are refused, naming the cell."""
    wb = Workbook()
    ws = wb.active
    ws.append(["身份证号", "姓名", "数量(千克)"])
    ws.append(['=HYPERLINK("http://example.invalid","点我")', "甲", 1])
    ws.append([ID_B, "乙", "=1+1"])
    ws.append([ID_A, "=A1", 2])
    buf = io.BytesIO()
    wb.save(buf)
    data = _with_cached_value(buf.getvalue(), "B4", "身份证号")

    table = read_table(data, "f.xlsx")
    assert [c.kind for c in table.rows[0][1]][:1] == [FORMULA]
    result = read_and_run(SpecimenImporter(), data, "f.xlsx", user=user, commit=True)
    assert not result.committed and Specimen.objects.count() == 0
    found = {(e["row"], e["column"]): e["message"] for e in result.errors}
    assert set(found) == {(2, "身份证号"), (3, "数量(千克)"), (4, "姓名")}
    assert "A2" in found[(2, "身份证号")] and "公式" in found[(2, "身份证号")]
    assert "C3" in found[(3, "数量(千克)")] and "选择性粘贴" in found[(3, "数量(千克)")]
    assert "B4" in found[(4, "姓名")]
    assert not any("必填" in m for m in found.values())


def test_formula_like_text_is_still_text(user):
    """A text cell that merely starts with "=" is not a formula."""
    data = make_xlsx([["身份证号", "姓名"], [ID_A, "=不是公式"]])
    result = read_and_run(SpecimenImporter(), data, "t.xlsx", user=user, commit=False)
    assert result.ok, result.errors


# -- template ----------------------------------------------------------------------------


def test_template_has_no_preformatted_rows_but_text_columns():
    """Rows appended to the template by a script start at row 2; identity, phone and code
    columns stay text-formatted (column style) for people typing in Excel."""
    data = import_template_xlsx(SpecimenImporter())
    ws = load_workbook(io.BytesIO(data)).worksheets[0]
    assert ws.max_row == 1
    assert [c.value for c in ws[1]][:2] == ["身份证号*", "姓名*"]
    assert ws.column_dimensions["A"].number_format == "@"  # 身份证号
    assert ws.column_dimensions["B"].number_format == "General"  # 姓名
    ws.append([ID_A, "甲"])
    assert ws.max_row == 2
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        xml = z.read("xl/worksheets/sheet1.xml").decode()
    assert xml.count("<row") == 1 and "<col " in xml
