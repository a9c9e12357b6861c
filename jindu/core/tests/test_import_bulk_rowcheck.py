"""Bulk import helpers: :class:`jindu.core.imports.rowcheck.RowChecker` answers each row as a
new form would (errors with their fields, messages, codes and order; cleaned values; the
unsaved instance) — for a form with its own ``clean_<field>`` and ``clean`` hooks, on the
test-only ``Specimen`` — and falls back to the form pool for forms beyond its plans;
:func:`jindu.core.imports.bulk.instance_maker` builds the instances ``Model(**values)`` builds.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django import forms
from django.core.exceptions import ValidationError

from jindu.core.imports.bulk import FormPool, instance_maker
from jindu.core.imports.rowcheck import RowChecker, unsupported
from jindu.core.testing import division
from jindu.core.tests.testapp.models import Specimen
from jindu.geo.models import Division

pytestmark = pytest.mark.django_db

ID_A = "110101199003071233"


class HookedSpecimenForm(forms.ModelForm):
    """A manual-entry form with a field hook and a form-wide check."""

    class Meta:
        model = Specimen
        fields = ["name", "division", "id_number", "recorded_at", "quantity_kg"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["division"].queryset = Division.objects.filter(code__startswith="460106")

    def clean_name(self):
        name = self.cleaned_data["name"]
        if name == "坏":
            raise ValidationError("名称不能为“坏”", code="bad_name")
        return name.replace("·", "•")

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("name") == "全局" and cleaned.get("quantity_kg") is None:
            raise ValidationError("全局检查：须填数量", code="form_wide")
        return cleaned


class OwnCleanFieldsForm(HookedSpecimenForm):
    def _clean_fields(self):
        super()._clean_fields()


def answer(form):
    errors = [(name, [str(m) for m in messages], [e.code for e in form.errors.as_data()[name]])
              for name, messages in form.errors.items()]
    values = {f.attname: getattr(form.instance, f.attname) for f in Specimen._meta.concrete_fields}
    cleaned = {k: getattr(v, "pk", v) for k, v in form.cleaned_data.items()}
    return errors, cleaned, values


def rows():
    city = division("460106001").pk
    outside = division("460105001").pk
    names = ["甲", "", "坏", "全局", "阿·布", "名" * 101, "\u200b", "  乙  "]
    numbers = [ID_A, ID_A.lower(), "110101199003071232", "", "１１０１０１１９９００３０７１２３３", "x"]
    divisions = [city, "", outside, 99999999, "abc"]
    times = ["", "2024-03-05 10:00", "bad", dt.datetime(2024, 3, 5, 10, 0)]
    quantities = ["", "1.500", "abc", "1" * 20, Decimal("0.0001")]
    out = []
    for i in range(240):
        out.append({"name": names[i % len(names)], "id_number": numbers[(i // 2) % len(numbers)],
                    "division": divisions[(i // 3) % len(divisions)], "recorded_at": times[(i // 5) % len(times)],
                    "quantity_kg": quantities[(i // 7) % len(quantities)]})
    return out


def test_row_checker_answers_as_a_new_form():
    assert unsupported(HookedSpecimenForm, Specimen) is None
    checker = RowChecker(HookedSpecimenForm, model=Specimen)
    pool = FormPool(HookedSpecimenForm, model=Specimen)
    assert checker.compiled
    codes = set()
    for data in rows():
        plain = HookedSpecimenForm(data=dict(data), instance=Specimen())
        plain.is_valid()
        expected = answer(plain)
        assert answer(checker.validate(dict(data))) == expected, data
        assert answer(pool.validate(dict(data))) == expected, data
        codes |= {c for _f, _m, cs in expected[0] for c in cs}
    # field, hook, form-wide and model-level (blank after normalisation) errors were all met
    assert {"required", "invalid_choice", "bad_name", "form_wide", "max_length", "blank", "invalid"} <= codes


def test_forms_beyond_the_plans_go_through_the_pool():
    checker = RowChecker(OwnCleanFieldsForm, model=Specimen)
    assert not checker.compiled and "_clean_fields" in checker.reason
    data = {"name": "坏", "id_number": ID_A, "division": division("460106001").pk, "recorded_at": "", "quantity_kg": ""}
    plain = OwnCleanFieldsForm(data=dict(data), instance=Specimen())
    plain.is_valid()
    assert answer(checker.validate(dict(data))) == answer(plain)
    assert answer(plain)[0][0][2] == ["bad_name"]


def test_instance_maker_builds_what_the_model_builds():
    from jindu.persons.models import Event

    place = division("4601")
    make = instance_maker(Specimen)
    for values in ({}, {"name": "甲", "division": place, "id_number": ID_A},
                   {"name": "乙", "division_id": place.pk, "quantity_kg": Decimal("1.5")}):
        made, built = make(**values), Specimen(**values)
        assert made is not built and made._state is not built._state
        assert {k: v for k, v in made.__dict__.items() if k != "_state"} == \
            {k: v for k, v in built.__dict__.items() if k != "_state"}
        assert made._state.adding and made._state.fields_cache == built._state.fields_cache
    event = instance_maker(Event)(kind="found_using", occurred_on=dt.date(2024, 3, 1), source="import")
    assert event.kind == "found_using" and event.person_id is None and event.version == 1
    with pytest.raises(TypeError):
        make(no_such_field=1)  # as Specimen(no_such_field=1)


def test_date_and_datetime_shortcuts_give_what_django_gives():
    """``insert_rows``'s shortcuts for dates and aware datetimes (``auto_now`` timestamps
    included; the clock stands still so both ways read the same "now") write the value
    Django's ``get_db_prep_save(pre_save(...))`` writes; other values take Django's path."""
    import time_machine
    from django.db import DEFAULT_DB_ALIAS, connections
    from django.utils import timezone

    from jindu.core.imports.bulk import _value_prep
    from jindu.persons.models import Event, Person

    connection = connections[DEFAULT_DB_ALIAS]
    place = division("460106001")
    aware = timezone.make_aware(dt.datetime(2024, 3, 5, 10, 30))
    objs = [
        Specimen(name="甲", division=place, recorded_at=aware),
        Specimen(name="乙", division=place, recorded_at=None),
        Person(name="丙", residence_division=place, birth_date=dt.date(1990, 1, 2), registered_on=dt.date(2024, 3, 5)),
        Event(person_id=5, kind="found_using", occurred_on=dt.date(2024, 3, 1), source="import"),
    ]
    used = set()
    with time_machine.travel(aware, tick=False):
        for obj in objs:
            for field in type(obj)._meta.concrete_fields:
                prep = _value_prep(field, connection, timezone.now())
                if prep.__name__ not in ("fast", "fast_datetime", "stamp") \
                        or field.get_internal_type() not in ("DateField", "DateTimeField"):
                    continue
                used.add((type(obj).__name__, field.name))
                assert prep(obj) == field.get_db_prep_save(field.pre_save(obj, True), connection), field
    assert {("Specimen", "recorded_at"), ("Specimen", "created_at"), ("Person", "birth_date"),
            ("Person", "registered_on"), ("Person", "status_since"), ("Event", "occurred_on")} <= used
    # a date typed as text still goes Django's way (and is converted as Django converts it)
    text = Event(person_id=5, kind="found_using", occurred_on="2024-03-01", source="import")
    occurred = Event._meta.get_field("occurred_on")
    assert _value_prep(occurred, connection, timezone.now())(text) == occurred.get_db_prep_save("2024-03-01", connection)
