"""Population figures in the app: list (scope, filters, pages, empty state), add and correct
(source required, duplicates and out-of-scope divisions refused in Chinese, history and
audit), Excel import and export, permissions per role, the statistics page's link."""

from __future__ import annotations

import io

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from openpyxl import load_workbook

from jindu.core.imports.testing import make_csv, make_xlsx
from jindu.core.models import AuditEvent, ImportBatch
from jindu.core.testing import division, user_with
from jindu.core.tests.test_pages import make_user
from jindu.geo import services
from jindu.geo.models import Population

pytestmark = pytest.mark.django_db

POP_PERMS = ["geo.view_division", "geo.view_population", "geo.add_population", "geo.change_population"]
LONGHUA, XIUYING, ZHONGSHAN = "460106", "460105", "460106001"
HEADER = ["区划代码", "年度", "口径", "人口数", "来源文件", "出处", "可信度"]
SOURCE = "测试用来源（非真实数据）"


@pytest.fixture
def admin(db):
    return make_user(("ncc_admin", "4601"))


@pytest.fixture
def longhua_keeper(db):
    """May keep population figures in 龙华区 only."""
    return user_with(POP_PERMS, division(LONGHUA))


def _figure(code, year=2020, kind=Population.Kind.CENSUS_RESIDENT, population=40000):
    return Population.objects.create(division=division(code), year=year, kind=kind, population=population,
                                     source_doc=SOURCE)


def _form(code, **over):
    data = {"division": division(code).pk, "year": 2020, "kind": "census resident", "population": "40000",
            "source_doc": SOURCE, "source_ref": "表 1-1", "confidence": "high"}
    data.update(over)
    return data


def _page_codes(html: str) -> list[str]:
    import re

    return re.findall(r'<td class="code">(\d{12})</td>', html)


# -- list ---------------------------------------------------------------------------------


def test_list_shows_only_figures_in_scope_and_filters(client, longhua_keeper, admin):
    _figure(ZHONGSHAN)
    client.force_login(longhua_keeper)
    html = client.get(reverse("geo:population_list")).content.decode()
    codes = set(_page_codes(html))
    assert division(LONGHUA).code in codes and division(ZHONGSHAN).code in codes
    assert division(XIUYING).code not in codes and "460100000000" not in codes  # city and other districts
    assert 'data-testid="population-add"' in html
    # The city admin sees the city and all four districts, not the province above the city.
    client.force_login(admin)
    html = client.get(reverse("geo:population_list"), {"level": "town"}).content.decode()
    assert _page_codes(html) == [division(ZHONGSHAN).code]
    html = client.get(reverse("geo:population_list"), {"year": "2023", "kind": "year-end resident"}).content.decode()
    assert _page_codes(html) == ["460100000000"]
    assert "460000000000" not in client.get(reverse("geo:population_list")).content.decode()
    # A filter value that cannot be read shows the error and no rows.
    response = client.get(reverse("geo:population_list"), {"year": "二〇二〇"})
    html = response.content.decode()
    assert response.status_code == 200 and 'data-testid="filter-errors"' in html and _page_codes(html) == []


def test_list_paginates_and_has_an_empty_state(client, admin, longhua_keeper):
    from jindu.geo.models import Division

    villages = list(Division.objects.filter(level="village", path__startswith=division(LONGHUA).path)
                    .order_by("code")[:30])
    assert len(villages) >= 26
    for v in villages:
        _figure(v.code, population=3000)
    client.force_login(admin)
    first = client.get(reverse("geo:population_list"), {"level": "village"}).content.decode()
    second = client.get(reverse("geo:population_list"), {"level": "village", "page": 2}).content.decode()
    assert len(_page_codes(first)) == 25 and len(_page_codes(second)) == len(villages) - 25
    assert set(_page_codes(first)).isdisjoint(_page_codes(second))
    # Someone whose jurisdiction has no figures at all gets the empty state, not an empty table.
    keeper = user_with(POP_PERMS, division("460105001"))
    client.force_login(keeper)
    html = client.get(reverse("geo:population_list")).content.decode()
    assert 'data-testid="population-empty"' in html and "还没有人口数据" in html


# -- add and correct ----------------------------------------------------------------------


def test_add_writes_history_and_one_audit_event(client, longhua_keeper):
    client.force_login(longhua_keeper)
    assert client.get(reverse("geo:population_create")).status_code == 200
    response = client.post(reverse("geo:population_create"), _form(ZHONGSHAN))
    assert response.status_code == 302, response.content.decode()[:3000]
    figure = Population.objects.get(division=division(ZHONGSHAN), year=2020)
    stored = (figure.population, figure.source_doc, figure.source_ref, figure.confidence)
    assert stored == (40000, SOURCE, "表 1-1", "high")
    assert figure.history.get().history_user == longhua_keeper
    event = AuditEvent.objects.get(action="geo.population_created")
    assert event.actor == longhua_keeper and event.changes["population"] == 40000
    assert event.changes["division"] == division(ZHONGSHAN).code


def test_source_required_and_bad_numbers_refused_in_chinese(client, longhua_keeper):
    client.force_login(longhua_keeper)
    response = client.post(reverse("geo:population_create"),
                           _form(ZHONGSHAN, source_doc="  ", population="4万", year="20"))
    html = response.content.decode()
    assert response.status_code == 200
    assert "请填写来源文件" in html and "人口数应为整数" in html and "年度不能早于 1949 年" in html
    assert not Population.objects.filter(division=division(ZHONGSHAN)).exists()


def test_duplicate_refused_with_a_clear_chinese_message(client, longhua_keeper):
    _figure(ZHONGSHAN)
    client.force_login(longhua_keeper)
    response = client.post(reverse("geo:population_create"), _form(ZHONGSHAN, population="41000"))
    html = response.content.decode()
    assert response.status_code == 200
    assert "中山街道 2020 年的普查常住人口已录入（40000 人" in html and "请编辑已有的那一条" in html
    assert "已经存在" not in html  # Django's generic constraint text is not repeated
    assert Population.objects.get(division=division(ZHONGSHAN)).population == 40000
    # The service says the same, also when the form's check is bypassed (the constraint's path).
    with pytest.raises(ValidationError) as exc:
        services.create_population(user=longhua_keeper, data={
            "division": division(ZHONGSHAN), "year": 2020, "kind": "census resident", "population": 1,
            "source_doc": SOURCE})
    assert "已录入" in exc.value.messages[0]
    # Moving another figure onto the same key while correcting it is refused the same way.
    other = _figure(ZHONGSHAN, year=2021)
    response = client.post(reverse("geo:population_edit", args=[other.pk]), _form(ZHONGSHAN, year=2020))
    assert response.status_code == 200 and "已录入" in response.content.decode()
    other.refresh_from_db()
    assert other.year == 2021


def test_out_of_scope_division_refused_and_figure_not_reachable(client, longhua_keeper):
    client.force_login(longhua_keeper)
    response = client.post(reverse("geo:population_create"), _form("460105001"))
    assert response.status_code == 200
    assert "不在您可以录入人口数据的范围内" in response.content.decode()
    assert not Population.objects.filter(division__code="460105001000").exists()
    xiuying = Population.objects.get(division=division(XIUYING), year=2020, kind="census resident")
    assert client.get(reverse("geo:population_edit", args=[xiuying.pk])).status_code == 404
    assert client.post(reverse("geo:population_edit", args=[xiuying.pk]), _form(XIUYING)).status_code == 404
    with pytest.raises(Exception) as exc:
        services.create_population(user=longhua_keeper, data={
            "division": division("460105001"), "year": 2020, "kind": "census resident", "population": 1,
            "source_doc": SOURCE})
    assert type(exc.value).__name__ == "PermissionDenied"
    assert not Population.objects.filter(division__code="460105001000").exists()


def test_correct_is_audited_with_old_and_new_and_stale_save_refused(client, longhua_keeper):
    figure = _figure(ZHONGSHAN)
    client.force_login(longhua_keeper)
    page = client.get(reverse("geo:population_edit", args=[figure.pk])).content.decode()
    assert 'data-testid="population-history"' in page
    loaded = services.population_fingerprint(figure)
    response = client.post(reverse("geo:population_edit", args=[figure.pk]),
                           _form(ZHONGSHAN, population="40500", loaded=loaded))
    assert response.status_code == 302
    figure.refresh_from_db()
    assert figure.population == 40500
    event = AuditEvent.objects.get(action="geo.population_updated")
    assert event.changes["population"] == [40000, 40500]
    # A second editor still holding the old page is refused; the newer figure stays.
    response = client.post(reverse("geo:population_edit", args=[figure.pk]),
                           _form(ZHONGSHAN, population="39000", loaded=loaded))
    assert response.status_code == 200 and "已被他人修改" in response.content.decode()
    figure.refresh_from_db()
    assert figure.population == 40500
    html = client.get(reverse("geo:population_edit", args=[figure.pk])).content.decode()
    assert "40500" in html and longhua_keeper.username in html


# -- import and export ----------------------------------------------------------------------


def _upload(client, data: bytes, name: str) -> ImportBatch:
    f = io.BytesIO(data)
    f.name = name
    response = client.post(reverse("geo:population_import"), {"file": f})
    assert response.status_code == 302, response.content.decode()[:2000]
    return ImportBatch.objects.latest("pk")


def _commit(client, batch) -> ImportBatch:
    assert client.post(reverse("import_commit", args=[batch.pk])).status_code == 302
    batch.refresh_from_db()
    return batch


def test_import_good_rows_then_repeat_changes_nothing(client, longhua_keeper):
    client.force_login(longhua_keeper)
    towns = list(division(LONGHUA).children.order_by("code")[:2])
    rows = [HEADER,
            [towns[0].code, "2020", "普查常住人口", "40,000", SOURCE, "表 1-1", "高"],
            [towns[1].code[:9], "2020", "普查常住人口", "35000", SOURCE, "", ""]]
    batch = _commit(client, _upload(client, make_csv(rows, encoding="gbk"), "人口.csv"))
    assert batch.status == ImportBatch.Status.COMMITTED, batch.errors
    got = dict(Population.objects.filter(division__in=towns).values_list("division__code", "population"))
    assert got == {towns[0].code: 40000, towns[1].code: 35000}
    assert AuditEvent.objects.filter(action="geo.population_created", actor=longhua_keeper).count() == 2
    history = Population.history.count()
    # The same file again (as xlsx): every row unchanged, nothing written.
    batch = _commit(client, _upload(client, make_xlsx(rows, text_columns=[1]), "人口.xlsx"))
    assert batch.status == ImportBatch.Status.COMMITTED, batch.errors
    assert batch.summary["counts"] == {"created": 0, "updated": 0, "unchanged": 2}
    assert Population.history.count() == history
    assert not AuditEvent.objects.filter(action="geo.population_updated").exists()
    # A changed number corrects the figure (one update, audited).
    rows[1][3] = "40100"
    batch = _commit(client, _upload(client, make_csv(rows), "人口.csv"))
    assert batch.summary["counts"]["updated"] == 1
    assert Population.objects.get(division=towns[0], year=2020).population == 40100
    assert AuditEvent.objects.filter(action="geo.population_updated").count() == 1


def test_import_bad_rows_refused_with_row_numbers_and_nothing_written(client, longhua_keeper):
    client.force_login(longhua_keeper)
    town = division(ZHONGSHAN)
    batch = _upload(client, make_csv([
        HEADER,
        [town.code, "2020", "普查常住人口", "40000", SOURCE, "", ""],       # 2: fine alone
        ["460105001000", "2020", "普查常住人口", "1000", SOURCE, "", ""],   # 3: 秀英区, out of scope
        [town.code, "2021", "常住", "40000", SOURCE, "", ""],               # 4: unknown kind
        [town.code, "2022", "年末常住人口", "40000", "", "", ""],           # 5: no source
        [town.code, "2023", "年末常住人口", "四万", SOURCE, "", ""],         # 6: not a number
    ]), "人口.csv")
    assert batch.status == ImportBatch.Status.REJECTED
    by_row: dict[int, str] = {}
    for e in batch.errors:
        by_row[e["row"]] = by_row.get(e["row"], "") + e["message"]
    assert "不在您的管辖范围内" in by_row[3]
    assert "普查常住人口" in by_row[4] and "来源文件" in by_row[5] and "整数" in by_row[6]
    assert 2 not in by_row
    assert not Population.objects.filter(division=town).exists()
    # An existing figure's key in the file with a duplicate row: both refused as duplicates.
    batch = _upload(client, make_csv([
        HEADER,
        [town.code, "2020", "普查常住人口", "40000", SOURCE, "", ""],
        [town.code, "2020", "普查常住人口", "40001", SOURCE, "", ""],
    ]), "人口.csv")
    assert batch.status == ImportBatch.Status.REJECTED and {e["row"] for e in batch.errors} == {2, 3}


def test_export_reads_back_and_reimports_unchanged(client, longhua_keeper):
    _figure(ZHONGSHAN, population=40000)
    Population.objects.filter(division=division(ZHONGSHAN)).update(source_doc="=HYPERLINK(\"x\")")
    client.force_login(longhua_keeper)
    response = client.get(reverse("geo:population_export"), {"level": "town"})
    assert response.status_code == 200
    content = b"".join(response.streaming_content) if response.streaming else response.content
    ws = load_workbook(io.BytesIO(content)).active
    rows = [[c.value for c in r] for r in ws.iter_rows()]
    assert rows[0] == ["区划代码", "区划名称", "年度", "口径", "人口数", "来源文件", "出处", "可信度"]
    assert len(rows) == 2
    code, name, year, kind, population, source = rows[1][:6]
    assert (code, name, year, kind, population) == (division(ZHONGSHAN).code, "中山街道", 2020, "普查常住人口", 40000)
    assert source == '=HYPERLINK("x")' and ws.cell(row=2, column=6).data_type == "s"  # text, never a formula
    # The exported file goes back in unchanged (区划名称 is an extra column the import ignores).
    batch = _commit(client, _upload(client, content, "人口.xlsx"))
    assert batch.status == ImportBatch.Status.COMMITTED, batch.errors
    assert batch.summary["counts"].get("unchanged") == 1 and not batch.summary["counts"].get("updated")
    # Out-of-scope figures never leave: 龙华区's keeper exports no 秀英区 figure.
    response = client.get(reverse("geo:population_export"), {"format": "csv"})
    text = (b"".join(response.streaming_content) if response.streaming else response.content).decode("utf-8-sig")
    assert division(LONGHUA).code in text and division(XIUYING).code not in text


# -- permissions per role -------------------------------------------------------------------


@pytest.mark.parametrize("role", ["district_office", "town_office", "leader", "assessor", "police", "regulator"])
def test_only_ncc_admin_adds_or_imports(client, admin, role):
    client.force_login(admin)
    assert client.get(reverse("geo:population_create")).status_code == 200
    assert client.get(reverse("geo:population_import")).status_code == 200
    user = make_user((role, "460106" if role != "town_office" else ZHONGSHAN))
    client.force_login(user)
    assert client.get(reverse("geo:population_create")).status_code == 403
    assert client.post(reverse("geo:population_create"), _form(ZHONGSHAN)).status_code == 403
    assert client.get(reverse("geo:population_import")).status_code == 403
    figure = Population.objects.get(division=division(LONGHUA), year=2020, kind="census resident")
    assert client.post(reverse("geo:population_edit", args=[figure.pk]), _form(LONGHUA)).status_code == 403
    assert not Population.objects.filter(division=division(ZHONGSHAN)).exists()


def test_user_without_population_view_gets_403():
    user = user_with(["geo.view_division"], division(LONGHUA))
    from django.test import Client

    client = Client()
    client.force_login(user)
    assert client.get(reverse("geo:population_list")).status_code == 403
    assert client.get(reverse("geo:population_export")).status_code == 403
    assert 'data-testid="geo-nav"' not in client.get(reverse("geo:division_tree")).content.decode()


@pytest.mark.parametrize("role", ["district_office", "town_office", "leader", "assessor"])
def test_roles_that_view_divisions_view_figures(client, role):
    user = make_user((role, "460106"))
    client.force_login(user)
    html = client.get(reverse("geo:population_list")).content.decode()
    assert division(LONGHUA).code in _page_codes(html) and division(XIUYING).code not in _page_codes(html)
    assert 'data-testid="population-add"' not in html


def test_menu_tab_and_statistics_link_for_who_may_add(client, admin):
    client.force_login(admin)
    html = client.get(reverse("geo:division_tree")).content.decode()
    assert 'data-testid="geo-nav"' in html and reverse("geo:population_list") in html
    html = client.get(reverse("persons:statistics"), {"period": "2024", "level": "town"}).content.decode()
    assert 'data-testid="share-missing"' in html
    assert f'href="{reverse("geo:population_list")}" data-testid="population-entry"' in html
    assert "admin/geo/population" not in html
    leader = make_user(("leader", "4601"))
    client.force_login(leader)
    html = client.get(reverse("persons:statistics"), {"period": "2024", "level": "town"}).content.decode()
    assert 'data-testid="share-missing"' in html and 'data-testid="population-entry"' not in html
