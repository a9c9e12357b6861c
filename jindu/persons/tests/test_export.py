"""Exports of the person list and the test list: scoped, the list's filters applied, identity
numbers masked per role, access-logged; formula injection (peer case 22), the time-zone
boundary (case 8), query count independent of the number of rows (case 21) and the
export → import round trip."""

import csv
import datetime as dt
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from openpyxl import load_workbook

from jindu.core.exports import export_to_file
from jindu.core.idnumbers import mask_identity_number
from jindu.core.imports import get_importer
from jindu.core.imports.engine import read_and_run
from jindu.core.models import AccessLog
from jindu.persons.exporters import DrugTestExporter, PersonExporter
from jindu.persons.models import Event, Person
from jindu.persons.tests.io_support import PERSON_A_ID, RARE_NAME, make_person, role_user, village
from jindu.substances.models import Substance


def xlsx_rows(content: bytes) -> list[list]:
    ws = load_workbook(io.BytesIO(content)).worksheets[0]
    return [[c.value for c in row] for row in ws.iter_rows()]


def csv_rows(content: bytes) -> list[list[str]]:
    assert content.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(content[3:].decode("utf-8"))))


def download(client, name, params=None) -> bytes:
    response = client.get(reverse(name), params or {})
    assert response.status_code == 200, response
    return b"".join(response.streaming_content)


def column(rows, header):
    index = rows[0].index(header)
    return [r[index] for r in rows[1:]]


@pytest.fixture
def world(db):
    home = village("460106001")
    a = make_person(home, identity_number=PERSON_A_ID, name="张测试", tier="A")
    a.drugs.add(Substance.objects.get(name_zh="甲基苯丙胺"), Substance.objects.get(name_zh="氯胺酮"))
    b = make_person(village("460106002"), name="李样例", tier="B")
    outside = make_person(village("460105001"), name="秀英人")
    return a, b, outside


def test_export_is_scoped_filtered_masked_and_logged(world, client):
    a, b, outside = world
    user = role_user("town_office", "460106")
    client.force_login(user)
    rows = xlsx_rows(download(client, "persons:person_export"))
    assert sorted(column(rows, "姓名")) == sorted(["张测试", "李样例"])  # never 秀英人
    masked = dict(zip(column(rows, "姓名"), column(rows, "证件号码")))
    assert masked["张测试"] == mask_identity_number(PERSON_A_ID)
    drugs = dict(zip(column(rows, "姓名"), column(rows, "滥用毒品种类")))
    assert set(drugs["张测试"].split("、")) == {"甲基苯丙胺", "氯胺酮"}
    log = AccessLog.objects.filter(kind="export").latest("pk")
    assert sorted(log.object_ids) == sorted([str(a.pk), str(b.pk)]) and log.model == "persons.Person"

    rows = csv_rows(download(client, "persons:person_export", {"format": "csv", "tier": "A"}))
    assert column(rows, "姓名") == ["张测试"]
    rows = csv_rows(download(client, "persons:person_export", {"format": "csv", "q": PERSON_A_ID}))
    assert column(rows, "姓名") == ["张测试"] and column(rows, "证件号码") == [mask_identity_number(PERSON_A_ID)]
    rows = csv_rows(download(client, "persons:person_export",
                             {"format": "csv", "division": b.residence_division.parent_id}))
    assert column(rows, "姓名") == ["李样例"]


def test_unreadable_filter_refuses_the_export(world, client):
    client.force_login(role_user("town_office", "460106"))
    before = AccessLog.objects.filter(kind="export").count()
    response = client.get(reverse("persons:person_export"), {"tier": "Z"})
    assert response.status_code == 302 and reverse("persons:person_list") in response["Location"]
    assert AccessLog.objects.filter(kind="export").count() == before


def test_export_without_permission_is_403(world, client):
    client.force_login(role_user("regulator", "460106"))
    assert client.get(reverse("persons:person_export")).status_code == 403
    client.logout()
    assert client.get(reverse("persons:person_export")).status_code == 302


def test_police_export_round_trips_through_import(world, client):
    """Peer case 17 (export, re-import): a user who sees full numbers exports, imports the file
    again, and nothing is duplicated; the rare-character name comes back unchanged."""
    a, _b, _outside = world
    rare = make_person(village("460106001"), name=RARE_NAME,
                       residence_address='=HYPERLINK("http://example.invalid","点击")')
    police = role_user("police", "460106")
    client.force_login(police)
    for fmt in ("xlsx", "csv"):
        content = download(client, "persons:person_export", {"format": fmt})
        rows = xlsx_rows(content) if fmt == "xlsx" else csv_rows(content)
        assert PERSON_A_ID in column(rows, "证件号码")
        assert RARE_NAME in column(rows, "姓名")
        address = [v for v in column(rows, "居住地址") if v and "HYPERLINK" in v][0]
        assert address == (rare.residence_address if fmt == "xlsx" else "'" + rare.residence_address)
        result = read_and_run(get_importer("persons.person"), content, f"export.{fmt}", user=police, commit=True)
        assert result.committed, result.errors
        assert result.counts["created"] == 0 and result.counts["unchanged"] == 3, (fmt, result.counts)
    assert Person.objects.count() == 4
    rare.refresh_from_db()
    assert rare.name == "\u738b\U0002003e" and rare.residence_address.startswith("=HYPERLINK")


def test_xlsx_formula_text_is_a_string_cell(world, client):
    make_person(village("460106001"), name="公式人", residence_address="+1-2", alias="@SUM(A1)")
    client.force_login(role_user("town_office", "460106"))
    content = download(client, "persons:person_export")
    ws = load_workbook(io.BytesIO(content)).worksheets[0]
    cells = [c for row in ws.iter_rows() for c in row if c.value in ("+1-2", "@SUM(A1)")]
    assert len(cells) == 2 and all(c.data_type == "s" for c in cells)


def test_tests_export_by_local_month(db, client):
    """Peer case 8: tests on 1 March (07:30 Shanghai, still 29 February in UTC) and 31 March
    (23:30 Shanghai) are March tests in the filter and the export; February has none."""
    person = make_person(village("460106001"))
    for day in (dt.date(2024, 3, 1), dt.date(2024, 3, 31)):
        Event.objects.create(person=person, kind="urinalysis", occurred_on=day, result="negative")
    Event.objects.create(person=person, kind="urinalysis", occurred_on=dt.date(2024, 4, 1), result="negative")
    client.force_login(role_user("town_office", "460106"))
    march = csv_rows(download(client, "persons:test_export", {"format": "csv", "date_from": "2024-03-01",
                                                               "date_to": "2024-03-31"}))
    assert column(march, "检测日期") == ["2024-03-01", "2024-03-31"]
    february = csv_rows(download(client, "persons:test_export", {"format": "csv", "date_from": "2024-02-01",
                                                                  "date_to": "2024-02-29"}))
    assert len(february) == 1  # the header only
    from jindu.core.testing import api_client

    api = api_client(role_user("town_office", "460106"))
    assert api.get(reverse("api:test-list"), {"date_from": "2024-03-01", "date_to": "2024-03-31"}).json()["count"] == 2
    assert api.get(reverse("api:test-list"), {"date_from": "2024-02-01", "date_to": "2024-02-29"}).json()["count"] == 0


@pytest.mark.parametrize("exporter_class", [PersonExporter, DrugTestExporter])
def test_query_count_does_not_grow_with_rows(db, exporter_class):
    """Peer case 21: the same number of queries for 5 rows and for 60 rows."""
    user = role_user("town_office", "460106")
    meth = Substance.objects.get(name_zh="甲基苯丙胺")
    worker = role_user("social_worker", "460106001")

    def add(n):
        for i in range(n):
            p = make_person(village("460106001", i % 3), name=f"批量{i}", assigned_worker=worker)
            p.drugs.add(meth)
            Event.objects.create(person=p, kind="urinalysis", occurred_on=dt.date(2024, 3, 5), result="negative")

    counts = []
    add(5)
    export_to_file(exporter_class(), user=user, fmt="xlsx")  # warm the per-process caches
    for n in (0, 55):
        add(n)
        with CaptureQueriesContext(connection) as ctx:
            _fh, count = export_to_file(exporter_class(), user=user, fmt="xlsx")
        counts.append((count, len(ctx.captured_queries)))
    assert counts[0][0] == 5 and counts[1][0] == 60
    assert counts[0][1] == counts[1][1]
