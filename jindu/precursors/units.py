"""Conversion of an entered quantity to the kilograms a stock ledger keeps.

Pure functions, no database. Kilograms are ``Decimal`` rounded half-up to the gram
(three decimal places), the precision of ``LedgerEntry.quantity_kg``.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from jindu.precursors.choices import QuantityUnit

GRAM = Decimal("0.001")
_MASS_FACTORS = {QuantityUnit.KG: Decimal("1"), QuantityUnit.G: Decimal("0.001"), QuantityUnit.T: Decimal("1000")}
_VOLUME_FACTORS_L = {QuantityUnit.L: Decimal("1"), QuantityUnit.ML: Decimal("0.001")}


def quantity_to_kg(quantity: Decimal, unit: str, *, density_kg_per_l: Decimal | None = None,
                   piece_mass_kg: Decimal | None = None) -> Decimal:
    """``quantity`` in ``unit`` (a :class:`QuantityUnit` value) as kilograms.

    - mass units (t, kg, g) convert exactly;
    - volumes (L, mL) need ``density_kg_per_l`` (the entry's own, or the chemical's
      reference density offered by the form);
    - pieces (bottles, drums) need ``piece_mass_kg``, the net mass of one piece.

    Raises ``ValidationError`` (Chinese) for a non-positive quantity, an unknown unit, a
    missing or non-positive density or piece mass, or a result under one gram.
    """
    try:
        quantity = Decimal(quantity)
    except (InvalidOperation, TypeError, ValueError):
        raise ValidationError(_("数量“%(v)s”不是数字。") % {"v": quantity}) from None
    if not quantity.is_finite() or quantity <= 0:
        raise ValidationError(_("数量须大于 0，收到 %(v)s。") % {"v": quantity})
    if unit in _MASS_FACTORS:
        kg = quantity * _MASS_FACTORS[unit]
    elif unit in _VOLUME_FACTORS_L:
        if density_kg_per_l is None or density_kg_per_l <= 0:
            raise ValidationError(_("按体积（%(unit)s）录入时须填写密度（千克/升）。") % {"unit": unit})
        kg = quantity * _VOLUME_FACTORS_L[unit] * Decimal(density_kg_per_l)
    elif unit == QuantityUnit.PIECE:
        if piece_mass_kg is None or piece_mass_kg <= 0:
            raise ValidationError(_("按件录入时须填写每件净重（千克）。"))
        kg = quantity * Decimal(piece_mass_kg)
    else:
        raise ValidationError(_("未知的数量单位“%(unit)s”。") % {"unit": unit})
    kg = kg.quantize(GRAM, rounding=ROUND_HALF_UP)
    if kg < GRAM:
        raise ValidationError(_("换算后不足 1 克（%(v)s 千克），请核对数量与单位。") % {"v": kg})
    return kg
