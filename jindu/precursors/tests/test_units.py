"""Unit conversion of entered quantities to the kilograms a ledger keeps (``units.quantity_to_kg``)
and its use by ``services.post_entry`` (the chemical's reference density offered for litres)."""

from datetime import date
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from jindu.precursors import services
from jindu.precursors.choices import Direction, QuantityUnit
from jindu.precursors.models import LedgerEntry, StockBalance
from jindu.precursors.tests.factories import EnterpriseFactory, chemical
from jindu.precursors.units import quantity_to_kg

D = Decimal


@pytest.mark.parametrize("quantity,unit,kwargs,expected", [
    ("2.5", QuantityUnit.T, {}, "2500.000"),
    ("12.345", QuantityUnit.KG, {}, "12.345"),
    ("1500", QuantityUnit.G, {}, "1.500"),
    ("10", QuantityUnit.L, {"density_kg_per_l": D("1.84")}, "18.400"),      # 98 % sulphuric acid
    ("500", QuantityUnit.ML, {"density_kg_per_l": D("0.791")}, "0.396"),    # acetone, 0.3955 rounds half up
    ("12", QuantityUnit.PIECE, {"piece_mass_kg": D("0.5")}, "6.000"),       # twelve 500 g bottles
])
def test_conversion_to_kg(quantity, unit, kwargs, expected):
    kg = quantity_to_kg(D(quantity), unit, **kwargs)
    assert isinstance(kg, Decimal)
    assert kg == D(expected) and str(kg) == expected  # kept to the gram, exponent -3


def test_decimal_arithmetic_is_exact():
    # 0.1 t three times is exactly 300 kg, and 0.1 + 0.2 kg is exactly 0.3 kg: no binary floats.
    assert sum(quantity_to_kg(D("0.1"), QuantityUnit.T) for _ in range(3)) == D("300")
    assert quantity_to_kg(D("0.1"), "kg") + quantity_to_kg(D("0.2"), "kg") == D("0.3")
    assert quantity_to_kg("0.1", "t") == D("100.000")


@pytest.mark.parametrize("unit,kwargs,fragment", [
    (QuantityUnit.L, {}, "密度"),
    (QuantityUnit.ML, {"density_kg_per_l": D("0")}, "密度"),
    (QuantityUnit.PIECE, {}, "每件净重"),
    ("桶", {}, "未知的数量单位"),
])
def test_missing_density_or_piece_mass_or_unknown_unit_is_refused(unit, kwargs, fragment):
    with pytest.raises(ValidationError) as exc:
        quantity_to_kg(D("5"), unit, **kwargs)
    assert fragment in exc.value.messages[0]


@pytest.mark.parametrize("quantity", ["0", "-3", "abc", "NaN"])
def test_non_positive_or_non_numeric_quantity_is_refused(quantity):
    with pytest.raises(ValidationError):
        quantity_to_kg(quantity, QuantityUnit.KG)


def test_less_than_a_gram_is_refused():
    with pytest.raises(ValidationError) as exc:
        quantity_to_kg(D("0.4"), QuantityUnit.G)
    assert "不足 1 克" in exc.value.messages[0]


# -- through the posting service --------------------------------------------------------------
def _post(enterprise, name, quantity, unit, **extra):
    return services.post_entry(user=None, enterprise=enterprise, data={
        "chemical": chemical(name), "occurred_on": date(2026, 1, 5), "direction": Direction.IN,
        "quantity_entered": quantity, "unit_entered": unit, **extra})


def test_litres_use_the_chemicals_reference_density_when_none_is_entered():
    ent = EnterpriseFactory()
    entry = _post(ent, "硫酸", D("10"), QuantityUnit.L)
    assert entry.quantity_kg == D("18.400")
    assert entry.density_kg_per_l == D("1.84")  # the density used is kept with the entry
    assert entry.quantity_entered == D("10") and entry.unit_entered == QuantityUnit.L


def test_an_entered_density_wins_over_the_reference_one():
    ent = EnterpriseFactory()
    entry = _post(ent, "硫酸", D("10"), QuantityUnit.L, density_kg_per_l=D("1.60"))
    assert entry.quantity_kg == D("16.000")


def test_litres_of_a_chemical_without_reference_density_need_one_and_nothing_is_written():
    ent = EnterpriseFactory()
    with pytest.raises(ValidationError) as exc:
        _post(ent, "高锰酸钾", D("10"), QuantityUnit.L)
    assert "密度" in str(exc.value)
    assert not LedgerEntry.objects.filter(enterprise=ent).exists()
    assert not StockBalance.objects.filter(enterprise=ent).exists()


def test_pieces_are_stored_as_net_kilograms():
    ent = EnterpriseFactory()
    entry = _post(ent, "高锰酸钾", D("40"), QuantityUnit.PIECE, piece_mass_kg=D("0.25"))
    assert entry.quantity_kg == D("10.000") and entry.piece_mass_kg == D("0.25")
    assert StockBalance.objects.get(enterprise=ent).quantity_kg == D("10.000")
