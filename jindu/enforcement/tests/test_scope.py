"""Scope for pages and API (core.testing's generic tests) and for every default role."""

import datetime as dt

import pytest
from django.urls import reverse

from jindu.accounts.tests.factories import UnitFactory
from jindu.core.testing import ApiScopeTests, PageScopeTests, api_client, division, grant, make_user
from jindu.enforcement.models import Campaign, Case, DriverTest, Gang, ScreeningSession, Seizure, Suspect
from jindu.enforcement.tests.factories import (
    CampaignFactory,
    CaseFactory,
    GangFactory,
    ScreeningSessionFactory,
    SeizureFactory,
    SuspectFactory,
    substance,
)
from jindu.org.choices import UnitKind

CASE_REF = ("geo.view_division", "org.view_unit", "enforcement.view_case")


class TestCaseScope(ApiScopeTests, PageScopeTests):
    model = Case
    api_list_url = "api:case-list"
    api_detail_url = "api:case-detail"
    page_list_url = "enforcement:case_list"
    page_detail_url = "enforcement:case_detail"

    def make_row(self, div):
        return CaseFactory(division=div)

    def create_payload(self, div):
        unit = UnitFactory(division=div, kind=UnitKind.POLICE)
        return {"number": f"API-{div.code}", "name": "接口案件", "kind": "criminal", "offence": "trafficking",
                "division": div.pk, "handling_unit": unit.pk, "filed_on": "2023-05-01"}

    def move_payload(self, row, div):
        return {"division": div.pk}


class TestCampaignScope(ApiScopeTests, PageScopeTests):
    model = Campaign
    api_list_url = "api:campaign-list"
    api_detail_url = "api:campaign-detail"
    page_list_url = "enforcement:campaign_list"
    page_detail_url = "enforcement:campaign_detail"

    def make_row(self, div):
        return CampaignFactory(division=div)

    def create_payload(self, div):
        return {"name": "区级集群打零", "kind": "cluster", "level": "district", "division": div.pk,
                "start_date": "2023-05-01", "end_date": "2023-10-31"}

    def move_payload(self, row, div):
        return {"division": div.pk}


class TestGangScope(ApiScopeTests, PageScopeTests):
    model = Gang
    api_list_url = "api:gang-list"
    api_detail_url = "api:gang-detail"
    page_list_url = "enforcement:gang_list"
    page_detail_url = "enforcement:gang_detail"

    def make_row(self, div):
        return GangFactory(division=div)

    def create_payload(self, div):
        return {"name": "接口团伙", "division": div.pk, "is_broken_up": True, "broken_up_on": "2023-06-01"}

    def move_payload(self, row, div):
        return {"division": div.pk}


class TestSuspectScope(ApiScopeTests):
    model = Suspect
    api_list_url = "api:suspect-list"
    api_detail_url = "api:suspect-detail"
    writer_extra_perms = CASE_REF

    def make_row(self, div):
        return SuspectFactory(case=CaseFactory(division=div))

    def create_payload(self, div):
        return {"case": CaseFactory(division=div).pk, "name": "接口嫌疑人", "id_number": "460107198503120015"}

    def move_payload(self, row, div):
        return {"case": CaseFactory(division=div).pk}


class TestSeizureScope(ApiScopeTests):
    model = Seizure
    api_list_url = "api:seizure-list"
    api_detail_url = "api:seizure-detail"
    writer_extra_perms = CASE_REF

    def make_row(self, div):
        return SeizureFactory(case=CaseFactory(division=div))

    def create_payload(self, div):
        return {"case": CaseFactory(division=div).pk, "substance": substance("海洛因").pk, "form": "powder",
                "net_weight_g": "10.000", "seized_on": "2023-05-01"}

    def move_payload(self, row, div):
        return {"case": CaseFactory(division=div).pk}


class TestScreeningScope(ApiScopeTests, PageScopeTests):
    model = ScreeningSession
    api_list_url = "api:screeningsession-list"
    api_detail_url = "api:screeningsession-detail"
    page_list_url = "enforcement:screening_list"
    page_detail_url = "enforcement:screening_detail"

    def make_row(self, div):
        return ScreeningSessionFactory(division=div)

    def create_payload(self, div):
        return {"unit": UnitFactory(division=div).pk, "division": div.pk, "held_on": "2023-05-01",
                "category": "bus"}

    def move_payload(self, row, div):
        return {"division": div.pk}


class TestDriverTestScope(ApiScopeTests):
    model = DriverTest
    api_list_url = "api:drivertest-list"
    api_detail_url = "api:drivertest-detail"
    api_writable = False

    def make_row(self, div):
        return DriverTest.objects.create(session=ScreeningSessionFactory(division=div), name="司机",
                                         result="negative")


# -- default roles ------------------------------------------------------------------------------
# role → (may view cases, may add cases), granted in 龙华区.
ROLES = {
    "ncc_admin": (True, True), "district_office": (True, False), "town_office": (False, False),
    "social_worker": (False, False), "police": (True, True), "regulator": (False, False),
    "assessor": (True, False), "leader": (True, False), "enterprise": (False, False),
}


@pytest.mark.parametrize("role,expected", ROLES.items())
def test_default_roles(role, expected, db, client):
    may_view, may_add = expected
    user = make_user()
    grant(user, role, division("460106"))
    mine = CaseFactory(division=division("460106001"))
    other = CaseFactory(division=division("460105001"))
    SuspectFactory(case=mine, id_number="460107198503120015")
    client.force_login(user)
    api = api_client(user)
    pages = [reverse("enforcement:case_list"), reverse("enforcement:case_detail", args=[mine.pk]),
             reverse("enforcement:statistics")]
    for url in pages:
        assert client.get(url).status_code == (200 if may_view else 403), url
    assert api.get(reverse("api:case-list")).status_code == (200 if may_view else 403)
    assert api.get(reverse("api:suspect-list")).status_code == (200 if may_view else 403)
    if may_view:
        assert client.get(reverse("enforcement:case_detail", args=[other.pk])).status_code == 404
        html = client.get(reverse("enforcement:case_detail", args=[mine.pk])).content.decode()
        # Only police and the NCC administrator hold accounts.view_identity_number.
        assert ("460107198503120015" in html) == (role in ("police", "ncc_admin"))
        assert "460107********0015" in html or role in ("police", "ncc_admin")
    assert client.get(reverse("enforcement:case_create")).status_code == (200 if may_add else 403)


def test_district_statistics_never_count_other_districts(db, client):
    user = make_user()
    grant(user, "leader", division("460106"))
    CaseFactory(division=division("460106001"), solved_on=dt.date(2023, 5, 1), status="solved")
    CaseFactory(division=division("460105001"), solved_on=dt.date(2023, 5, 1), status="solved")
    client.force_login(user)
    html = client.get(reverse("enforcement:statistics"), {"date_from": "2023-01-01",
                                                          "date_to": "2023-12-31"}).content.decode()
    assert 'data-testid="cases-solved">1 起' in html
