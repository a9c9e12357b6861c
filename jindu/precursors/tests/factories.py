"""Factories and helpers for precursor tests. Rows made here bypass the services (no
balance locking, no audit): use them to set up state, and the services to test writes."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import factory
from factory.django import DjangoModelFactory

from jindu.core.testing import division
from jindu.precursors.choices import Direction, EnterpriseKind, LicenceKind
from jindu.precursors.models import Chemical, Enterprise, LedgerEntry, Licence, LicenceChemical, StockBalance


def chemical(name: str) -> Chemical:
    """The catalogue entry called ``name`` (e.g. "硫酸", "醋酸酐", "麻黄素（麻黄碱）")."""
    return Chemical.objects.get(name_zh=name)


def credit_code(n: int) -> str:
    """A valid 18-character unified social credit code (GB 32100-2015), distinct per ``n``."""
    from stdnum.cn import uscc

    body = f"91460100{n:08d}"
    # The organisation-code part (positions 9–17) carries its own GB 11714 check digit.
    weights = (3, 7, 9, 10, 5, 8, 4, 2)
    c9 = 11 - sum(int(ch) * w for ch, w in zip(body[8:16], weights)) % 11
    body += {10: "X", 11: "0"}.get(c9, str(c9))
    return body + uscc.calc_check_digit(body)


class EnterpriseFactory(DjangoModelFactory):
    class Meta:
        model = Enterprise

    name = factory.Sequence(lambda n: f"海口测试化工有限公司{n:04d}")
    credit_code = factory.Sequence(lambda n: credit_code(n + 1))
    kind = EnterpriseKind.TRADER
    division = factory.LazyFunction(lambda: division("460106001"))
    address = "测试路1号"


class LicenceFactory(DjangoModelFactory):
    class Meta:
        model = Licence

    enterprise = factory.SubFactory(EnterpriseFactory)
    kind = LicenceKind.PURCHASE_FILING
    number = factory.Sequence(lambda n: f"（琼）3J46010000{n:04d}")
    issuer = "海口市公安局"
    valid_from = date(2025, 1, 1)
    valid_until = date(2027, 12, 31)


def licence_line(licence: Licence, name: str, limit_kg: Decimal | None = None) -> LicenceChemical:
    return LicenceChemical.objects.create(licence=licence, chemical=chemical(name), quantity_limit_kg=limit_kg)


def entry(enterprise: Enterprise, name: str, direction: str = Direction.IN, quantity_kg: str | Decimal = "100",
          occurred_on: date = date(2026, 3, 1), **fields) -> LedgerEntry:
    """A ledger entry made directly (no balance check) and the balance row kept in step."""
    qty = Decimal(quantity_kg)
    chem = chemical(name)
    bal, _ = StockBalance.objects.get_or_create(enterprise=enterprise, chemical=chem)
    bal.quantity_kg += qty if direction == Direction.IN else -qty
    bal.save()
    return LedgerEntry.objects.create(enterprise=enterprise, chemical=chem, direction=direction, quantity_kg=qty,
                                      occurred_on=occurred_on, balance_after_kg=bal.quantity_kg,
                                      quantity_entered=qty, **fields)
