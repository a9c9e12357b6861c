"""Grids (网格) under villages: code allocation, name uniqueness, scope, audit, pages, API, import."""

from __future__ import annotations

import io
import threading

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connection, connections, transaction
from django.urls import reverse

from jindu.core.imports.testing import make_csv, make_xlsx
from jindu.core.models import AuditEvent, ImportBatch
from jindu.core.testing import api_client, division, no_committed_trail, user_with
from jindu.core.tests.test_pages import make_user
from jindu.geo import services
from jindu.geo.models import Division

GRID_PERMS = ["geo.view_division", "geo.add_division", "geo.change_division"]


def village_of(town_code: str, n: int = 0) -> Division:
    return Division.objects.filter(level="village", parent__code=town_code.ljust(12, "0")).order_by("code")[n]


@pytest.fixture
def village(db):
    return village_of("460106001")  # a community of 中山街道, 龙华区


@pytest.fixture
def town_manager(db):
    """May manage grids in 中山街道 only."""
    return user_with(GRID_PERMS, division("460106001"))


@pytest.fixture
def admin(db):
    return make_user(("ncc_admin", "4601"))


# -- services ----------------------------------------------------------------------------


def test_codes_are_village_code_and_sequence(village, town_manager):
    a = services.create_grid(user=town_manager, village=village, name="第一网格")
    b = services.create_grid(user=town_manager, village=village, name="第二网格")
    assert (a.code, b.code) == (f"{village.code}-01", f"{village.code}-02")
    assert a.level == "grid" and a.parent == village and a.path == f"{village.path}{a.code}/"
    # A deactivated grid keeps its number: the next one never reuses it.
    services.deactivate_grid(user=town_manager, grid=b, reason="合并")
    c = services.create_grid(user=town_manager, village=village, name="第三网格")
    assert c.code == f"{village.code}-03"
    # A hand-given code must have the village's prefix and be free.
    d = services.create_grid(user=town_manager, village=village, name="第九网格", code=f"{village.code}-09")
    assert d.code.endswith("-09")
    assert services.create_grid(user=town_manager, village=village, name="第十网格").code.endswith("-10")
    for bad in (f"{village.code}-09", "460106001999-01", "abc", f"{village.code}-00"):
        with pytest.raises(ValidationError) as exc:
            services.create_grid(user=town_manager, village=village, name=f"坏编码{bad}", code=bad)
        assert "code" in exc.value.message_dict


def test_name_unique_within_village_also_in_database(village, town_manager):
    services.create_grid(user=town_manager, village=village, name="东区网格")
    with pytest.raises(ValidationError) as exc:
        services.create_grid(user=town_manager, village=village, name="  东区网格\u3000")
    assert "已有名为“东区网格”的网格" in exc.value.message_dict["name"][0]
    # Another village may use the same name.
    other = village_of("460106001", 1)
    services.create_grid(user=town_manager, village=other, name="东区网格")
    # The constraint holds even when the service is bypassed.
    with pytest.raises(IntegrityError), transaction.atomic():
        Division.objects.create(code=f"{village.code}-77", name="东区网格", level="grid", parent=village)
    # Statistical divisions are not bound by it (NBS names may repeat under one parent).
    assert Division.objects.filter(level="grid", name="东区网格").count() == 2


def test_grid_only_under_a_village(town_manager):
    with pytest.raises(ValidationError) as exc:
        services.create_grid(user=town_manager, village=division("460106001"), name="镇级网格")
    assert "只能建在村（社区）之下" in exc.value.message_dict["parent"][0]
    assert not Division.objects.filter(level="grid").exists()


def test_rename_and_deactivate_are_audited_once_each(village, town_manager):
    grid = services.create_grid(user=town_manager, village=village, name="西区网格")
    grid, changed = services.rename_grid(user=town_manager, grid=grid, name="西片网格", reason="社区调整")
    assert changed and grid.name == "西片网格" and grid.code.endswith("-01")
    assert services.rename_grid(user=town_manager, grid=grid, name="西片网格")[1] is False
    services.deactivate_grid(user=town_manager, grid=grid, reason="并入东区")
    grid.refresh_from_db()
    assert grid.is_active is False
    events = list(AuditEvent.objects.filter(target_id=str(grid.pk)).order_by("id"))
    assert [e.action for e in events] == ["geo.grid_created", "geo.grid_renamed", "geo.grid_deactivated"]
    assert all(e.actor == town_manager for e in events)
    assert events[1].changes == {"name": ["西区网格", "西片网格"]} and events[1].reason == "社区调整"
    assert events[2].reason == "并入东区"
    assert grid.history.count() == 3


def test_town_office_cannot_touch_another_towns_village(town_manager, admin):
    elsewhere = village_of("460106002")  # 滨海街道
    with pytest.raises(PermissionDenied):
        services.create_grid(user=town_manager, village=elsewhere, name="越界网格")
    theirs = services.create_grid(user=admin, village=elsewhere, name="滨海一网格")
    with pytest.raises(PermissionDenied):
        services.rename_grid(user=town_manager, grid=theirs, name="改名")
    with pytest.raises(PermissionDenied):
        services.deactivate_grid(user=town_manager, grid=theirs)
    # Pages and API answer 404, the same as for a missing village.
    client = api_client(town_manager)
    assert client.post(reverse("geo:grid_create", args=[elsewhere.pk]), {"name": "越界"}).status_code == 404
    assert client.post(reverse("geo:grid_rename", args=[theirs.pk]), {"name": "改名"}).status_code == 404
    assert client.post(reverse("geo:grid_deactivate", args=[theirs.pk]), {}).status_code == 404
    response = client.post(reverse("api:division-grids", args=[elsewhere.pk]), {"name": "越界"}, format="json")
    assert response.status_code == 404
    assert client.post(reverse("api:division-rename", args=[theirs.pk]), {"name": "x"}, format="json").status_code == 404
    theirs.refresh_from_db()
    assert theirs.name == "滨海一网格" and theirs.is_active
    assert list(Division.objects.filter(level="grid").values_list("name", flat=True)) == ["滨海一网格"]


def test_roles_without_grid_permission_get_403(village):
    leader = make_user(("leader", "4601"))
    client = api_client(leader)
    assert client.post(reverse("geo:grid_create", args=[village.pk]), {"name": "x"}).status_code == 403
    assert client.post(reverse("api:division-grids", args=[village.pk]), {"name": "x"}, format="json").status_code == 403
    assert not Division.objects.filter(level="grid").exists()


# -- pages ------------------------------------------------------------------------------


def test_village_page_shows_grids_and_forms_per_role(client, village, admin):
    services.create_grid(user=admin, village=village, name="一号网格")
    client.force_login(admin)
    html = client.get(reverse("geo:division_detail", args=[village.pk])).content.decode()
    assert 'data-testid="grid-table"' in html and "一号网格" in html and f"{village.code}-01" in html
    assert 'data-testid="grid-add-form"' in html and "改名 / 停用" in html
    leader = make_user(("leader", "4601"))
    client.force_login(leader)
    html = client.get(reverse("geo:division_detail", args=[village.pk])).content.decode()
    assert "一号网格" in html and 'data-testid="grid-add-form"' not in html and "改名 / 停用" not in html
    # A town page has no grid section; its children table lists villages only.
    html = client.get(reverse("geo:division_detail", args=[village.parent_id])).content.decode()
    assert 'data-testid="grids"' not in html


def test_page_create_rename_deactivate_plain_and_htmx(client, village, town_manager):
    client.force_login(town_manager)
    url = reverse("geo:grid_create", args=[village.pk])
    response = client.post(url, {"name": "南区网格"})
    assert response.status_code == 302 and response.url.endswith(f"/{village.pk}/#grids")
    grid = Division.objects.get(parent=village, level="grid")
    # htmx: the grid section comes back.
    response = client.post(url, {"name": "北区网格"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith('<div class="card mb-3" id="grids"') and "北区网格" in html
    assert "已新建网格“北区网格”" in html
    # A duplicate name is refused with the reason, nothing written.
    response = client.post(url, {"name": "南区网格"})
    assert response.status_code == 400
    assert "已有名为“南区网格”的网格" in response.content.decode()
    assert Division.objects.filter(parent=village, level="grid").count() == 2
    response = client.post(reverse("geo:grid_rename", args=[grid.pk]), {"name": "南片网格", "reason": "更名"})
    assert response.status_code == 302
    response = client.post(reverse("geo:grid_deactivate", args=[grid.pk]), {"reason": "撤销"})
    grid.refresh_from_db()
    assert grid.name == "南片网格" and not grid.is_active
    html = client.get(reverse("geo:division_detail", args=[village.pk])).content.decode()
    assert "已停用" in html and "重新启用" in html
    client.post(reverse("geo:grid_reactivate", args=[grid.pk]), {})
    grid.refresh_from_db()
    assert grid.is_active


def test_page_and_api_leave_the_same_audit_events(village, town_manager):
    page = api_client(town_manager)
    page.post(reverse("geo:grid_create", args=[village.pk]), {"name": "页面网格"})
    response = api_client(town_manager).post(reverse("api:division-grids", args=[village.pk]),
                                             {"name": "接口网格"}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["code"] == f"{village.code}-02" and response.json()["level"] == "grid"
    api_grid = response.json()["id"]
    response = api_client(town_manager).post(reverse("api:division-rename", args=[api_grid]),
                                             {"name": "接口网格二"}, format="json")
    assert response.status_code == 200 and response.json()["name"] == "接口网格二"
    response = api_client(town_manager).post(reverse("api:division-rename", args=[api_grid]),
                                             {"name": "页面网格"}, format="json")
    assert response.status_code == 400 and "name" in response.json()["errors"]
    response = api_client(town_manager).post(reverse("api:division-rename", args=[village.pk]),
                                             {"name": "村改名"}, format="json")
    assert response.status_code == 400  # only grids are renamed here
    response = api_client(town_manager).post(reverse("api:division-deactivate", args=[api_grid]),
                                             {"reason": "测试"}, format="json")
    assert response.status_code == 200 and response.json()["is_active"] is False
    created = AuditEvent.objects.filter(action="geo.grid_created").order_by("id")
    assert [(e.actor, e.changes["name"], sorted(e.changes)) for e in created] == [
        (town_manager, "页面网格", ["code", "name", "village"]),
        (town_manager, "接口网格", ["code", "name", "village"]),
    ]
    assert AuditEvent.objects.filter(action="geo.grid_renamed").count() == 1
    assert AuditEvent.objects.filter(action="geo.grid_deactivated").count() == 1
    # Grids are listed by the divisions API with the level filter.
    ids = [r["id"] for r in api_client(town_manager).get(
        reverse("api:division-list"), {"level": "grid", "parent": village.pk}).json()["results"]]
    assert api_grid in ids and len(ids) == 2


# -- import -----------------------------------------------------------------------------


def _upload(client, data: bytes, name: str) -> ImportBatch:
    f = io.BytesIO(data)
    f.name = name
    response = client.post(reverse("geo:grid_import"), {"file": f})
    assert response.status_code == 302, response.content.decode()[:2000]
    return ImportBatch.objects.latest("pk")


def test_import_grids_from_csv_and_xlsx(client, village, town_manager):
    client.force_login(town_manager)
    other = village_of("460106001", 1)
    data = make_csv([
        ["村居代码", "网格名称", "网格编码"],
        [village.code, "第一网格", ""],
        [village.code, "第二网格", f"{village.code}-05"],
        [other.code, "第一网格", ""],
    ], encoding="gbk")
    batch = _upload(client, data, "网格.csv")
    assert batch.status == ImportBatch.Status.PREVIEWED, batch.errors
    assert not Division.objects.filter(level="grid").exists()
    assert client.post(reverse("import_commit", args=[batch.pk])).status_code == 302
    batch.refresh_from_db()
    assert batch.status == ImportBatch.Status.COMMITTED, batch.errors
    assert sorted(Division.objects.filter(level="grid").values_list("code", "name")) == sorted([
        (f"{village.code}-01", "第一网格"), (f"{village.code}-05", "第二网格"), (f"{other.code}-01", "第一网格"),
    ])
    assert AuditEvent.objects.filter(action="geo.grid_created", actor=town_manager).count() == 3
    # Re-importing the same rows changes nothing; a row contradicting a grid's code is refused.
    batch = _upload(client, make_xlsx([
        ["村居代码", "网格名称", "网格编码"],
        [village.code, "第一网格", f"{village.code}-01"],
        [village.code, "第二网格", f"{village.code}-02"],
    ], text_columns=[1, 3]), "网格.xlsx")
    assert batch.status == ImportBatch.Status.REJECTED
    assert any(e["row"] == 3 and "-05" in e["message"] for e in batch.errors), batch.errors


def test_import_refuses_bad_rows_with_reasons(client, village, town_manager):
    client.force_login(town_manager)
    elsewhere = village_of("460106002")
    batch = _upload(client, make_csv([
        ["村居代码", "网格名称"],
        [elsewhere.code, "越界网格"],
        [village.code, "重复网格"],
        [village.code, "重复网格"],
        [village.parent.code, "镇级网格"],
        [village.code, ""],
    ]), "网格.csv")
    assert batch.status == ImportBatch.Status.REJECTED
    by_row = {}
    for e in batch.errors:
        by_row.setdefault(e["row"], []).append(e["message"])
    assert "不在您的管辖范围内" in " ".join(by_row[2])
    assert "重复" in " ".join(by_row[3]) and "重复" in " ".join(by_row[4])
    assert "未找到" in " ".join(by_row[5])  # a town code is not a village
    assert 6 in by_row
    assert not Division.objects.filter(level="grid").exists()


def test_import_numeric_village_code_cell_refused_unless_exact(client, village, town_manager):
    client.force_login(town_manager)
    batch = _upload(client, make_xlsx([["村居代码", "网格名称"], [float(village.code), "数字单元格"]]), "网格.xlsx")
    # 12 exact digits survive a numeric cell; the row is accepted.
    assert batch.status == ImportBatch.Status.PREVIEWED, batch.errors
    batch = _upload(client, make_xlsx([["村居代码", "网格名称"], [46010600100.1, "小数"]]), "网格.xlsx")
    assert batch.status == ImportBatch.Status.REJECTED
    assert "文本" in batch.errors[0]["message"]


# -- concurrency ------------------------------------------------------------------------
#
# Real concurrency needs committed rows seen by several connections, so this test runs
# outside the per-test transaction and removes its own rows (``transaction=True`` would
# flush the session's divisions).


@pytest.fixture
def committed_manager(django_db_setup, django_db_blocker):
    from jindu.accounts.models import RoleAssignment, User

    with django_db_blocker.unblock(), no_committed_trail():
        user = user_with(GRID_PERMS, division("460107"), username="grid-race")
        yield user
        grids = Division.objects.filter(level="grid", parent__parent__code="460107001000")
        grids.delete()
        roles = [a.role for a in RoleAssignment.objects.filter(user=user)]
        RoleAssignment.objects.filter(user=user).delete()
        for role in roles:
            role.delete()
        User.objects.filter(pk=user.pk).delete()


def test_concurrent_creates_get_different_codes(committed_manager, django_db_blocker):
    if connection.vendor != "postgresql":
        pytest.skip("row locks need PostgreSQL; SQLite serialises writers anyway")
    with django_db_blocker.unblock():
        target = village_of("460107001")
    barrier = threading.Barrier(2)
    outcomes: list = [None, None]

    def worker(i):
        try:
            barrier.wait(timeout=10)
            outcomes[i] = services.create_grid(user=committed_manager, village=target, name=f"并发网格{i}").code
        except Exception as exc:  # reported by the assertion below
            outcomes[i] = repr(exc)
        finally:
            connections.close_all()

    with django_db_blocker.unblock():
        threads = [threading.Thread(target=worker, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert sorted(outcomes) == [f"{target.code}-01", f"{target.code}-02"], outcomes
        assert Division.objects.filter(parent=target, level="grid").count() == 2


def test_rename_from_a_stale_page_is_refused(client, village, town_manager):
    grid = services.create_grid(user=town_manager, village=village, name="东片网格")
    client.force_login(town_manager)
    # Someone renames the grid after this page showed "东片网格".
    services.rename_grid(user=town_manager, grid=grid, name="东区网格")
    response = client.post(reverse("geo:grid_rename", args=[grid.pk]),
                           {"current_name": "东片网格", "name": "东一网格"})
    assert "已被改名为“东区网格”" in response.content.decode()
    grid.refresh_from_db()
    assert grid.name == "东区网格"
