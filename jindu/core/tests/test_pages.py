"""Site pages: login and lockout, the scoped home dashboard, navigation, language, CSP."""

import itertools
import json

import pytest
from django.test import override_settings
from django.urls import reverse

from jindu.accounts.models import Role, RoleAssignment, User
from jindu.csp_settings import CONTENT_SECURITY_POLICY, CSP_MIDDLEWARE
from jindu.geo.models import Division

_n = itertools.count(1)
PASSWORD = "Correct-horse-9"


def div(code: str) -> Division:
    return Division.objects.get(code=code.ljust(12, "0"))


def make_user(*grants: tuple[str, str], **extra) -> User:
    """A user holding ``(role_code, division_code)`` grants."""
    extra.setdefault("username", f"p{next(_n)}")
    user = User.objects.create_user(password=PASSWORD, **extra)
    for role, code in grants:
        RoleAssignment.objects.create(user=user, role=Role.objects.get(code=role), division=div(code))
    return user


def district_rows(html: str) -> dict[str, tuple[int, int]]:
    """``{district: (town total, villages)}`` parsed from the dashboard table."""
    import re

    rows = {}
    for m in re.finditer(r'<tr data-district="([^"]+)">(.*?)</tr>', html, re.S):
        towns = re.search(r'data-col="town_total">(\d+)<', m.group(2)).group(1)
        villages = re.search(r'data-col="villages">(\d+)<', m.group(2)).group(1)
        rows[m.group(1)] = (int(towns), int(villages))
    return rows


@pytest.mark.django_db
def test_anonymous_is_sent_to_login(client):
    for url in ["/", reverse("geo:division_tree"), reverse("org:unit_list"), reverse("org:pairing_list")]:
        resp = client.get(url)
        assert resp.status_code == 302
        assert resp.url.startswith(reverse("login"))


@pytest.mark.django_db
def test_login_then_dashboard_shows_city_counts(client):
    make_user(("leader", "4601"), username="leader1")
    resp = client.post(reverse("login"), {"username": "leader1", "password": PASSWORD})
    assert resp.status_code == 302 and resp.url == reverse("home")
    html = client.get("/").content.decode()
    rows = district_rows(html)
    assert {k: v[0] for k, v in rows.items()} == {"秀英区": 8, "龙华区": 11, "琼山区": 11, "美兰区": 13}
    total_villages = Division.objects.filter(level="village", code__startswith="4601").count()
    assert sum(v[1] for v in rows.values()) == total_villages
    assert 'data-stat="districts"' in html
    # chart data travels as JSON, not as script
    chart = json.loads(html.split('id="district-chart-data" type="application/json">')[1].split("</script>")[0])
    assert chart["categories"] == ["秀英区", "龙华区", "琼山区", "美兰区"]


@pytest.mark.django_db
def test_town_user_dashboard_is_own_town_only(client):
    user = make_user(("town_office", "460106001"))
    client.force_login(user)
    html = client.get("/").content.decode()
    rows = district_rows(html)
    villages = Division.objects.filter(level="village", parent=div("460106001")).count()
    assert rows == {"龙华区": (1, villages)}
    # the district itself is outside the town's scope: named, not linked
    assert reverse("geo:division_detail", args=[div("460106").pk]) not in html


@pytest.mark.django_db
def test_district_user_dashboard_is_own_district(client):
    user = make_user(("district_office", "460108"))
    client.force_login(user)
    rows = district_rows(client.get("/").content.decode())
    assert list(rows) == ["美兰区"] and rows["美兰区"][0] == 13


@pytest.mark.django_db
def test_user_without_role_sees_empty_state(client):
    client.force_login(make_user())
    html = client.get("/").content.decode()
    assert "尚未分配管辖范围" in html
    assert 'data-district=' not in html


@pytest.mark.django_db
def test_users_count_hidden_without_permission(client):
    client.force_login(make_user(("police", "460106")))
    html = client.get("/").content.decode()
    assert 'data-stat="units"' in html
    assert 'data-stat="users"' not in html


@pytest.mark.django_db
def test_navigation_lists_every_module_and_pending_ones_say_so(client):
    client.force_login(make_user(("leader", "4601")))
    html = client.get("/").content.decode()
    for key in ["home", "geo", "org", "persons", "workforce", "enforcement", "inspections", "precursors",
                "prevention", "cultivation", "monitoring", "assessment", "reporting"]:
        assert f'data-nav="{key}"' in html
    assert "建设中" in html
    resp = client.get(reverse("module_pending", args=["prevention"]))
    assert resp.status_code == 200
    assert "尚未建设" in resp.content.decode()
    assert client.get(reverse("module_pending", args=["nonsense"])).status_code == 404
    assert client.get(reverse("module_pending", args=["geo"])).status_code == 302


@pytest.mark.django_db
def test_user_menu_shows_roles_with_divisions(client):
    client.force_login(make_user(("town_office", "460106001"), ("police", "460106")))
    html = client.get("/").content.decode()
    assert "镇街禁毒办 · <span class=\"text-body-secondary\">中山街道</span>" in html
    assert "公安禁毒 · <span class=\"text-body-secondary\">龙华区</span>" in html


@pytest.mark.django_db
def test_logout_is_post(client):
    client.force_login(make_user(("leader", "4601")))
    # GET shows a page with a POST button and never signs out.
    page = client.get(reverse("logout"))
    assert page.status_code == 200 and 'method="post"' in page.content.decode()
    assert client.get("/").status_code == 200
    resp = client.post(reverse("logout"))
    assert resp.status_code == 302
    assert client.get("/").status_code == 302


@pytest.mark.django_db
def test_lockout_after_five_failures(client):
    make_user(("leader", "4601"), username="victim")
    for _ in range(5):
        resp = client.post(reverse("login"), {"username": "victim", "password": "wrong-password"})
    resp = client.post(reverse("login"), {"username": "victim", "password": PASSWORD})
    assert resp.status_code in (403, 429)
    assert "账号已暂时锁定" in resp.content.decode()
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
@override_settings(JINDU_DEMO=False)
def test_demo_logins_hidden_outside_demo(client):
    User.objects.create_user(username="demo_admin", password=PASSWORD)
    User.objects.filter(username="demo_admin").update(is_demo=True)
    html = client.get(reverse("login")).content.decode()
    assert "demo_admin" not in html and "演示账号" not in html


@pytest.mark.django_db
@override_settings(JINDU_DEMO=True)
def test_demo_logins_and_banner_in_demo_mode(client):
    make_user(("leader", "4601"), username="leader")  # one of the listed demo logins
    make_user(username="city_admin")  # its grant was revoked: not a working login
    # A module's demo world makes many more demo accounts (a brigade's workers): not listed.
    make_user(("leader", "4601"), username="qs_worker_01")
    User.objects.filter(username__in=["leader", "city_admin", "qs_worker_01"]).update(is_demo=True)
    make_user(("leader", "4601"), username="real_person")
    html = client.get(reverse("login")).content.decode()
    assert "<code>leader</code>" in html
    assert "领导（只读）（海口市）" in html
    assert "city_admin" not in html and "real_person" not in html and "qs_worker_01" not in html
    assert "演示数据" in html


@pytest.mark.django_db
def test_english_switch_translates_navigation(client):
    client.force_login(make_user(("leader", "4601")))
    assert "行政区划" in client.get("/").content.decode()
    resp = client.post(reverse("set_language"), {"language": "en", "next": "/"})
    assert resp.status_code == 302
    html = client.get("/").content.decode()
    assert "Divisions" in html and "Organisations" in html
    assert "Under construction" in html
    assert "行政区划" not in html


@pytest.mark.django_db
def test_csp_header_has_no_inline_script(client):
    middleware = ["django.middleware.security.SecurityMiddleware", CSP_MIDDLEWARE]
    from django.conf import settings

    middleware += [m for m in settings.MIDDLEWARE if m != "django.middleware.security.SecurityMiddleware"]
    with override_settings(MIDDLEWARE=middleware, CONTENT_SECURITY_POLICY=CONTENT_SECURITY_POLICY):
        client.force_login(make_user(("leader", "4601")))
        resp = client.get("/")
        csp = resp["Content-Security-Policy"]
        script_src = next(p for p in csp.split(";") if p.strip().startswith("script-src"))
        assert "'unsafe-inline'" not in script_src and "'unsafe-eval'" not in script_src
        html = resp.content.decode()
        # every <script> either loads a file or carries JSON data
        import re

        for tag in re.findall(r"<script[^>]*>", html):
            assert "src=" in tag or 'type="application/json"' in tag, tag
