"""Licence revocation dates (吊销/注销日期): the service's checks, the page, the API, the
export, the model's "revoked exactly when dated" check, and the migration that dated the
licences revoked before the field existed."""

from __future__ import annotations

import importlib
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone

import pytest
from django.apps import apps
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connection, transaction
from django.urls import reverse

from jindu.core.models import AuditEvent
from jindu.core.testing import api_client, division
from jindu.core.timeutils import local_today
from jindu.precursors import services
from jindu.precursors.choices import LicenceStatus
from jindu.precursors.exporters import LicenceExporter
from jindu.precursors.models import Licence
from jindu.precursors.tests.factories import EnterpriseFactory, LicenceFactory, licence_line
from jindu.precursors.tests.test_pages import account_of, user_as

fill_revoked_on = importlib.import_module("jindu.precursors.migrations.0004_licence_revoked_on").fill_revoked_on


@pytest.fixture
def regulator(db):
    return user_as("regulator", "460106")  # 龙华区


@pytest.fixture
def lic(db):
    """A purchase filing valid from a year ago to a year ahead, at a 龙华区 enterprise."""
    today = local_today()
    licence = LicenceFactory(enterprise=EnterpriseFactory(division=division("460106001")),
                             valid_from=today - timedelta(days=365), valid_until=today + timedelta(days=365))
    licence_line(licence, "硫酸")
    return licence


def revoked_events():
    return AuditEvent.objects.filter(action="precursors.licence_revoked")


def refused(lic, user, **kwargs) -> ValidationError:
    with pytest.raises(ValidationError) as info:
        services.revoke_licence(user=user, licence=lic, **kwargs)
    stored = Licence.objects.get(pk=lic.pk)
    assert stored.status == LicenceStatus.VALID and stored.revoked_on is None and stored.version == lic.version
    assert not revoked_events().exists()
    return info.value


# -- service ---------------------------------------------------------------------------------
def test_revocation_is_dated_by_the_decision_and_may_be_back_dated(regulator, lic):
    decided = local_today() - timedelta(days=40)  # the paper decision arrived weeks later
    row = services.revoke_licence(user=regulator, licence=lic, revoked_on=decided, reason="企业申请注销")
    stored = Licence.objects.get(pk=lic.pk)
    assert (stored.status, stored.revoked_on) == (LicenceStatus.REVOKED, decided) == (row.status, row.revoked_on)
    assert f"{decided.isoformat()} 吊销/注销：企业申请注销" in stored.note
    [event] = revoked_events()
    assert event.reason == "企业申请注销" and event.actor == regulator
    assert event.changes["revoked_on"] == [None, decided.isoformat()]
    assert stored.history.first().revoked_on == decided  # row history carries the date


def test_revocation_date_as_text_and_today_and_the_first_valid_day_are_accepted(regulator, lic):
    row = services.revoke_licence(user=regulator, licence=lic, revoked_on=lic.valid_from.isoformat(), reason="注销")
    assert row.revoked_on == lic.valid_from
    other = LicenceFactory(enterprise=lic.enterprise, valid_from=local_today() - timedelta(days=3))
    assert services.revoke_licence(user=regulator, licence=other, revoked_on=local_today(),
                                   reason="吊销").revoked_on == local_today()


@pytest.mark.parametrize("value,message", [
    (None, "请填写吊销/注销日期"),
    ("", "请填写吊销/注销日期"),
    ("2026-02-30", "不是有效日期"),
    ("下周一", "不是有效日期"),
])
def test_revocation_date_missing_or_unreadable_is_refused(regulator, lic, value, message):
    exc = refused(lic, regulator, revoked_on=value, reason="吊销")
    assert any(message in m for m in exc.message_dict["revoked_on"])


def test_revocation_date_in_the_future_is_refused(regulator, lic):
    tomorrow = local_today() + timedelta(days=1)
    exc = refused(lic, regulator, revoked_on=tomorrow, reason="吊销")
    assert exc.message_dict["revoked_on"] == [
        f"吊销/注销日期（{tomorrow.isoformat()}）不能晚于今天（{local_today().isoformat()}）。"]


def test_revocation_date_before_the_licence_was_valid_is_refused(regulator, lic):
    day_before = lic.valid_from - timedelta(days=1)
    exc = refused(lic, regulator, revoked_on=day_before, reason="吊销")
    assert exc.message_dict["revoked_on"] == [
        f"吊销/注销日期（{day_before.isoformat()}）不能早于证照有效期起（{lic.valid_from.isoformat()}）。"]


def test_reason_is_required_and_both_errors_are_reported_together(regulator, lic):
    exc = refused(lic, regulator, revoked_on=None, reason="  ")
    assert set(exc.message_dict) == {"revoked_on", "reason"}


def test_a_revoked_licence_cannot_be_revoked_again(regulator, lic):
    first = local_today() - timedelta(days=10)
    services.revoke_licence(user=regulator, licence=lic, revoked_on=first, reason="吊销")
    with pytest.raises(ValidationError) as info:
        services.revoke_licence(user=regulator, licence=lic, revoked_on=local_today(), reason="再次吊销")
    assert f"已于 {first.isoformat()} 吊销/注销" in info.value.messages[0]
    assert Licence.objects.get(pk=lic.pk).revoked_on == first and revoked_events().count() == 1


def test_revocation_out_of_scope_or_by_the_enterprise_is_refused(lic):
    for user in (user_as("regulator", "460105"), account_of(lic.enterprise)):  # 秀英区; the firm itself
        with pytest.raises(PermissionDenied):
            services.revoke_licence(user=user, licence=lic, revoked_on=local_today(), reason="吊销")
    assert Licence.objects.get(pk=lic.pk).status == LicenceStatus.VALID and not revoked_events().exists()


# -- model check -----------------------------------------------------------------------------
def test_database_refuses_revoked_without_date_and_date_without_revocation(lic):
    for status, revoked_on in ((LicenceStatus.REVOKED, None), (LicenceStatus.VALID, local_today())):
        with pytest.raises(IntegrityError), transaction.atomic():
            Licence.objects.filter(pk=lic.pk).update(status=status, revoked_on=revoked_on)
    Licence.objects.filter(pk=lic.pk).update(status=LicenceStatus.REVOKED, revoked_on=local_today())
    assert Licence.objects.get(pk=lic.pk).revoked_on == local_today()


# -- page ------------------------------------------------------------------------------------
def test_revoke_through_the_enterprise_page(regulator, lic, client):
    client.force_login(regulator)
    page_url = reverse("precursors:enterprise_detail", args=[lic.enterprise_id])
    page = client.get(page_url).content.decode()
    assert 'data-testid="revoke-form"' in page and 'name="revoked_on"' in page
    url = reverse("precursors:licence_revoke", args=[lic.pk])

    tomorrow = local_today() + timedelta(days=1)
    response = client.post(url, {"revoked_on": tomorrow.isoformat(), "reason": "吊销"}, follow=True)
    assert "不能晚于今天" in response.content.decode()
    response = client.post(url, {"reason": "吊销"}, follow=True)
    assert "请填写吊销/注销日期" in response.content.decode()
    assert Licence.objects.get(pk=lic.pk).status == LicenceStatus.VALID and not revoked_events().exists()

    decided = local_today() - timedelta(days=7)
    response = client.post(url, {"revoked_on": decided.isoformat(), "reason": "经营许可到期未延续"}, follow=True)
    html = response.content.decode()
    assert response.redirect_chain[-1][0] == page_url
    assert f"已标记为吊销/注销（{decided.isoformat()}）" in html
    assert f'<span class="small" data-testid="revoked-on">{decided.isoformat()}</span>' in html
    assert 'data-testid="revoke-form"' not in html
    assert Licence.objects.get(pk=lic.pk).revoked_on == decided


def test_enterprise_account_sees_the_revocation_date_but_no_revoke_form(regulator, lic, client):
    services.revoke_licence(user=regulator, licence=lic, revoked_on=local_today(), reason="吊销")
    client.force_login(account_of(lic.enterprise))
    html = client.get(reverse("precursors:enterprise_detail", args=[lic.enterprise_id])).content.decode()
    assert f'data-testid="revoked-on">{local_today().isoformat()}<' in html
    assert 'data-testid="revoke-form"' not in html
    response = client.post(reverse("precursors:licence_revoke", args=[lic.pk]),
                           {"revoked_on": local_today().isoformat(), "reason": "x"})
    assert response.status_code == 403


# -- API -------------------------------------------------------------------------------------
def test_revoke_through_the_api(regulator, lic):
    client = api_client(regulator)
    url = reverse("api:precursorlicence-revoke", args=[lic.pk])
    missing = client.post(url, {"reason": "吊销"}, format="json")
    assert missing.status_code == 400 and "revoked_on" in str(missing.json())
    future = client.post(url, {"reason": "吊销", "revoked_on": (local_today() + timedelta(days=1)).isoformat()},
                         format="json")
    assert future.status_code == 400 and "不能晚于今天" in str(future.json())
    assert Licence.objects.get(pk=lic.pk).status == LicenceStatus.VALID

    decided = local_today() - timedelta(days=3)
    ok = client.post(url, {"reason": "吊销", "revoked_on": decided.isoformat()}, format="json")
    assert ok.status_code == 200, ok.content
    assert (ok.json()["status"], ok.json()["revoked_on"]) == ("revoked", decided.isoformat())
    listed = client.get(reverse("api:precursorlicence-detail", args=[lic.pk])).json()
    assert listed["revoked_on"] == decided.isoformat()


# -- export ----------------------------------------------------------------------------------
def test_export_has_the_revocation_date(regulator, lic):
    import csv
    import io

    from jindu.core.exports import export_to_file

    decided = local_today() - timedelta(days=2)
    services.revoke_licence(user=regulator, licence=lic, revoked_on=decided, reason="吊销")
    valid = LicenceFactory(enterprise=lic.enterprise)
    licence_line(valid, "盐酸")
    fh, count = export_to_file(LicenceExporter(), user=regulator, fmt="csv", params={})
    rows = list(csv.reader(io.StringIO(fh.read().decode("utf-8-sig"))))
    header = rows[0]
    by_number = {r[header.index("证照编号")]: r for r in rows[1:]}
    assert by_number[lic.number][header.index("吊销/注销日期")] == decided.isoformat()
    assert by_number[lic.number][header.index("状态")] == "已吊销/注销"
    assert by_number[valid.number][header.index("吊销/注销日期")] == ""


# -- migration backfill ----------------------------------------------------------------------
class _CheckOff:
    """Let a licence be revoked without a date, as rows were before 0004: the check added
    by 0005 is dropped inside the test's transaction (PostgreSQL; rolled back with it) or not
    enforced (SQLite's ``ignore_check_constraints``)."""

    def __enter__(self):
        with connection.cursor() as cur:
            if connection.vendor == "postgresql":
                # Fire the deferred foreign-key checks of the rows made so far: PostgreSQL
                # refuses to alter a table with pending trigger events.
                cur.execute("SET CONSTRAINTS ALL IMMEDIATE")
                cur.execute("ALTER TABLE precursors_licence DROP CONSTRAINT precursors_licence_revoked_on_iff_revoked")
                cur.execute("SET CONSTRAINTS ALL DEFERRED")
            else:
                cur.execute("PRAGMA ignore_check_constraints = ON")

    def __exit__(self, *exc):
        if connection.vendor != "postgresql":
            with connection.cursor() as cur:
                cur.execute("PRAGMA ignore_check_constraints = OFF")


def aware_utc(*args) -> datetime:
    return datetime(*args, tzinfo=dt_timezone.utc)


def test_backfill_dates_revoked_licences_from_their_history(regulator, lic):
    enterprise = lic.enterprise
    # Revoked on 1 April 23:30 UTC = 2 April in Haikou; edited again later, still revoked.
    lic.status, lic.revoked_on = LicenceStatus.REVOKED, local_today()
    lic.save()
    lic.history.filter(status=LicenceStatus.REVOKED).update(history_date=aware_utc(2026, 4, 1, 23, 30))
    lic.note = "补记"
    lic.save()
    lic.history.filter(note="补记").update(history_date=aware_utc(2026, 6, 1, 2, 0))
    # Revoked with no history record saying so (e.g. changed by raw SQL): its last change.
    bare = LicenceFactory(enterprise=enterprise, status=LicenceStatus.REVOKED, revoked_on=local_today())
    bare.history.filter(status=LicenceStatus.REVOKED).delete()
    Licence.objects.filter(pk=bare.pk).update(updated_at=aware_utc(2026, 5, 10, 17, 0))  # 11 May local
    # Already dated, and still valid: left alone.
    dated = LicenceFactory(enterprise=enterprise, status=LicenceStatus.REVOKED, revoked_on=local_today())
    valid = LicenceFactory(enterprise=enterprise)

    with _CheckOff():
        Licence.objects.filter(pk__in=[lic.pk, bare.pk]).update(revoked_on=None)
        assert Licence.objects.filter(status=LicenceStatus.REVOKED, revoked_on__isnull=True).count() == 2
        fill_revoked_on(apps, None)
    got = dict(Licence.objects.values_list("pk", "revoked_on"))
    assert got[lic.pk].isoformat() == "2026-04-02"
    assert got[bare.pk].isoformat() == "2026-05-11"
    assert got[dated.pk] == local_today() and got[valid.pk] is None
    # Every revoked licence now passes the check (it is enforced again).
    assert not Licence.objects.filter(status=LicenceStatus.REVOKED, revoked_on__isnull=True).exists()
    fill_revoked_on(apps, None)  # a second run changes nothing
    assert dict(Licence.objects.values_list("pk", "revoked_on")) == got
