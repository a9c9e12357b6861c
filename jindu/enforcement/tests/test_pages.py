"""Pages: list filters and export, forms with Chinese errors, the quantity basis on the case page."""

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse

from jindu.core.testing import division, grant, make_user
from jindu.enforcement.models import Case
from jindu.enforcement.tests.factories import CaseFactory, SeizureFactory, substance


@pytest.fixture
def police(db, client):
    user = make_user()
    grant(user, "police", division("460106"))
    client.force_login(user)
    return user


def test_case_list_filters_and_bad_filter(police, client):
    a = CaseFactory(division=division("460106001"), name="甲案", kind="criminal")
    b = CaseFactory(division=division("460106001"), name="乙案", kind="administrative", offence="drug_use")
    url = reverse("enforcement:case_list")
    html = client.get(url, {"kind": "administrative"}).content.decode()
    assert reverse("enforcement:case_detail", args=[b.pk]) in html
    assert reverse("enforcement:case_detail", args=[a.pk]) not in html
    response = client.get(url, {"filed_from": "2023-02-30"})
    assert 'data-testid="filter-errors"' in response.content.decode()
    assert client.get(reverse("enforcement:case_export")).status_code == 200


def test_case_create_form_errors_name_the_field(police, client):
    response = client.post(reverse("enforcement:case_create"), {"number": "", "name": "新案"})
    html = response.content.decode()
    assert response.status_code == 200 and 'data-testid="form-errors"' in html
    assert "案件编号：" in html and "立案日期：" in html
    assert not Case.objects.filter(name="新案").exists()


def test_case_detail_shows_class_and_basis(police, client):
    case = CaseFactory(division=division("460106001"))
    SeizureFactory(case=case, substance=substance("海洛因"), net_weight_g=Decimal("50.000"),
                   seized_on=dt.date(2023, 3, 1))
    html = client.get(reverse("enforcement:case_detail", args=[case.pk])).content.decode()
    assert "数量大" in html and "第三百四十七条第二款" in html and "50 克" in html


def test_seizure_form_refuses_net_above_gross(police, client):
    case = CaseFactory(division=division("460106001"))
    response = client.post(reverse("enforcement:seizure_create", args=[case.pk]), {
        "substance": substance("海洛因").pk, "form": "powder", "gross_weight_g": "4", "net_weight_g": "5",
        "seized_on": "2023-03-01"})
    assert "净重不能大于毛重" in response.content.decode()
    assert case.seizures.count() == 0
    response = client.post(reverse("enforcement:seizure_create", args=[case.pk]), {
        "substance": substance("海洛因").pk, "form": "powder", "gross_weight_g": "6", "net_weight_g": "5.5",
        "seized_on": "2023-03-01"})
    assert response.status_code == 302 and case.seizures.get().net_weight_g == Decimal("5.5")


def test_statistics_page_refuses_reversed_dates(police, client):
    html = client.get(reverse("enforcement:statistics"), {"date_from": "2023-12-31",
                                                          "date_to": "2023-01-01"}).content.decode()
    assert "截止日期不能早于起始日期" in html
