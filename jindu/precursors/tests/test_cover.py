"""The licence cover (``LicenceCover``) the reconciliation reads: what each licence line
covers, kept in step with every licence, line and catalogue chemical saved, and rebuilt
by ``manage.py rebuild_licence_cover`` after writes that bypass the ORM."""

from __future__ import annotations

from datetime import date, timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from jindu.core.timeutils import local_today
from jindu.precursors import services
from jindu.precursors.choices import LicenceKind
from jindu.precursors.models import Licence, LicenceChemical, LicenceCover
from jindu.precursors.reconciliation.cover import cover_mismatches
from jindu.precursors.rules import PURCHASE, TRANSPORT
from jindu.precursors.tests.factories import EnterpriseFactory, LicenceFactory, chemical, licence_line

pytestmark = pytest.mark.django_db


def rows(licence: Licence) -> set[tuple]:
    return set(LicenceCover.objects.filter(licence=licence).values_list(
        "activity", "chemical__name_zh", "valid_from", "valid_until", "limit_kg"))


def test_a_purchase_filing_covers_purchases_of_category_2_and_3_only():
    """Art. 17: a 购买备案证明 is for Categories 2 and 3; a Category 1 line on it covers nothing."""
    filing = LicenceFactory(kind=LicenceKind.PURCHASE_FILING)
    licence_line(filing, "硫酸")  # Category 3
    licence_line(filing, "麻黄素（麻黄碱）")  # Category 1
    assert rows(filing) == {(PURCHASE, "硫酸", date(2025, 1, 1), date(2027, 12, 31), None)}
    assert cover_mismatches() == []


def test_a_transport_licence_covers_transport_of_every_category():
    permit = LicenceFactory(kind=LicenceKind.TRANSPORT_LICENCE, number="（琼）1Y4601000001")
    licence_line(permit, "硫酸")
    licence_line(permit, "麻黄素（麻黄碱）")
    assert {r[:2] for r in rows(permit)} == {(TRANSPORT, "硫酸"), (TRANSPORT, "麻黄素（麻黄碱）")}


def test_revocation_cuts_the_cover_to_the_day_before(db):
    from jindu.precursors.tests.test_pages import user_as

    regulator = user_as("regulator", "460106")
    today = local_today()
    lic = LicenceFactory(valid_from=today - timedelta(days=365), valid_until=today + timedelta(days=365))
    licence_line(lic, "硫酸", limit_kg=500)
    decided = today - timedelta(days=40)
    services.revoke_licence(user=regulator, licence=lic, revoked_on=decided, reason="停业")
    assert rows(lic) == {(PURCHASE, "硫酸", today - timedelta(days=365), decided - timedelta(days=1), 500)}
    assert cover_mismatches() == []


def test_changed_validity_lines_and_catalogue_categories_are_followed():
    lic = LicenceFactory()
    line = licence_line(lic, "硫酸")
    lic.valid_until = date(2026, 6, 30)
    lic.save()
    assert {r[3] for r in rows(lic)} == {date(2026, 6, 30)}
    line.quantity_limit_kg = 80
    line.save()
    assert {r[4] for r in rows(lic)} == {80}
    licence_line(lic, "盐酸")
    line.delete()
    assert {r[1] for r in rows(lic)} == {"盐酸"}
    # The catalogue moves 盐酸 to Category 1 (a list change): a filing no longer covers it.
    hcl = chemical("盐酸")
    hcl.category = 1
    hcl.save()
    assert rows(lic) == set()
    assert cover_mismatches() == []


def test_writes_past_the_orm_are_reported_and_rebuilt():
    lic = LicenceFactory(enterprise=EnterpriseFactory())
    licence_line(lic, "硫酸")
    Licence.objects.filter(pk=lic.pk).update(valid_until=date(2025, 3, 31))  # no signal
    LicenceChemical.objects.bulk_create([LicenceChemical(licence=lic, chemical=chemical("丙酮"))])
    assert {kind for kind, _row in cover_mismatches()} == {"missing", "stale"}
    with pytest.raises(CommandError):
        call_command("rebuild_licence_cover", "--check", stdout=StringIO())
    out = StringIO()
    call_command("rebuild_licence_cover", stdout=out)
    assert "cover rows rebuilt" in out.getvalue()
    assert rows(lic) == {(PURCHASE, "硫酸", date(2025, 1, 1), date(2025, 3, 31), None),
                         (PURCHASE, "丙酮", date(2025, 1, 1), date(2025, 3, 31), None)}
    call_command("rebuild_licence_cover", "--check", stdout=out)
    assert "agrees" in out.getvalue()


def test_a_deleted_licence_takes_its_cover_with_it():
    lic = LicenceFactory()
    licence_line(lic, "硫酸")
    lic.lines.all().delete()
    lic.delete()
    assert not LicenceCover.objects.exists()
