"""Registry and case-work pages: scope (403 / 404), search by name or identity number in any
form, masking per role, access logging, register and edit (stale edits refused with nothing
lost), the person's file, the risk form, and a social worker's day from login to the updated
worklist. Query counts of the person list and the worklist do not grow with the rows.
"""

from __future__ import annotations

import datetime as dt
import re
from html import unescape

import pytest
from django.urls import reverse

from jindu.core.idnumbers import mask_identity_number, normalize_identity_number
from jindu.core.models import AccessLog, AuditEvent
from jindu.core.testing import PageScopeTests, division
from jindu.core.timeutils import local_today
from jindu.geo.choices import Level
from jindu.geo.models import Division
from jindu.persons import services
from jindu.persons.choices import DueKind, EventKind, Status, Tier
from jindu.persons.choices import TestResult as Result
from jindu.persons.models import Contact, DueItem, Event, Person, RiskAssessment
from jindu.persons.tests.casework_support import (
    PASSWORD, TOWN, fresh, high_risk_answers, identity_number, in_community_rehab, low_risk_answers, register,
    role_user, village,
)

pytestmark = pytest.mark.django_db


def html_of(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.content.decode()


class TestPersonPageScope(PageScopeTests):
    model = Person
    page_list_url = "persons:person_list"
    page_detail_url = "persons:person_detail"

    def make_row(self, division):
        first_village = Division.objects.filter(path__startswith=division.path, level=Level.VILLAGE).order_by("code")[0]
        return register(residence=first_village)


# --- list, search, masking, access log --------------------------------------------------------------

def test_identity_search_accepts_any_form_through_the_blind_index(client):
    fifteen = "460106750812341"
    person = register(name="张三", identity_number=normalize_identity_number(fifteen))
    register(name="李四")
    client.force_login(role_user("town_office", TOWN))
    url = reverse("persons:person_list")
    full_width = "".join(chr(ord(c) + 0xFEE0) for c in person.identity_number)
    spaced = f" {person.identity_number[:6]} {person.identity_number[6:]} "
    for query in (person.identity_number, fifteen, full_width, spaced):
        page = html_of(client.get(url, {"q": query}))
        assert "张三" in page and "李四" not in page, query
    assert "张三" in html_of(client.get(url, {"q": "张"}))


def test_lower_case_x_finds_the_number_with_check_digit_x(client):
    number = next(n for n in (identity_number() for _ in range(200)) if n.endswith("X"))
    register(name="王五", identity_number=number)
    client.force_login(role_user("town_office", TOWN))
    assert "王五" in html_of(client.get(reverse("persons:person_list"), {"q": number.lower()}))


def test_an_invalid_number_is_an_error_not_an_empty_result(client):
    person = register(name="张三")
    wrong = person.identity_number[:-1] + ("0" if person.identity_number[-1] != "0" else "1")
    client.force_login(role_user("town_office", TOWN))
    page = html_of(client.get(reverse("persons:person_list"), {"q": wrong}))
    assert 'data-testid="filter-errors"' in page and "校验位不正确" in page
    assert "张三" not in page


def test_list_masks_identity_numbers_unless_the_role_may_see_them(client):
    person = register(name="张三")
    masked = mask_identity_number(person.identity_number)
    client.force_login(role_user("town_office", TOWN))
    page = html_of(client.get(reverse("persons:person_list")))
    assert masked in page and person.identity_number not in page
    detail = html_of(client.get(reverse("persons:person_detail", args=[person.pk])))
    assert masked in detail and person.identity_number not in detail
    client.force_login(role_user("police", "460106"))
    assert person.identity_number in html_of(client.get(reverse("persons:person_list")))
    assert person.identity_number in html_of(client.get(reverse("persons:person_detail", args=[person.pk])))


def test_list_search_and_detail_are_access_logged_with_the_number_masked(client):
    person = register(name="张三")
    user = role_user("town_office", TOWN)
    client.force_login(user)
    client.get(reverse("persons:person_list"))
    client.get(reverse("persons:person_list"), {"q": person.identity_number})
    client.get(reverse("persons:person_detail", args=[person.pk]))
    logs = list(AccessLog.objects.filter(user=user, model="persons.Person").order_by("pk"))
    assert [log.kind for log in logs] == ["list", "search", "view"]
    assert logs[1].object_ids == [str(person.pk)] and logs[1].result_count == 1
    assert person.identity_number not in str(logs[1].query)
    assert logs[2].object_ids == [str(person.pk)]


def test_filters_status_tier_worker_division_and_due(client):
    worker = role_user("social_worker", TOWN)
    today = local_today()
    rehab = in_community_rehab(today - dt.timedelta(days=120), name="社戒者", worker=worker)
    services.assess_risk(user=worker, person=rehab, assessed_on=today, answers=high_risk_answers(), trigger="entry")
    register(name="未管控者", residence=village("460106002"))
    client.force_login(role_user("district_office", "460106"))
    url = reverse("persons:person_list")

    def names(**params):
        page = html_of(client.get(url, params))
        return {n for n in ("社戒者", "未管控者") if n in page}

    assert names(status=Status.COMMUNITY_DRUG_REHAB) == {"社戒者"}
    assert names(tier=Tier.A) == {"社戒者"} and names(tier="none") == {"未管控者"}
    assert names(worker=worker.pk) == {"社戒者"}
    assert names(division=division(TOWN).pk) == {"社戒者"}
    assert names(division=division("460106002").pk) == {"未管控者"}
    assert "社戒者" in names(due="overdue")
    page = html_of(client.get(url, {"status": "bogus"}))
    assert 'data-testid="filter-errors"' in page and "社戒者" not in page


def test_list_paginates_and_shows_an_empty_state(client):
    client.force_login(role_user("town_office", TOWN))
    assert "没有符合条件的人员" in html_of(client.get(reverse("persons:person_list")))
    for i in range(27):
        register(name=f"分页{i:02d}", registered_on=dt.date(2020, 1, 1) + dt.timedelta(days=i))
    page = html_of(client.get(reverse("persons:person_list")))
    assert "共 27 人" in page and "分页26" in page and "分页00" not in page
    assert "分页00" in html_of(client.get(reverse("persons:person_list"), {"page": 2}))


def test_person_list_query_count_does_not_grow(client, django_assert_max_num_queries):
    user = role_user("town_office", TOWN)
    client.force_login(user)
    worker = role_user("social_worker", TOWN)
    for i in range(3):
        register(name=f"少{i}", worker=worker)
    client.get(reverse("persons:person_list"))
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as small:
        html_of(client.get(reverse("persons:person_list")))
    for i in range(20):
        register(name=f"多{i}", worker=role_user("social_worker", TOWN))
    with django_assert_max_num_queries(len(small.captured_queries)):
        page = html_of(client.get(reverse("persons:person_list")))
    assert "共 23 人" in page


# --- the file -------------------------------------------------------------------------------------

def test_detail_shows_the_derived_status_why_and_dates(client):
    today = local_today()
    person = in_community_rehab(today - dt.timedelta(days=120), name="档案人")
    client.force_login(role_user("town_office", TOWN))
    page = html_of(client.get(reverse("persons:person_detail", args=[person.pk])))
    person = fresh(person)
    assert "社区戒毒" in page and person.measure_end_on.isoformat() in page
    why = page[page.index('data-testid="status-why"'):]
    assert "<li>" in why[:3000]
    assert 'data-testid="due-items"' in page and "尿检" in page
    for empty in ("还没有联系记录", "还没有帮扶计划", "还没有帮扶救助记录", "还没有风险评估"):
        assert empty in page


def test_view_only_role_sees_the_file_without_actions_and_is_refused_the_forms(client):
    person = register(name="只读")
    client.force_login(role_user("leader", "460106"))
    page = html_of(client.get(reverse("persons:person_detail", args=[person.pk])))
    assert 'data-testid="person-actions"' not in page and 'data-testid="correct-event"' not in page
    for name in ("contact_create", "test_create", "risk_assess", "plan_create", "assistance_create", "event_create",
                 "person_edit"):
        assert client.get(reverse(f"persons:{name}", args=[person.pk])).status_code == 403, name


def test_case_work_forms_answer_404_for_people_outside_the_scope(client):
    person = register(name="别人的", worker=role_user("social_worker", TOWN))
    client.force_login(role_user("social_worker", TOWN))
    for name in ("person_detail", "contact_create", "test_create", "risk_assess", "plan_create", "assistance_create",
                 "event_create", "person_edit"):
        assert client.get(reverse(f"persons:{name}", args=[person.pk])).status_code == 404, name
    response = client.post(reverse("persons:contact_create", args=[person.pk]),
                           {"kind": "interview", "occurred_on": local_today().isoformat()})
    assert response.status_code == 404 and Contact.objects.count() == 0


def test_register_through_the_page(client):
    office = role_user("town_office", TOWN)
    client.force_login(office)
    number = identity_number(dt.date(1990, 3, 7))
    home = village()
    response = client.post(reverse("persons:person_create"), {
        "document_type": "resident_id", "identity_number": number.lower(), "name": "新登记",
        "residence_division": home.pk, "registered_on": local_today().isoformat()})
    person = Person.objects.get(name="新登记")
    assert response.status_code == 302 and response["Location"] == reverse("persons:person_detail", args=[person.pk])
    assert person.birth_date == dt.date(1990, 3, 7) and person.residence_division == home
    assert AuditEvent.objects.filter(action="persons.person_registered", actor=office).count() == 1
    again = html_of(client.post(reverse("persons:person_create"), {
        "document_type": "resident_id", "identity_number": number, "name": "重复", "residence_division": home.pk}))
    assert "该证件号码已登记" in again and not Person.objects.filter(name="重复").exists()


def test_register_cannot_place_a_person_outside_the_scope(client):
    client.force_login(role_user("town_office", TOWN))
    outside = village("460106002")
    page = html_of(client.post(reverse("persons:person_create"), {
        "document_type": "resident_id", "identity_number": identity_number(), "name": "越权",
        "residence_division": outside.pk}))
    assert "居住地" in page and not Person.objects.filter(name="越权").exists()


def test_stale_edit_is_refused_keeps_the_input_and_shows_the_current_values(client):
    person = register(name="原名", residence_address="老地址")
    office = role_user("town_office", TOWN)
    client.force_login(office)
    url = reverse("persons:person_edit", args=[person.pk])
    form = html_of(client.get(url))
    version = int(re.search(r'name="version" value="(\d+)"', form).group(1))
    services.update_person(user=role_user("town_office", TOWN), person=person, data={"name": "他人改名"},
                           expected_version=version)
    payload = {"version": version, "name": "我的改名", "residence_address": "新地址", "document_type": "resident_id",
               "sex": "U", "registered_on": "2020-01-01"}
    page = html_of(client.post(url, payload))
    assert "该记录已被他人修改" in page
    assert 'value="我的改名"' in page and 'value="新地址"' in page  # nothing the user typed is lost
    current = page[page.index('data-testid="stale-current"'):]
    assert "他人改名" in current[:2000]
    assert fresh(person).name == "他人改名"
    new_version = int(re.search(r'name="version" value="(\d+)"', page).group(1))
    assert new_version == fresh(person).version
    response = client.post(url, {**payload, "version": new_version})
    assert response.status_code == 302 and fresh(person).name == "我的改名"


def test_correction_voids_the_record_on_the_timeline(client):
    person = register(name="更正", events=[{"kind": EventKind.DEATH, "occurred_on": dt.date(2024, 1, 5)}])
    assert fresh(person).status == Status.DECEASED
    death = Event.objects.get(person=person, kind=EventKind.DEATH)
    client.force_login(role_user("town_office", TOWN))
    url = reverse("persons:event_correct", args=[person.pk, death.pk])
    assert "请填写更正理由" in html_of(client.post(url, {"reason": ""}))
    response = client.post(url, {"reason": "误录，人员健在"})
    assert response.status_code == 302
    assert fresh(person).status != Status.DECEASED
    page = html_of(client.get(reverse("persons:person_detail", args=[person.pk])))
    assert "已更正" in page and "误录，人员健在" in page


# --- risk form ---------------------------------------------------------------------------------------

def test_risk_form_prefills_from_the_timeline_and_shows_points_and_statuses(client):
    worker = role_user("social_worker", TOWN)
    person = in_community_rehab(local_today() - dt.timedelta(days=120), worker=worker)
    client.force_login(worker)
    page = html_of(client.get(reverse("persons:risk_assess", args=[person.pk])))
    assert 'data-testid="derived-rehab_episodes"' in page and "时间线记录戒毒措施 1 次" in page
    assert re.search(r'name="item_rehab_episodes"[^>]*value="one"[^>]*checked', page)
    assert "15 分" in page  # points of each answer
    for label in ("已核实", "推理默认值", "未核实"):
        assert label in page
    assert 'id="risk-config"' in page and "persons/risk.js" in page


def test_manual_tier_without_reason_is_refused_on_the_page(client):
    worker = role_user("social_worker", TOWN)
    person = in_community_rehab(local_today() - dt.timedelta(days=120), worker=worker)
    client.force_login(worker)
    data = {f"item_{k}" if not k.startswith(("self_harm", "cannot")) else f"flag_{k}": v
            for k, v in low_risk_answers().items()}
    data.update(assessed_on=local_today().isoformat(), trigger="entry", tier="A", override_reason="")
    page = html_of(client.post(reverse("persons:risk_assess", args=[person.pk]), data))
    assert 'data-testid="override-reason-error"' in page and "须填写人工调整理由" in page
    assert RiskAssessment.objects.count() == 0


# --- the social worker's day --------------------------------------------------------------------------

def action_link(page: str, kind: str, person: Person) -> str:
    row = re.search(rf'<tr data-person="{person.pk}" data-kind="{kind}">(.*?)</tr>', page, re.S)
    assert row, kind
    return unescape(re.search(r'href="([^"]+)" data-testid="do-', row.group(1)).group(1))


def test_a_social_worker_s_day(client):
    today = local_today()
    worker = role_user("social_worker", TOWN, full_name="李社工")
    person = in_community_rehab(today - dt.timedelta(days=120), name="王某", worker=worker)
    services.assess_risk(user=worker, person=person, assessed_on=today - dt.timedelta(days=40),
                         answers=high_risk_answers(), trigger="entry")

    # Log in and see what is due.
    response = client.post(reverse("login"), {"username": worker.username, "password": PASSWORD})
    assert response.status_code == 302
    worklist_url = reverse("persons:my_worklist")
    page = html_of(client.get(worklist_url))
    start = page.index('data-testid="due-overdue"')
    overdue = page[start:page.index("</table>", start)]
    for kind in ("home_visit", "urinalysis", "reassessment"):
        assert f'data-person="{person.pk}" data-kind="{kind}"' in overdue, kind

    # A home visit, one click from the worklist and back to it.
    url = action_link(page, "home_visit", person)
    form = html_of(client.get(url))
    assert re.search(r'<option value="home_visit" selected>', form)
    response = client.post(url, {"kind": "home_visit", "occurred_on": today.isoformat(), "place": "家中",
                                 "notes": "情况稳定", "next": worklist_url})
    assert response.status_code == 302 and response["Location"] == worklist_url

    # A negative urinalysis.
    page = html_of(client.get(worklist_url))
    url = action_link(page, "urinalysis", person)
    response = client.post(url, {"kind": "urinalysis", "occurred_on": today.isoformat(), "result": "negative",
                                 "source": "social_worker", "next": worklist_url})
    assert response.status_code == 302

    # Reassess with the pre-filled form.
    page = html_of(client.get(worklist_url))
    url = action_link(page, "reassessment", person)
    answers = {("flag_" if k in ("self_harm_or_psychosis", "cannot_be_detained") else "item_") + k: v
               for k, v in low_risk_answers().items()}
    response = client.post(url, {**answers, "assessed_on": today.isoformat(), "trigger": "periodic", "tier": "",
                                 "override_reason": "", "next": worklist_url})
    assert response.status_code == 302

    # The worklist has moved on.
    page = html_of(client.get(worklist_url))
    for kind in ("home_visit", "urinalysis", "reassessment"):
        assert f'data-person="{person.pk}" data-kind="{kind}"' not in page.split('data-testid="due-today"')[0], kind
    assert Contact.objects.get(person=person).worker == worker
    assert Event.objects.get(person=person, kind=EventKind.URINALYSIS).result == Result.NEGATIVE
    assert fresh(person).tier == RiskAssessment.objects.filter(person=person).latest("pk").tier
    actions = set(AuditEvent.objects.filter(actor=worker).values_list("action", flat=True))
    assert {"persons.contact_recorded", "persons.event_recorded", "persons.risk_assessed"} <= actions
    assert DueItem.objects.get(person=person, kind=DueKind.URINALYSIS).due_on > today


def test_worklist_page_empty_state_and_query_count(client, django_assert_max_num_queries):
    worker = role_user("social_worker", TOWN)
    client.force_login(worker)
    assert "目前没有分配给您的人员" in html_of(client.get(reverse("persons:my_worklist")))
    today = local_today()
    for i in range(2):
        in_community_rehab(today - dt.timedelta(days=120), name=f"少{i}", worker=worker)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.get(reverse("persons:my_worklist"))
    with CaptureQueriesContext(connection) as small:
        html_of(client.get(reverse("persons:my_worklist")))
    for i in range(10):
        in_community_rehab(today - dt.timedelta(days=100 + i), name=f"多{i}", worker=worker)
    with django_assert_max_num_queries(len(small.captured_queries)):
        page = html_of(client.get(reverse("persons:my_worklist")))
    assert "多9" in page


def test_division_worklist_pages_drill_down_and_refuse_other_districts(client):
    today = local_today()
    in_community_rehab(today - dt.timedelta(days=120), name="钻取")
    client.force_login(role_user("district_office", "460106"))
    page = html_of(client.get(reverse("persons:division_worklist_root")))
    assert division("460106").name in page and f'data-division="{division(TOWN).code}"' in page
    town_page = html_of(client.get(reverse("persons:division_worklist", args=[division(TOWN).pk])))
    assert village().name in town_page
    village_page = html_of(client.get(reverse("persons:division_worklist", args=[village().pk])))
    assert "钻取" in village_page
    assert client.get(reverse("persons:division_worklist", args=[division("460105").pk])).status_code == 404


def test_worklist_card(client):
    worker = role_user("social_worker", TOWN)
    in_community_rehab(local_today() - dt.timedelta(days=120), worker=worker)
    client.force_login(worker)
    page = html_of(client.get(reverse("persons:worklist_card")))
    assert 'data-testid="worklist-card"' in page and 'data-testid="card-mine"' in page
    assert "<html" not in page  # a fragment for the home page


def test_pages_keep_the_content_security_policy(client):
    worker = role_user("social_worker", TOWN)
    person = in_community_rehab(local_today() - dt.timedelta(days=120), worker=worker)
    client.force_login(worker)
    for url in (reverse("persons:person_list"), reverse("persons:person_detail", args=[person.pk]),
                reverse("persons:risk_assess", args=[person.pk]), reverse("persons:my_worklist"),
                reverse("persons:contact_create", args=[person.pk]), reverse("persons:division_worklist_root")):
        page = html_of(client.get(url))
        assert "style=" not in page, url
        for tag in re.findall(r"<script[^>]*>", page):
            assert "src=" in tag or 'type="application/json"' in tag, (url, tag)


def test_the_town_office_assigns_a_worker_who_then_has_the_person_on_the_worklist(client):
    person = in_community_rehab(local_today() - dt.timedelta(days=120), name="待分配")
    worker = role_user("social_worker", TOWN, full_name="赵社工")
    client.force_login(role_user("town_office", TOWN))
    page = html_of(client.get(reverse("persons:person_detail", args=[person.pk])))
    assert 'data-testid="assign-form"' in page and "赵社工" in page
    response = client.post(reverse("persons:assign_worker", args=[person.pk]), {"worker": worker.pk, "reason": "新入职"})
    assert response.status_code == 302 and fresh(person).assigned_worker == worker
    client.force_login(worker)
    assert "待分配" in html_of(client.get(reverse("persons:my_worklist")))
    assert 'data-testid="assign-form"' not in html_of(client.get(reverse("persons:person_detail", args=[person.pk])))


def test_a_positive_test_on_the_page_offers_the_reassessment(client):
    worker = role_user("social_worker", TOWN)
    person = in_community_rehab(local_today() - dt.timedelta(days=120), worker=worker)
    client.force_login(worker)
    response = client.post(reverse("persons:test_create", args=[person.pk]), {
        "kind": "urinalysis", "occurred_on": local_today().isoformat(), "result": "positive",
        "source": "social_worker"}, follow=True)
    page = html_of(response)
    assert "需要重新评估风险" in page
    assert f'{reverse("persons:risk_assess", args=[person.pk])}?trigger=positive_test' in page
    assert fresh(person).last_detected_use_on == local_today()
