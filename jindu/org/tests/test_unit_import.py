"""Unit import/export through the pages: template, upload → preview → commit, scope,
division look-up by code or name, phone cells, and export → re-import without duplicates."""

from __future__ import annotations

import io

import pytest
from django.urls import reverse
from openpyxl import load_workbook

from jindu.core.imports.testing import make_csv, make_xlsx
from jindu.core.models import AuditEvent, ImportBatch
from jindu.core.tests.test_pages import div, make_user
from jindu.org.models import Unit

HEADERS = ["单位名称", "简称", "单位类型", "所属区划", "负责人", "负责人职务", "联系电话", "地址"]


def upload(client, data: bytes, name: str):
    f = io.BytesIO(data)
    f.name = name
    resp = client.post(reverse("org:unit_import"), {"file": f})
    assert resp.status_code == 302, resp.content.decode()[:2000]
    return ImportBatch.objects.latest("pk")


def commit(client, batch):
    resp = client.post(reverse("import_commit", args=[batch.pk]))
    assert resp.status_code == 302
    batch.refresh_from_db()
    return batch


@pytest.fixture
def district_user(db):
    return make_user(("district_office", "460106"))


def test_template_has_headers_and_text_formatted_code_columns(client, district_user):
    client.force_login(district_user)
    resp = client.get(reverse("org:unit_import_template"))
    assert resp.status_code == 200
    assert "filename*=UTF-8''" in resp["Content-Disposition"]
    wb = load_workbook(io.BytesIO(b"".join(resp.streaming_content) if resp.streaming else resp.content))
    ws = wb.worksheets[0]
    headers = [c.value for c in ws[1]]
    assert [h.rstrip("*") for h in headers] == HEADERS
    assert headers[0] == "单位名称*" and headers[1] == "简称"
    # Code and phone columns are text-formatted as whole columns (so Excel keeps digits).
    assert ws.column_dimensions["D"].number_format == "@" and ws.column_dimensions["G"].number_format == "@"
    assert wb.worksheets[1].title == "填写说明"


def test_upload_preview_commit(client, district_user):
    client.force_login(district_user)
    data = make_xlsx([
        HEADERS,
        ["龙华区教育局", "区教育局", "职能部门", "460106000000", "张三", "局长", 13900001111, "龙华路1号"],
        ["中山街道禁毒办", "", "镇街", "中山街道", "", "", "0898-66778899", ""],
        ["滨海学校", "", "学校", 460106002000, "", "", None, ""],
    ], text_columns=[4])
    batch = upload(client, data, "单位.xlsx")
    assert batch.status == ImportBatch.Status.PREVIEWED, batch.errors
    assert batch.summary["counts"] == {"created": 3, "updated": 0, "unchanged": 0}
    assert Unit.objects.count() == 0  # preview writes nothing

    page = client.get(reverse("import_batch", args=[batch.pk])).content.decode()
    assert "龙华区教育局" in page and 'data-testid="commit"' in page

    batch = commit(client, batch)
    assert batch.status == ImportBatch.Status.COMMITTED
    edu = Unit.objects.get(name="龙华区教育局")
    assert edu.phone == "13900001111"  # never "13900001111.0" (peer case 1)
    assert edu.kind == "department" and edu.division.code == "460106000000"
    assert Unit.objects.get(name="中山街道禁毒办").division.code == "460106001000"  # by name
    assert Unit.objects.get(name="滨海学校").division.code == "460106002000"  # numeric 12-digit code
    assert AuditEvent.objects.filter(action="org.unit_created").count() == 3
    assert AuditEvent.objects.filter(action="core.import_committed", actor=district_user).count() == 1


def test_update_by_division_and_name(client, district_user):
    unit = Unit.objects.create(name="龙华区教育局", kind="department", division=div("460106"), phone="13900000000")
    client.force_login(district_user)
    data = make_csv([HEADERS, ["龙华区教育局", "", "职能部门", "460106000000", "李四", "", "(0898)66778899", ""]])
    batch = commit(client, upload(client, data, "u.csv"))
    assert batch.status == ImportBatch.Status.COMMITTED, batch.errors
    assert batch.summary["counts"] == {"created": 0, "updated": 1, "unchanged": 0}
    unit.refresh_from_db()
    assert unit.head_name == "李四" and unit.phone == "0898-66778899" and unit.version == 2
    assert Unit.objects.count() == 1


def test_unknown_kind_and_ambiguous_or_unknown_division(client, district_user):
    client.force_login(district_user)
    data = make_csv([
        HEADERS,
        ["甲", "", "协会", "460106000000", "", "", "", ""],
        ["乙", "", "其他", "不存在的街道", "", "", "", ""],
    ])
    batch = upload(client, data, "bad.csv")
    assert batch.status == ImportBatch.Status.REJECTED
    errors = {(e["row"], e["column"]): e["message"] for e in batch.errors}
    assert "禁毒委成员单位" in errors[(2, "单位类型")]
    assert "未找到" in errors[(3, "所属区划")]
    page = client.get(reverse("import_batch", args=[batch.pk])).content.decode()
    assert "第 2 行" in page and "整个文件都不会导入" in page and 'data-testid="commit"' not in page
    assert client.post(reverse("import_commit", args=[batch.pk])).status_code == 302
    assert Unit.objects.count() == 0


def test_ambiguous_division_name_refused(db):
    from jindu.core.imports.columns import CellError, ParseContext
    from jindu.core.imports.readers import RawCell
    from jindu.geo.models import Division
    from jindu.org.importers import DivisionColumn

    from django.db.models import Count

    name = (Division.objects.filter(level="village").values("name").annotate(n=Count("id"))
            .filter(n__gt=1).order_by("name").first())
    if name is None:
        pytest.skip("no repeated village name in the loaded divisions")
    admin = make_user(("ncc_admin", "4601"))
    col = DivisionColumn("division", "所属区划")
    with pytest.raises(CellError, match="多条"):
        col.parse(RawCell(name["name"], "text", "", "D2"), ParseContext(user=admin))


def test_town_office_importing_into_other_district_refused(client, db):
    """Scope: nothing is written when one row lies outside the user's jurisdiction."""
    town_user = make_user(("town_office", "460106001"))
    client.force_login(town_user)
    before = Unit.objects.count()
    Unit.objects.create(name="中山街道禁毒办", kind="town", division=div("460106001"))
    data = make_csv([
        HEADERS,
        ["中山街道禁毒办", "", "镇街", "460106001000", "王五", "", "", ""],  # own unit: may change
        ["秀英区某单位", "", "其他", "460105000000", "", "", "", ""],  # another district
    ])
    batch = upload(client, data, "scope.csv")
    assert batch.status == ImportBatch.Status.REJECTED
    assert [e["row"] for e in batch.errors] == [3]
    assert client.post(reverse("import_commit", args=[batch.pk])).status_code == 302
    assert Unit.objects.count() == before + 1
    assert Unit.objects.get(name="中山街道禁毒办").head_name == ""


def test_district_user_cannot_create_in_other_district(client, district_user):
    client.force_login(district_user)
    data = make_csv([HEADERS, ["秀英区某单位", "", "其他", "460105000000", "", "", "", ""]])
    batch = upload(client, data, "x.csv")
    assert batch.status == ImportBatch.Status.REJECTED
    assert Unit.objects.filter(name="秀英区某单位").count() == 0


def test_roles_without_unit_write_permission_get_403(client, db):
    client.force_login(make_user(("leader", "4601")))
    assert client.get(reverse("org:unit_import")).status_code == 403
    assert client.get(reverse("org:unit_import_template")).status_code == 403


@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
def test_export_then_reimport_creates_no_duplicates(client, district_user, fmt):
    Unit.objects.create(name='=HYPERLINK("http://example.invalid","点击")', kind="other", division=div("460106"),
                        address="+1-2", head_title="-3", short_name="@SUM(A1)", phone="0898-66778899")
    Unit.objects.create(name="中山街道禁毒办", kind="town", division=div("460106001"), phone="13900001111")
    Unit.objects.create(name="秀英区禁毒办", kind="district", division=div("460105"))  # out of scope
    client.force_login(district_user)
    resp = client.get(reverse("org:unit_export"), {"format": fmt})
    assert resp.status_code == 200
    content = b"".join(resp.streaming_content)
    if fmt == "xlsx":
        ws = load_workbook(io.BytesIO(content)).active
        names = [r[0].value for r in ws.iter_rows(min_row=2)]
        assert all(r[0].data_type == "s" for r in ws.iter_rows(min_row=2))
    else:
        assert content.startswith(b"\xef\xbb\xbf")
        names = [line.split(",")[0] for line in content.decode("utf-8-sig").splitlines()[1:]]
    assert len(names) == 2 and "秀英区禁毒办" not in names

    batch = commit(client, upload(client, content, f"export.{fmt}"))
    assert batch.status == ImportBatch.Status.COMMITTED, batch.errors
    assert batch.summary["counts"] == {"created": 0, "updated": 0, "unchanged": 2}
    assert Unit.objects.count() == 3
    assert Unit.objects.filter(name='=HYPERLINK("http://example.invalid","点击")', address="+1-2",
                               head_title="-3", short_name="@SUM(A1)").count() == 1


def test_export_applies_list_filters(client, district_user):
    Unit.objects.create(name="中山街道禁毒办", kind="town", division=div("460106001"))
    Unit.objects.create(name="龙华区教育局", kind="department", division=div("460106"))
    client.force_login(district_user)
    resp = client.get(reverse("org:unit_export"), {"format": "csv", "kind": "town"})
    text = b"".join(resp.streaming_content).decode("utf-8-sig")
    assert "中山街道禁毒办" in text and "龙华区教育局" not in text


def test_files_travel_between_ui_languages(client, district_user):
    """Headers and choice labels are recognised in every UI language: a Chinese file imports
    for an English-UI user, the template stays Chinese, and an English export re-imports."""
    from django.utils import translation

    from jindu.core.exports import export_to_file
    from jindu.core.imports import get_importer
    from jindu.core.imports.engine import read_and_run
    from jindu.org.exporters import UnitExporter

    Unit.objects.create(name="龙华区教育局", kind="department", division=div("460106"))
    chinese = make_csv([HEADERS, ["中山街道禁毒办", "", "镇街", "460106001000", "", "", "", ""]])
    with translation.override("en"):
        result = read_and_run(get_importer("org.unit"), chinese, "zh.csv", user=district_user, commit=True)
        assert result.ok, result.errors
        fh, _ = export_to_file(UnitExporter(), user=district_user, fmt="csv")
        client.force_login(district_user)
        resp = client.get(reverse("org:unit_import_template"), HTTP_ACCEPT_LANGUAGE="en")
        ws = load_workbook(io.BytesIO(resp.content)).worksheets[0]
        assert [c.value.rstrip("*") for c in ws[1]] == HEADERS
    with translation.override("zh-hans"):
        again = read_and_run(get_importer("org.unit"), fh.read(), "en.csv", user=district_user, commit=True)
    assert again.ok, again.errors
    assert again.counts == {"created": 0, "updated": 0, "unchanged": 2}


def test_large_unit_export_is_a_job_with_the_list_filters(client, district_user, settings,
                                                          django_capture_on_commit_callbacks):
    """Above JINDU_EXPORT_BACKGROUND_ROWS the unit export runs as the user's job, with the
    list's filters applied in the job; the owner downloads the file from the job page."""
    from jindu.core.models import Job
    from jindu.core.tests.test_jobs import run_db_worker

    settings.JINDU_EXPORT_BACKGROUND_ROWS = 1
    for i in range(3):
        Unit.objects.create(name=f"龙华学校{i}", kind="school", division=div("460106"))
    Unit.objects.create(name="龙华区教育局", kind="department", division=div("460106"))
    Unit.objects.create(name="秀英学校", kind="school", division=div("460105"))
    client.force_login(district_user)
    with django_capture_on_commit_callbacks(execute=True):
        resp = client.get(reverse("org:unit_export") + "?kind=school&format=csv")
    job = Job.objects.get(created_by=district_user)
    assert resp.status_code == 302 and resp["Location"] == reverse("job_detail", args=[job.pk])
    run_db_worker()
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED, job.message
    resp = client.get(reverse("job_download", args=[job.pk]))
    text = b"".join(resp.streaming_content).decode("utf-8-sig")
    assert sorted(line.split(",")[0] for line in text.splitlines()[1:]) == ["龙华学校0", "龙华学校1", "龙华学校2"]
