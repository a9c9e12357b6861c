"""The precursors write services: enterprises (credit codes, inspection targets), licences,
ledger postings and balances, voids, stock counts, destructions, enterprise users confined to
their own enterprise, the bulk posting path, and the discrepancy workflow."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from jindu.core.models import AuditEvent, StaleEditError
from jindu.core.testing import division, grant, make_user
from jindu.core.timeutils import local_today
from jindu.inspections.models import Target
from jindu.precursors import services
from jindu.precursors.choices import (
    Direction, DiscrepancyStatus, EnterpriseKind, EntrySource, LicenceKind, LicenceStatus, Resolution,
)
from jindu.precursors.models import (
    Destruction, Discrepancy, Enterprise, LedgerEntry, Licence, StockBalance, StockCount,
)
from jindu.precursors.tests.factories import EnterpriseFactory, chemical, credit_code, entry

D = Decimal
DAY = date(2026, 3, 1)


def role_user(role: str, place: str):
    user = make_user()
    grant(user, role, place)
    return user


@pytest.fixture
def regulator(db):
    return role_user("regulator", "460106")  # 龙华区, where the factory puts enterprises


@pytest.fixture
def ent(db):
    return EnterpriseFactory()


def balance(enterprise, name) -> Decimal:
    row = StockBalance.objects.filter(enterprise=enterprise, chemical=chemical(name)).first()
    return row.quantity_kg if row else D("0")


def post(user, enterprise, name, direction, qty, occurred_on=DAY, **extra):
    return services.post_entry(user=user, enterprise=enterprise, data={
        "chemical": chemical(name), "occurred_on": occurred_on, "direction": direction,
        "quantity_entered": D(qty), "unit_entered": "kg", **extra})


def events(action):
    return AuditEvent.objects.filter(action=action)


# -- credit codes ---------------------------------------------------------------------------
def test_credit_code_is_checked_and_stored_compact():
    good = credit_code(7)
    assert services.clean_credit_code(f" {good.lower()[:6]} {good.lower()[6:]} ") == good
    assert services.clean_credit_code("91350100M000100Y43") == "91350100M000100Y43"  # GB 32100 sample
    with pytest.raises(ValidationError) as exc:
        services.clean_credit_code("91350100M000100Y44")
    assert "统一社会信用代码" in exc.value.messages[0]
    # the check character is right but the embedded organisation code's GB 11714 check is not
    body = "914601000000000" + "01"
    from stdnum.cn import uscc
    with pytest.raises(ValidationError) as exc:
        services.clean_credit_code(body + uscc.calc_check_digit(body))
    assert "组织机构代码" in exc.value.messages[0]


def test_legacy_codes_organisation_code_and_15_digit_registration_number():
    assert services.clean_legacy_code("M000100Y-4") == "M000100Y4"  # the sample code's positions 9–17
    assert services.clean_legacy_code("460100000123456") == "460100000123456"
    for bad in ("M000100Y-3", "46010000012345", "ABC"):
        with pytest.raises(ValidationError):
            services.clean_legacy_code(bad)


# -- enterprises ----------------------------------------------------------------------------
def enterprise_data(**extra):
    return {"name": "海口金渡化工有限公司", "credit_code": credit_code(901), "kind": EnterpriseKind.TRADER,
            "division": division("460106001"), "address": "龙华路1号", "contact_name": "王经理", **extra}


def test_create_enterprise_registers_an_inspection_target(regulator):
    ent = services.create_enterprise(user=regulator, data=enterprise_data())
    target = Target.objects.get(source_model="precursors.Enterprise", source_key=str(ent.pk))
    assert target.kind == "precursor_enterprise" and target.name == ent.name and target.division == ent.division
    assert events("precursors.enterprise_created").filter(target_id=str(ent.pk)).count() == 1


def test_update_enterprise_keeps_the_target_in_step_and_refuses_a_stale_edit(regulator):
    ent = services.create_enterprise(user=regulator, data=enterprise_data())
    ent, changed = services.update_enterprise(user=regulator, enterprise=ent, expected_version=1, data={
        "name": "海口金渡新材料有限公司", "division": division("460106002")})
    assert changed and ent.version == 2
    target = Target.objects.get(source_model="precursors.Enterprise", source_key=str(ent.pk))
    assert (target.name, target.division.code) == ("海口金渡新材料有限公司", division("460106002").code)
    with pytest.raises(StaleEditError):
        services.update_enterprise(user=regulator, enterprise=ent, expected_version=1, data={"address": "别处"})
    assert Enterprise.objects.get(pk=ent.pk).address == "龙华路1号"


def test_bad_or_duplicate_credit_code_is_refused_in_chinese(regulator):
    with pytest.raises(ValidationError) as exc:
        services.create_enterprise(user=regulator, data=enterprise_data(credit_code="914601001234567890"))
    assert "统一社会信用代码" in exc.value.message_dict["credit_code"][0]
    services.create_enterprise(user=regulator, data=enterprise_data())
    with pytest.raises(ValidationError) as exc:
        services.create_enterprise(user=regulator, data=enterprise_data(name="另一家公司"))
    assert "已登记" in exc.value.message_dict["credit_code"][0]
    assert Enterprise.objects.count() == 1


def test_old_record_with_only_an_organisation_code(regulator):
    ent = services.create_enterprise(user=regulator, data=enterprise_data(credit_code="", legacy_code="M000100Y-4"))
    assert (ent.credit_code, ent.legacy_code) == ("", "M000100Y4")


def test_creating_an_enterprise_outside_ones_district_writes_nothing(db):
    xiuying = role_user("regulator", "460105")
    with pytest.raises(PermissionDenied):
        services.create_enterprise(user=xiuying, data=enterprise_data())
    assert not Enterprise.objects.exists()
    assert not Target.objects.filter(source_model="precursors.Enterprise").exists()


# -- licences -------------------------------------------------------------------------------
def test_licence_with_lines_and_revocation(regulator, ent):
    lic = services.create_licence(user=regulator, enterprise=ent, lines=[(chemical("醋酸酐"), D("500")),
                                                                        (chemical("硫酸"), None)], data={
        "kind": LicenceKind.PURCHASE_FILING, "number_raw": "（琼）3J4601000001", "issuer": "海口市公安局",
        "valid_from": "2026-01-01", "valid_until": "2026-12-31"})
    assert lic.number  # normalised from the raw number
    assert {(l.chemical.name_zh, l.quantity_limit_kg) for l in lic.lines.all()} == {("醋酸酐", D("500.000")),
                                                                                   ("硫酸", None)}
    with pytest.raises(ValidationError):
        services.revoke_licence(user=regulator, licence=lic, revoked_on="2026-03-01", reason=" ")
    lic = services.revoke_licence(user=regulator, licence=lic, revoked_on="2026-03-01", reason="企业申请注销")
    assert lic.status == LicenceStatus.REVOKED and "企业申请注销" in lic.note
    assert events("precursors.licence_revoked").get().reason == "企业申请注销"


def test_licence_validity_must_not_be_reversed(regulator, ent):
    with pytest.raises(ValidationError) as exc:
        services.create_licence(user=regulator, enterprise=ent, lines=[(chemical("硫酸"), None)], data={
            "kind": LicenceKind.TRADE_FILING, "number": "琼应急备〔2026〕1号",
            "valid_from": date(2026, 6, 1), "valid_until": date(2026, 5, 31)})
    assert "不能早于" in exc.value.message_dict["valid_until"][0]
    assert not Licence.objects.exists()


# -- posting and balances -------------------------------------------------------------------
def test_postings_keep_the_balance_and_link_the_counterparty(regulator, ent):
    buyer = EnterpriseFactory()
    e1 = post(regulator, ent, "硫酸", Direction.IN, "100")
    e2 = post(regulator, ent, "硫酸", Direction.OUT, "30.5", counterparty_credit_code=buyer.credit_code.lower(),
              document_number="CK-001")
    e3 = post(regulator, ent, "硫酸", Direction.USED, "9.5")
    assert [e1.balance_after_kg, e2.balance_after_kg, e3.balance_after_kg] == [D("100"), D("69.5"), D("60")]
    assert balance(ent, "硫酸") == D("60")
    assert e2.counterparty == buyer and e2.counterparty_credit_code == buyer.credit_code
    assert e1.recorded_by == regulator and e1.source == EntrySource.MANUAL
    assert events("precursors.entry_posted").count() == 3  # one per posting


def test_outside_counterparty_is_kept_by_name(regulator, ent):
    e = post(regulator, ent, "盐酸", Direction.IN, "10", counterparty_name="广东某化工贸易公司",
             counterparty_credit_code=credit_code(555))
    assert e.counterparty is None and e.counterparty_name == "广东某化工贸易公司"


def test_outbound_beyond_the_balance_is_refused_and_nothing_is_written(regulator, ent):
    post(regulator, ent, "丙酮", Direction.IN, "50")
    with pytest.raises(ValidationError) as exc:
        post(regulator, ent, "丙酮", Direction.OUT, "50.001")
    message = exc.value.messages[0]
    assert "丙酮" in message and "当前结存 50 千克" in message and "50.001" in message and "负数" in message
    assert LedgerEntry.objects.filter(enterprise=ent).count() == 1
    assert balance(ent, "丙酮") == D("50")
    assert events("precursors.entry_posted").count() == 1
    post(regulator, ent, "丙酮", Direction.OUT, "50")  # exactly the balance is allowed
    assert balance(ent, "丙酮") == D("0")


def test_an_entry_dated_in_the_future_is_refused(regulator, ent):
    with pytest.raises(ValidationError) as exc:
        post(regulator, ent, "丙酮", Direction.IN, "5", occurred_on=local_today() + timedelta(days=1))
    assert "晚于今天" in str(exc.value)


# -- void -----------------------------------------------------------------------------------
def test_voiding_reverses_the_effect_on_the_balance(regulator, ent):
    inbound = post(regulator, ent, "甲苯", Direction.IN, "100")
    outbound = post(regulator, ent, "甲苯", Direction.OUT, "80")
    with pytest.raises(ValidationError) as exc:  # would leave -80 kg
        services.void_entry(user=regulator, entry=inbound, reason="录入错误")
    assert "负数" in exc.value.messages[0]
    assert balance(ent, "甲苯") == D("20")
    services.void_entry(user=regulator, entry=outbound, reason="重复录入")
    assert balance(ent, "甲苯") == D("100")
    voided = LedgerEntry.objects.get(pk=outbound.pk)
    assert voided.voided_at is not None and voided.void_reason == "重复录入"
    with pytest.raises(ValidationError):
        services.void_entry(user=regulator, entry=voided, reason="again")
    services.void_entry(user=regulator, entry=inbound, reason="录入错误")
    assert balance(ent, "甲苯") == D("0")
    assert LedgerEntry.objects.filter(enterprise=ent).count() == 2  # voided, never deleted


# -- stock counts ---------------------------------------------------------------------------
def test_stock_count_takes_the_ledger_balance_at_the_count_date(regulator, ent):
    post(regulator, ent, "硫酸", Direction.IN, "100", occurred_on=date(2026, 1, 10))
    post(regulator, ent, "硫酸", Direction.OUT, "30", occurred_on=date(2026, 1, 31))
    wrong = post(regulator, ent, "硫酸", Direction.OUT, "5", occurred_on=date(2026, 1, 20))
    services.void_entry(user=regulator, entry=wrong, reason="录错")
    post(regulator, ent, "硫酸", Direction.IN, "40", occurred_on=date(2026, 2, 1))  # after the count
    count = services.record_stock_count(user=regulator, enterprise=ent, chemical=chemical("硫酸"),
                                        counted_on=date(2026, 1, 31), quantity_kg=D("68.5"), counted_by="李四")
    assert count.ledger_balance_kg == D("70") and count.difference_kg == D("-1.5")
    with pytest.raises(ValidationError):  # one count per chemical and day
        services.record_stock_count(user=regulator, enterprise=ent, chemical=chemical("硫酸"),
                                    counted_on=date(2026, 1, 31), quantity_kg=D("70"))
    assert StockCount.objects.count() == 1


# -- destruction ----------------------------------------------------------------------------
def test_destruction_posts_destroyed_entries_linked_to_it(regulator, ent):
    for name in ("硫酸", "三氯甲烷"):
        post(regulator, ent, name, Direction.IN, "20")
    d = services.record_destruction(user=regulator, enterprise=ent, lines=[(chemical("硫酸"), D("12.5")),
                                                                           (chemical("三氯甲烷"), D("20"))], data={
        "destroyed_on": date(2026, 3, 2), "method": "委托有资质单位处置", "witnesses": "张三"})
    lines = {(e.chemical.name_zh, e.quantity_kg, e.direction, e.occurred_on) for e in d.entries.all()}
    assert lines == {("硫酸", D("12.5"), Direction.DESTROYED, date(2026, 3, 2)),
                     ("三氯甲烷", D("20"), Direction.DESTROYED, date(2026, 3, 2))}
    assert balance(ent, "硫酸") == D("7.5") and balance(ent, "三氯甲烷") == D("0")


def test_destroying_more_than_is_held_writes_nothing(regulator, ent):
    post(regulator, ent, "乙醚", Direction.IN, "5")
    with pytest.raises(ValidationError):
        services.record_destruction(user=regulator, enterprise=ent, lines=[(chemical("乙醚"), D("6"))],
                                    data={"destroyed_on": date(2026, 3, 2)})
    assert not Destruction.objects.exists()
    assert balance(ent, "乙醚") == D("5") and LedgerEntry.objects.count() == 1


# -- enterprise users -----------------------------------------------------------------------
@pytest.fixture
def own_and_other(db):
    own, other = EnterpriseFactory(), EnterpriseFactory()
    user = role_user("enterprise", "460106001")
    services.set_enterprise_accounts(user=None, enterprise=own, users=[user])
    entry(other, "硫酸", Direction.IN, "100")
    return user, own, other


def test_enterprise_user_posts_for_its_own_enterprise(own_and_other):
    user, own, _other = own_and_other
    e = post(user, own, "硫酸", Direction.IN, "10")
    assert e.enterprise == own and LedgerEntry.objects.restrict(user).filter(pk=e.pk).exists()


def test_enterprise_user_cannot_post_for_another_enterprise(own_and_other):
    user, _own, other = own_and_other
    before = LedgerEntry.objects.count()
    with pytest.raises(PermissionDenied):
        post(user, other, "硫酸", Direction.OUT, "10")
    with pytest.raises(PermissionDenied):
        services.record_stock_count(user=user, enterprise=other, chemical=chemical("硫酸"),
                                    counted_on=DAY, quantity_kg=D("1"))
    with pytest.raises(services.PostingError) as exc:
        services.post_entries(user=user, source=EntrySource.IMPORT, rows=[
            {"enterprise": other, "chemical": chemical("硫酸"), "occurred_on": DAY, "direction": Direction.OUT,
             "quantity_entered": D("10")}])
    assert exc.value.rows[0][0] == 1 and "管辖范围" in exc.value.rows[0][1]
    assert LedgerEntry.objects.count() == before and balance(other, "硫酸") == D("100")
    assert not StockCount.objects.exists()
    assert not events("precursors.entry_posted").exists() and not events("precursors.entries_posted").exists()


def test_enterprise_user_cannot_void_an_entry_past_the_reporting_window(own_and_other):
    # Recent own entries it may void (test_enterprise_void.py); this one is from March.
    user, own, _other = own_and_other
    e = post(user, own, "硫酸", Direction.IN, "10")
    with pytest.raises(ValidationError, match="报告时限"):
        services.void_entry(user=user, entry=e, reason="录错")
    assert LedgerEntry.objects.get(pk=e.pk).voided_at is None


# -- bulk posting ---------------------------------------------------------------------------
def rows_for(ent, *specs):
    return [{"enterprise": ent, "chemical": chemical(name), "occurred_on": DAY, "direction": d,
             "quantity_entered": D(q), "unit_entered": "kg"} for name, d, q in specs]


def test_bulk_posting_runs_balances_in_input_order_with_one_event(regulator, ent):
    other = EnterpriseFactory()
    entry(ent, "硫酸", Direction.IN, "10")  # existing stock
    rows = rows_for(ent, ("硫酸", Direction.OUT, "10"), ("硫酸", Direction.IN, "5"), ("盐酸", Direction.IN, "3")) \
        + rows_for(other, ("硫酸", Direction.IN, "7"))
    with CaptureQueriesContext(connection) as ctx:
        n = services.post_entries(user=regulator, rows=rows, source=EntrySource.IMPORT)
    assert n == 4
    posted = list(LedgerEntry.objects.filter(source=EntrySource.IMPORT).order_by("pk"))
    assert [e.balance_after_kg for e in posted] == [D("0"), D("5"), D("3"), D("7")]
    assert (balance(ent, "硫酸"), balance(ent, "盐酸"), balance(other, "硫酸")) == (D("5"), D("3"), D("7"))
    assert events("precursors.entries_posted").get().changes["rows"] == 4
    # Existing ledger rows are never read back: only balance rows are.
    reads = [q["sql"] for q in ctx.captured_queries
             if q["sql"].lstrip().upper().startswith("SELECT") and '"precursors_ledgerentry"' in q["sql"]]
    assert reads == []


def test_bulk_posting_is_all_or_nothing_with_row_numbered_errors(regulator, ent):
    entry(ent, "硫酸", Direction.IN, "10")
    rows = rows_for(ent, ("硫酸", Direction.IN, "1"), ("硫酸", Direction.OUT, "20"), ("盐酸", Direction.IN, "1"))
    with pytest.raises(services.PostingError) as exc:
        services.post_entries(user=regulator, rows=rows, source=EntrySource.IMPORT)
    assert [n for n, _m in exc.value.rows] == [2]
    assert "硫酸" in exc.value.rows[0][1] and "当前结存 11 千克" in exc.value.rows[0][1]
    assert exc.value.messages[0].startswith("第 2 行")
    bad = rows_for(ent, ("硫酸", Direction.IN, "1"), ("硫酸", "sideways", "1"), ("硫酸", Direction.IN, "-1"))
    bad[0]["row_number"], bad[1]["row_number"], bad[2]["row_number"] = 11, 12, 13
    with pytest.raises(services.PostingError) as exc:
        services.post_entries(user=regulator, rows=bad, source=EntrySource.IMPORT)
    assert [n for n, _m in exc.value.rows] == [12, 13]
    assert LedgerEntry.objects.count() == 1 and balance(ent, "硫酸") == D("10")
    assert not StockBalance.objects.filter(enterprise=ent, chemical=chemical("盐酸")).exists()
    assert not events("precursors.entries_posted").exists()


# -- discrepancy workflow -------------------------------------------------------------------
@pytest.fixture
def discrepancy(ent):
    return Discrepancy.objects.create(rule="stock_count_mismatch", fingerprint=f"{ent.pk}:1", enterprise=ent,
                                      chemical=chemical("硫酸"), summary="盘点与台账不符")


def test_discrepancy_assigned_worked_closed_and_reopened(regulator, discrepancy):
    colleague = role_user("regulator", "460106")
    deadline = local_today() + timedelta(days=10)
    d = services.assign_discrepancy(user=regulator, discrepancy=discrepancy, assignee=colleague,
                                    deadline=deadline, expected_version=1)
    assert (d.assignee, d.deadline, d.status, d.version) == (colleague, deadline, DiscrepancyStatus.IN_PROGRESS, 2)
    d = services.record_discrepancy_work(user=colleague, discrepancy=d, notes="现场核对库存", expected_version=2)
    assert "现场核对库存" in d.work_notes
    with pytest.raises(ValidationError) as exc:
        services.close_discrepancy(user=colleague, discrepancy=d, resolution=Resolution.REFERRED,
                                   note="涉嫌流失", expected_version=d.version)
    assert "case_number" in exc.value.message_dict
    d = services.close_discrepancy(user=colleague, discrepancy=d, resolution=Resolution.REFERRED, note="涉嫌流失",
                                   case_number="琼公禁立字〔2026〕12号", expected_version=d.version)
    assert (d.status, d.case_number, d.closed_by) == (DiscrepancyStatus.CLOSED, "琼公禁立字〔2026〕12号", colleague)
    with pytest.raises(ValidationError):
        services.record_discrepancy_work(user=colleague, discrepancy=d, notes="x", expected_version=d.version)
    d = services.reopen_discrepancy(user=regulator, discrepancy=d, reason="案件不予立案，退回核查",
                                    expected_version=d.version)
    assert (d.status, d.resolution, d.case_number, d.closed_at) == (DiscrepancyStatus.IN_PROGRESS, "", "", None)
    assert "退回核查" in d.work_notes
    actions = list(AuditEvent.objects.filter(action__startswith="precursors.discrepancy_")
                   .order_by("pk").values_list("action", flat=True))
    assert actions == ["precursors.discrepancy_assigned", "precursors.discrepancy_worked",
                       "precursors.discrepancy_closed", "precursors.discrepancy_reopened"]


def test_assignee_must_be_able_to_see_the_discrepancy(regulator, discrepancy):
    for outsider in (role_user("regulator", "460105"), role_user("enterprise", "460106001")):
        with pytest.raises(ValidationError) as exc:
            services.assign_discrepancy(user=regulator, discrepancy=discrepancy, assignee=outsider,
                                        deadline=local_today(), expected_version=1)
        assert "assignee" in exc.value.message_dict
    assert Discrepancy.objects.get(pk=discrepancy.pk).assignee is None


def test_stale_discrepancy_edit_is_refused(regulator, discrepancy):
    services.record_discrepancy_work(user=regulator, discrepancy=discrepancy, notes="第一次", expected_version=1)
    with pytest.raises(StaleEditError):
        services.close_discrepancy(user=regulator, discrepancy=discrepancy, resolution=Resolution.EXPLAINED,
                                   note="已说明", expected_version=1)
    assert Discrepancy.objects.get(pk=discrepancy.pk).status == DiscrepancyStatus.IN_PROGRESS


def test_out_of_scope_user_cannot_work_a_discrepancy(discrepancy):
    with pytest.raises(PermissionDenied):
        services.record_discrepancy_work(user=role_user("regulator", "460105"), discrepancy=discrepancy,
                                         notes="x", expected_version=1)
    assert Discrepancy.objects.get(pk=discrepancy.pk).work_notes == ""
