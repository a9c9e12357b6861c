"""Services: audit, scope, lifecycle, campaign tagging, suspect–person linking, exact sums."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from jindu.core.models import AuditEvent, StaleEditError
from jindu.core.testing import division, user_with
from jindu.enforcement import selectors, services
from jindu.enforcement.models import Case, Seizure
from jindu.enforcement.quantities import classify_case, classify_suspect, totals_by_drug
from jindu.enforcement.tests.factories import CampaignFactory, CaseFactory, SeizureFactory, substance
from jindu.substances.quantities import QuantityClass

ALL = [f"enforcement.{a}_{m}" for a in ("view", "add", "change", "delete")
       for m in ("case", "suspect", "seizure", "gang", "campaign", "screeningsession", "drivertest")]
ALL += ["geo.view_division", "org.view_unit"]
ID = "460107198503120015"


@pytest.fixture
def police(db):
    return user_with(ALL, division("460106"))


def _case_data(**extra):
    case = CaseFactory.build()
    from jindu.accounts.tests.factories import UnitFactory
    from jindu.org.choices import UnitKind

    data = {"number": case.number, "name": "测试案", "kind": "criminal", "offence": "trafficking",
            "division": division("460106001"), "handling_unit": UnitFactory(kind=UnitKind.POLICE),
            "filed_on": dt.date(2023, 3, 1)}
    data.update(extra)
    return data


def test_create_case_writes_one_event_and_refuses_out_of_scope(police):
    case = services.create_case(user=police, data=_case_data())
    assert AuditEvent.objects.filter(action="enforcement.case_created", target_id=str(case.pk)).count() == 1
    before = Case.objects.count()
    with pytest.raises(PermissionDenied):
        services.create_case(user=police, data=_case_data(number="X-OUT", division=division("460105001")))
    assert Case.objects.count() == before


def test_case_lifecycle_and_dates_checked(police):
    case = services.create_case(user=police, data=_case_data())
    with pytest.raises(ValidationError) as err:
        services.update_case(user=police, case=case, data={"status": "solved"}, expected_version=1)
    assert "破案日期" in str(err.value)
    with pytest.raises(ValidationError):
        services.update_case(user=police, case=case, data={"status": "closed", "closed_on": dt.date(2023, 4, 1)},
                             expected_version=1)  # filed → closed skips solving
    case, changed = services.update_case(user=police, case=case, data={"status": "solved",
                                                                       "solved_on": dt.date(2023, 3, 5)},
                                         expected_version=1)
    assert changed and case.version == 2
    with pytest.raises(StaleEditError):
        services.update_case(user=police, case=case, data={"name": "旧版本"}, expected_version=1)
    with pytest.raises(ValidationError) as err:
        services.update_case(user=police, case=case, data={"transferred_on": dt.date(2023, 3, 1)},
                             expected_version=2)
    assert "移送起诉日期不能早于破案日期" in str(err.value)


def test_campaign_tagging(police):
    city_campaign = CampaignFactory(name="2023年秋冬攻势", division=division("460100"),
                                    start_date=dt.date(2023, 9, 1), end_date=dt.date(2023, 12, 31))
    other_district = CampaignFactory(name="秀英区集群打零", division=division("460105"),
                                     start_date=dt.date(2023, 1, 1), end_date=dt.date(2023, 12, 31))
    # A district police user sees the city's campaign (declared above them), not another district's.
    visible = set(selectors.campaigns(police))
    assert city_campaign in visible and other_district not in visible
    auto = services.create_case(user=police, data=_case_data(filed_on=dt.date(2023, 10, 8)), auto_tag=True)
    assert list(auto.campaigns.all()) == [city_campaign]
    outside = services.create_case(user=police, data=_case_data(number="X-2", filed_on=dt.date(2023, 5, 1)),
                                   auto_tag=True)
    assert outside.campaigns.count() == 0
    assert services.tag_cases(user=police, campaign=city_campaign, cases=[outside, auto]) == 1
    with pytest.raises(ValidationError):
        services.create_case(user=police, data=_case_data(number="X-3"), campaigns=[other_district])
    # Statistics by campaign count each tagged case once.
    for c in (auto, outside):
        services.update_case(user=police, case=c, data={"status": "solved", "solved_on": dt.date(2023, 11, 1)},
                             expected_version=c.version)
    stats = selectors.statistics(police, selectors.StatisticsFilter(
        dt.date(2023, 1, 1), dt.date(2023, 12, 31), campaign=city_campaign))
    assert stats.cases_solved == 2
    # Any role may pick campaigns of its area for tagging (inspections use this).
    regulator = user_with([], division("460106"))  # a grant without enforcement permissions
    assert city_campaign in selectors.campaign_choices(regulator)
    assert other_district not in selectors.campaign_choices(regulator)


def test_suspect_links_to_registered_person_without_duplicating(police):
    from jindu.persons.models import Person

    village = division("460106001").children.order_by("code").first()
    person = Person.objects.create(name="符某", identity_number=ID, residence_division=village,
                                   registered_on=dt.date(2022, 1, 1))
    persons_before = Person.objects.count()
    case1 = services.create_case(user=police, data=_case_data())
    case2 = services.create_case(user=police, data=_case_data(number="X-9"))
    s1 = services.create_suspect(user=police, case=case1, data={"name": "符某", "id_number": ID.lower()})
    s2 = services.create_suspect(user=police, case=case2, data={"name": "符某", "id_number": ID})
    stranger = services.create_suspect(user=police, case=case1, data={"name": "陈某",
                                                                        "id_number": "46010719950808007X"})
    assert s1.person == person and s2.person == person
    assert stranger.person is None
    assert Person.objects.count() == persons_before
    # The same number twice in one case is refused.
    with pytest.raises(Exception):
        services.create_suspect(user=police, case=case1, data={"name": "符某", "id_number": ID})
    # The audit event never holds the number in clear.
    event = AuditEvent.objects.get(action="enforcement.suspect_created", target_id=str(s1.pk))
    assert ID not in str(event.changes)


def test_suspect_and_case_totals_mix_drugs_through_heroin_equivalents(police):
    case = services.create_case(user=police, data=_case_data())
    a = services.create_suspect(user=police, case=case, data={"name": "甲"})
    b = services.create_suspect(user=police, case=case, data={"name": "乙"})
    for sub, grams, who in (("海洛因", "6", a), ("甲基苯丙胺", "3", a), ("氯胺酮", "20", a), ("甲基苯丙胺", "9.999", b)):
        services.create_seizure(user=police, case=case, data={
            "substance": substance(sub), "form": "powder", "net_weight_g": Decimal(grams),
            "seized_on": dt.date(2023, 3, 1), "suspect": who})
    # 甲: 6 + 3 + 20×0.1 = 11 g heroin equivalent → relatively large (derived).
    ca = classify_suspect(a)
    assert ca.quantity_class == QuantityClass.RELATIVELY_LARGE and ca.derived
    # 乙: 9.999 g meth alone → below, own thresholds.
    cb = classify_suspect(b)
    assert cb.quantity_class == QuantityClass.BELOW and not cb.derived
    totals = {t.drug_zh: t.net_weight_g for t in totals_by_drug(case.seizures.all())}
    assert totals["甲基苯丙胺"] == Decimal("12.999")
    assert classify_case(case).quantity_class == QuantityClass.RELATIVELY_LARGE


def test_seizure_validation_in_chinese(police):
    case = services.create_case(user=police, data=_case_data())
    with pytest.raises(ValidationError) as err:
        services.create_seizure(user=police, case=case, data={
            "substance": substance("海洛因"), "form": "powder", "net_weight_g": Decimal("5"),
            "gross_weight_g": Decimal("4"), "seized_on": dt.date(2023, 3, 1)})
    assert "净重不能大于毛重" in str(err.value)
    assert Seizure.objects.filter(case=case).count() == 0


def test_exact_decimal_sums(police):
    case = CaseFactory(division=division("460106"))
    for _ in range(10):
        SeizureFactory(case=case, net_weight_g=Decimal("0.1"))
    SeizureFactory(case=case, net_weight_g=Decimal("0.2"))
    SeizureFactory(case=case, net_weight_g=Decimal("6189.38"))
    total = selectors.exact_gram_sum(Seizure.objects.filter(case=case))
    assert total == Decimal("6190.58") and str(total) == "6190.580"
    assert selectors.exact_gram_sum(Seizure.objects.none()) == Decimal(0)


def test_positive_driver_links_existing_person(police):
    from jindu.enforcement.tests.factories import ScreeningSessionFactory
    from jindu.persons.models import Person

    village = division("460106001").children.order_by("code").first()
    person = Person.objects.create(name="驾驶员", identity_number=ID, residence_division=village,
                                   registered_on=dt.date(2022, 1, 1))
    session = ScreeningSessionFactory(division=division("460106"))
    test = services.record_driver_test(user=police, session=session, data={
        "name": "驾驶员", "id_number": ID, "result": "positive", "substance": substance("甲基苯丙胺")})
    assert test.person == person
    with pytest.raises(ValidationError) as err:
        services.record_driver_test(user=police, session=session, data={"name": "无证号", "result": "positive"})
    assert "身份证号" in str(err.value)
    negative = services.record_driver_test(user=police, session=session, data={
        "name": "阴性", "id_number": "46010719950808007X", "result": "negative"})
    assert negative.person is None
