"""The registry import's compiled row checks (:class:`jindu.core.imports.rowcheck.RowChecker`)
answer every row as the registration form answers it: the same errors (fields, messages,
codes, order), the same cleaned values and the same unsaved person — compared, row by row,
with a new :class:`PersonImportForm` (the engine's row-by-row path) and with the form pool
(:class:`jindu.core.imports.bulk.FormPool`) on a corpus where every column is wrong in each
way the column, the form or the model refuses, and on generated mixtures of them.
"""

import datetime as dt

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jindu.core.imports import get_importer
from jindu.core.imports.bulk import FormPool
from jindu.core.imports.engine import _form_base_data, run_import
from jindu.core.imports.readers import open_table
from jindu.core.imports.rowcheck import RowChecker, unsupported
from jindu.core.imports.testing import make_csv
from jindu.persons.importers import PersonImportForm
from jindu.persons.models import Person
from jindu.persons.tests.io_support import OLD_15, PERSON_A_ID, PERSON_B_ID, id_number, role_user, village
from jindu.persons.tests.test_bulk_import import HEAD, bad_rows, good_rows, outcome, registered_before, snapshot
from jindu.substances.models import Substance

pytestmark = pytest.mark.django_db

VALID = id_number(dt.date(1990, 1, 2), seq=31)


def column_values(home, elsewhere, town):
    """Per form field: good values and every kind of bad one (as the import hands them over —
    parsed dates, division and substance keys — and as raw text)."""
    drug = Substance.objects.order_by("pk").first().pk
    return {
        "document_type": ["", "resident_id", "passport", "other", "no_such_type", 1],
        "identity_number": [VALID, PERSON_A_ID, PERSON_B_ID.lower(), OLD_15, "110101199003071232", "",
                            "１１０１０１１９９００３０７１２３３", "E12345678", "A" * 70, "12 34", "\x00"],
        "name": ["张三", "", "   ", "名" * 101, "王\U0002003e", "赵\ue000字", "\u200b", "\x00", "张 三", "张\n三",
                 "阿卜杜拉 · 买买提"],
        "alias": ["", "小三", "别" * 101, "\u3000"],
        "sex": ["", "M", "F", "U", "X", "男"],
        "birth_date": ["", dt.date(1990, 1, 2), dt.date(1991, 1, 1), "1990-01-02", "1990-02-30", "bad"],
        "phone": ["", "13900001111", "139", "66123456", "0898-66123456", "１３９００００１１１１", "abc"],
        "household_division": ["", home.pk, elsewhere.pk, town.pk, 99999999, "abc"],
        "household_address": ["", "海口市 龙华区", "址" * 256, "一行\n二行"],
        "residence_division": ["", home.pk, elsewhere.pk, town.pk, 99999999, "abc"],
        "residence_address": ["", "某路1号", "址" * 256, "\t"],
        "drugs": [[], [drug], [drug, drug], [99999999], "x", ["abc"]],
        "registered_on": ["", dt.date(2024, 3, 5), "2024/3/5", "2024-13-01", dt.date(2999, 1, 1)],
        "first_found_on": ["", dt.date(2024, 3, 1), "bad"],
        "holds_driving_licence": ["", True, False, "false", "on"],
        "driving_licence_classes": ["", "C1", "C" * 51],
    }


def _value(v):
    if hasattr(v, "_meta"):
        return ("record", type(v).__name__, v.pk)
    if hasattr(v, "values_list"):  # a model-multiple-choice answer
        return ("records", list(v.values_list("pk", flat=True)))
    return (type(v).__name__, v)


def answer(form):
    """Everything the import reads from a validated form."""
    errors = [(name, [str(m) for m in messages], [e.code for e in form.errors.as_data()[name]])
              for name, messages in form.errors.items()]
    instance = form.instance
    return {
        "errors": errors,
        "cleaned": {k: _value(v) for k, v in form.cleaned_data.items()},
        "instance": {f.attname: _value(getattr(instance, f.attname)) for f in Person._meta.concrete_fields},
        "residence": _value(getattr(instance, "residence_division", None) if instance.residence_division_id else None),
    }


class Paths:
    """The three ways of validating one new person's row."""

    def __init__(self, user):
        self.user = user
        kwargs = {"user": user}
        self.base = _form_base_data(PersonImportForm(instance=Person(), **kwargs))
        variant = lambda data: data.get("document_type") or ""  # noqa: E731 (as the importer)
        self.pool = FormPool(PersonImportForm, model=Person, form_kwargs=kwargs, variant=variant)
        self.checker = RowChecker(PersonImportForm, model=Person, form_kwargs=kwargs, variant=variant)

    def answers(self, row):
        data = {**self.base, **row}
        plain = PersonImportForm(data=dict(data), instance=Person(), user=self.user)
        plain.is_valid()
        return answer(plain), answer(self.pool.validate(dict(data))), answer(self.checker.validate(dict(data)))


@pytest.fixture
def setting(db):
    user = role_user("town_office", "460106001")
    home = village("460106001")
    return Paths(user), column_values(home, village("460105001"), home.parent)


GOOD = {"identity_number": VALID, "name": "好人甲", "residence_division": None}


def test_the_registration_form_is_compiled():
    assert unsupported(PersonImportForm, Person) is None
    assert RowChecker(PersonImportForm, model=Person, form_kwargs={"user": None}).compiled


def test_every_wrong_value_of_every_column_gets_the_form_s_answer(setting):
    paths, values = setting
    good = {**GOOD, "residence_division": values["residence_division"][1]}
    seen_errors = set()
    for name, candidates in values.items():
        for value in candidates:
            row = {**good, name: value}
            plain, pooled, checked = paths.answers(row)
            assert checked == plain, (name, value)
            assert pooled == plain, (name, value)
            seen_errors |= {field for field, _m, _c in plain["errors"]}
    # the corpus reaches errors of the fields, of the form and of the model (name blank after
    # normalisation is the model's, not the form's: the form's strip keeps U+200B)
    assert {"identity_number", "name", "alias", "sex", "birth_date", "phone", "household_division",
            "household_address", "residence_division", "drugs", "registered_on", "first_found_on",
            "driving_licence_classes", "document_type"} <= seen_errors
    blank_name = paths.answers({**good, "name": "\u200b"})[2]
    assert [c for f, _m, codes in blank_name["errors"] if f == "name" for c in codes] == ["blank"]


def test_a_good_row_gives_the_same_person(setting):
    paths, values = setting
    row = {**GOOD, "residence_division": values["residence_division"][1], "name": "张 三", "phone": "１３９００００１１１１",
           "drugs": values["drugs"][1], "registered_on": dt.date(2024, 3, 5), "holds_driving_licence": True}
    plain, pooled, checked = paths.answers(row)
    assert plain["errors"] == []
    assert checked == plain == pooled
    assert checked["instance"]["name"] == ("str", "张三") and checked["instance"]["phone"] == ("str", "13900001111")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_generated_rows_get_the_form_s_answer(setting, data):
    paths, values = setting
    row = {name: data.draw(st.sampled_from(candidates), label=name) for name, candidates in values.items()}
    plain, pooled, checked = paths.answers(row)
    assert checked == plain
    assert pooled == plain


def run(data, user, *, compiled, commit, batch=None):
    importer = get_importer("persons.person")
    importer.compiled_checks = compiled
    if batch:
        importer.bulk_rows = batch
    with transaction.atomic():
        result = run_import(importer, open_table(data, "r.csv"), user=user, commit=commit)
        out = outcome(result), snapshot(user)
        transaction.set_rollback(True)
    return out


@pytest.mark.parametrize("commit", [False, True])
def test_whole_files_import_the_same_with_compiled_checks(db, commit):
    from jindu.persons.tests.io_support import make_person

    user = role_user("town_office", "460106001")
    home = village("460106001")
    registered_before(home)
    make_person(village("460105001"), identity_number=id_number(dt.date(1970, 2, 2), seq=49), name="别处的人")
    make_person(home, identity_number=id_number(dt.date(1980, 3, 3), seq=55), name="改电话", phone="13900009999")
    for rows in (good_rows(home), bad_rows(home)):
        data = make_csv([HEAD, *rows])
        compiled = run(data, user, compiled=True, commit=commit, batch=4)
        pooled = run(data, user, compiled=False, commit=commit, batch=4)
        assert compiled == pooled
        assert compiled[0]["total_rows"] == len(rows)
