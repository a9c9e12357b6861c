"""IdentityNumberField: encrypted storage, blind-index look-up, uniqueness (peer cases 14, 16, 18, 19)."""

import threading
import time

import pytest
from django import forms
from django.core import serializers
from django.core.exceptions import FieldError, ValidationError
from django.db import IntegrityError, OperationalError, connection, connections, transaction
from django.template import Context, Template

from jindu.core import crypto
from jindu.core.fields import IdentityNumberFormField, identity_digest, identity_lookup, identity_q
from jindu.core.idnumbers import DocumentType, IdentityNumberError
from jindu.core.scope import ScopeGrant
from jindu.core.tests.testapp.models import IdentityDocument, Specimen
from jindu.geo.models import Division

PERSON_A = "110101199003071233"
PERSON_B = "11010119880516105X"


@pytest.fixture
def division(db):
    return Division.objects.filter(level="town").order_by("code").first()


def make(division, number, name="张测试"):
    return Specimen.objects.create(name=name, division=division, id_number=number)


def raw_column(table, column, pk):
    with connection.cursor() as cur:
        cur.execute(f"SELECT {column} FROM {table} WHERE id = %s", [pk])
        return cur.fetchone()[0]


def test_round_trip_and_ciphertext_at_rest(division):
    s = make(division, "１１０１０１１９９００３０７１２３３")
    assert s.id_number == PERSON_A  # normalised on save
    fresh = Specimen.objects.get(pk=s.pk)
    assert fresh.id_number == PERSON_A
    stored = raw_column("testapp_specimen", "id_number", s.pk)
    assert stored.startswith("jf1:") and PERSON_A not in stored and "110101" not in stored
    assert crypto.decrypt(stored) == PERSON_A
    digest = raw_column("testapp_specimen", "id_number_digest", s.pk)
    assert digest == crypto.blind_index(PERSON_A) == fresh.id_number_digest


def test_history_rows_hold_ciphertext_too(division):
    s = make(division, PERSON_A)
    s.name = "张测试（改）"
    s.save()
    h = s.history.order_by("history_id").first()
    assert h.id_number == PERSON_A
    with connection.cursor() as cur:
        cur.execute("SELECT id_number FROM testapp_historicalspecimen WHERE id = %s", [s.pk])
        stored = [r[0] for r in cur.fetchall()]
    assert len(stored) == 2 and all(v.startswith("jf1:") and PERSON_A not in v for v in stored)


@pytest.mark.parametrize(
    "query",
    [
        "11010119880516105x",
        "11010119880516105X",
        "１１０１０１１９８８０５１６１０５ｘ",
        " 110101 19880516 105X\u3000",
    ],
)
def test_lookup_by_any_form(division, query):
    b = make(division, PERSON_B, "李样例")
    make(division, PERSON_A)
    assert list(Specimen.objects.filter(**identity_lookup("id_number", query))) == [b]
    assert list(Specimen.objects.filter(identity_q("id_number", query))) == [b]


def test_fifteen_digit_form_finds_the_18_digit_record(division):
    old = make(division, "110101197508123415", "老证")
    assert Specimen.objects.get(**identity_lookup("id_number", "110101750812341")) == old
    # And a record registered with the 15-digit form is stored as 18 digits.
    old.delete()
    converted = make(division, "110101750812341", "老证")
    assert converted.id_number == "110101197508123415"
    assert Specimen.objects.get(**identity_lookup("id_number", "110101197508123415")) == converted


def test_lookup_through_a_relation_path():
    assert identity_lookup("person__id_number", PERSON_A) == {"person__id_number_digest": identity_digest(PERSON_A)}


def test_lookup_with_invalid_number_says_so():
    with pytest.raises(IdentityNumberError):
        identity_lookup("id_number", "110101199003071232")


@pytest.mark.parametrize("other_form", [PERSON_A, "１１０１０１１９９００３０７１２３３"])
def test_duplicate_refused_by_the_database(division, other_form):
    make(division, PERSON_A)
    with pytest.raises(IntegrityError), transaction.atomic():
        make(division, other_form, "张测式")
    assert Specimen.objects.count() == 1


def test_duplicate_lower_and_upper_x(division):
    make(division, "11010119880516105x")
    with pytest.raises(IntegrityError), transaction.atomic():
        make(division, "11010119880516105X")


def test_duplicate_15_and_18_digit_forms(division):
    make(division, "110101197508123415")
    with pytest.raises(IntegrityError), transaction.atomic():
        make(division, "110101750812341")


def test_duplicate_by_bulk_create(division):
    with pytest.raises(IntegrityError), transaction.atomic():
        Specimen.objects.bulk_create(
            [Specimen(name="a", division=division, id_number=PERSON_A),
             Specimen(name="b", division=division, id_number="１１０１０１１９９００３０７１２３３")]
        )


def test_empty_numbers_do_not_collide(division):
    a = make(division, "")
    b = make(division, "")
    assert a.id_number == "" and a.id_number_digest is None and b.id_number_digest is None
    assert Specimen.objects.filter(id_number__isnull=False).count() == 2
    assert raw_column("testapp_specimen", "id_number", a.pk) == ""


def test_invalid_number_is_refused_on_save_and_nothing_written(division):
    with pytest.raises(IdentityNumberError) as exc:
        make(division, "111111111111111111")
    assert exc.value.code == "repeated_digits"
    assert Specimen.objects.count() == 0


def test_invalid_number_does_not_break_the_callers_transaction(division):
    # An importer validating row by row inside one transaction can report the row and go on.
    with transaction.atomic():
        with pytest.raises(IdentityNumberError):
            make(division, "110101199003071232")
        make(division, PERSON_A)
    assert Specimen.objects.count() == 1


def test_full_clean_reports_the_field(division):
    s = Specimen(name="x", division=division, id_number="110101751332341")
    with pytest.raises(ValidationError) as exc:
        s.full_clean()
    assert "id_number" in exc.value.message_dict
    assert "出生日期" in exc.value.message_dict["id_number"][0]
    s.id_number = "11010119880516105x"
    s.full_clean()
    assert s.id_number == PERSON_B


def test_changing_the_number_updates_the_digest(division):
    s = make(division, PERSON_A)
    s.id_number = PERSON_B
    s.save()
    assert Specimen.objects.filter(**identity_lookup("id_number", PERSON_B)).get() == s
    assert not Specimen.objects.filter(**identity_lookup("id_number", PERSON_A)).exists()
    s.id_number = PERSON_A
    s.save(update_fields=["id_number", "id_number_digest"])
    assert Specimen.objects.get(**identity_lookup("id_number", PERSON_A)) == s
    with pytest.raises(ValueError, match="id_number_digest"):
        s.save(update_fields=["id_number"])


def test_queries_on_the_encrypted_column_are_refused(division):
    make(division, PERSON_A)
    for kwargs in ({"id_number": PERSON_A}, {"id_number__contains": "1101"}, {"id_number__startswith": "1"}):
        with pytest.raises(FieldError, match="identity_lookup"):
            list(Specimen.objects.filter(**kwargs))


def test_serialization_writes_ciphertext(division):
    s = make(division, PERSON_A)
    data = serializers.serialize("json", [s])
    assert PERSON_A not in data and "jf1:" in data
    s.delete()
    obj = next(serializers.deserialize("json", data))
    assert obj.object.id_number == PERSON_A
    obj.save()
    assert Specimen.objects.get(**identity_lookup("id_number", PERSON_A)).name == "张测试"


class SpecimenForm(forms.ModelForm):
    class Meta:
        model = Specimen
        fields = ["name", "division", "id_number"]


def test_model_form_uses_the_same_validation(division):
    form = SpecimenForm(data={"name": "张测试", "division": division.pk, "id_number": "１１０１０１１９９００３０７１２３３"})
    assert isinstance(form.fields["id_number"], IdentityNumberFormField)
    assert form.is_valid(), form.errors
    assert form.save().id_number == PERSON_A
    bad = SpecimenForm(data={"name": "x", "division": division.pk, "id_number": "110101199003071232"})
    assert not bad.is_valid()
    assert "校验位" in bad.errors["id_number"][0]
    # A second person with the same number is a form error, not a crash, once the view
    # checks the digest; the database constraint is the last line.
    dup = SpecimenForm(data={"name": "张测式", "division": division.pk, "id_number": "110101199003071233"})
    assert dup.is_valid()
    with pytest.raises(IntegrityError), transaction.atomic():
        dup.save()


# --- peer case 16: document types ------------------------------------------------------


@pytest.mark.django_db
def test_same_number_different_document_types_are_different_keys():
    passport = IdentityDocument.objects.create(name="甲", document_type=DocumentType.PASSPORT, document_number="e12345678")
    permit = IdentityDocument.objects.create(
        name="乙", document_type=DocumentType.HK_MACAO_PERMIT, document_number="E1234 5678"
    )
    assert passport.document_number == permit.document_number == "E12345678"
    assert passport.document_number_digest != permit.document_number_digest
    found = IdentityDocument.objects.get(
        **identity_lookup("document_number", "Ｅ１２３４５６７８", document_type=DocumentType.PASSPORT)
    )
    assert found == passport
    with pytest.raises(IntegrityError), transaction.atomic():
        IdentityDocument.objects.create(name="丙", document_type=DocumentType.PASSPORT, document_number="E12345678")


@pytest.mark.django_db
def test_resident_id_document_is_validated_as_such():
    with pytest.raises(IdentityNumberError):
        IdentityDocument.objects.create(name="甲", document_type=DocumentType.RESIDENT_ID, document_number="E12345678")
    doc = IdentityDocument.objects.create(name="甲", document_number="11010119880516105x")
    assert doc.document_number == PERSON_B
    assert IdentityDocument.objects.get(**identity_lookup("document_number", PERSON_B)) == doc
    # The same digest as a plain resident-ID field: one key per person across models.
    assert doc.document_number_digest == identity_digest(PERSON_B)


# --- display: the template filter and the shared function ------------------------------


class FakeUser:
    is_authenticated = True
    is_active = True
    is_superuser = False

    def __init__(self, *grants):
        self._grants = list(grants)

    def get_scope_grants(self):
        return self._grants


def test_template_filter_masks_unless_permitted(division):
    s = make(division, PERSON_A)
    tpl = Template("{% load identity %}{{ s.id_number|identity_number:user }}")
    plain = FakeUser(ScopeGrant("town_office", frozenset({"testapp.view_specimen"}), ""))
    police = FakeUser(ScopeGrant("police", frozenset({"accounts.view_identity_number"}), ""))
    assert tpl.render(Context({"s": s, "user": plain})) == "110101********1233"
    assert tpl.render(Context({"s": s, "user": police})) == PERSON_A
    tag = Template("{% load identity %}{% identity_number s.id_number user s.division %}")
    assert tag.render(Context({"s": s, "user": police})) == PERSON_A
    elsewhere = FakeUser(ScopeGrant("police", frozenset({"accounts.view_identity_number"}), "99/"))
    assert tag.render(Context({"s": s, "user": elsewhere})) == "110101********1233"
    always = Template("{% load identity %}{{ s.id_number|mask_identity_number }}")
    assert always.render(Context({"s": s})) == "110101********1233"


# --- peer case 14: concurrent creates of the same number --------------------------------
#
# Real concurrency needs committed rows seen by several connections, so this test runs
# outside the per-test transaction (no ``db`` fixture) and cleans up its own rows. It does
# not use ``transaction=True``: that flushes every table afterwards, which would also
# remove the session's Haikou divisions for the tests that follow.

MARK = "并发测试"


@pytest.fixture
def committed_division(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        div, _ = Division.objects.get_or_create(
            code="990000000000", defaults={"name": "并发测试区划", "level": "province"}
        )
        yield div
        Specimen.objects.filter(name__startswith=MARK).delete()
        Specimen.history.filter(name__startswith=MARK).delete()
        Division.history.filter(code="990000000000").delete()
        div.delete()
        Division.history.filter(code="990000000000").delete()


def _race(division, numbers):
    barrier = threading.Barrier(len(numbers))
    outcomes = [None] * len(numbers)

    def worker(i, number):
        try:
            barrier.wait(timeout=10)
            for _attempt in range(50):
                try:
                    with transaction.atomic():
                        Specimen.objects.create(name=f"{MARK}{i}", division=division, id_number=number)
                    outcomes[i] = "created"
                    return
                except IntegrityError:
                    outcomes[i] = "duplicate"
                    return
                except OperationalError as exc:
                    # SQLite's shared in-memory test database answers "table is locked"
                    # instead of waiting; a file database waits (busy timeout). Retry.
                    if "locked" not in str(exc):
                        raise
                    time.sleep(0.02)
            outcomes[i] = "gave up"
        except Exception as exc:  # reported by the assertion below
            outcomes[i] = repr(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(i, n)) for i, n in enumerate(numbers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return outcomes


@pytest.mark.parametrize(
    "numbers,normalised",
    [
        ((PERSON_A, PERSON_A), PERSON_A),
        (("11010119880516105x", "11010119880516105X"), PERSON_B),
        (("110101750812341", "110101197508123415", "１１０１０１７５０８１２３４１"), "110101197508123415"),
    ],
)
def test_concurrent_creates_leave_exactly_one_row(committed_division, django_db_blocker, numbers, normalised):
    outcomes = _race(committed_division, numbers)
    assert sorted(outcomes) == ["created"] + ["duplicate"] * (len(numbers) - 1), outcomes
    with django_db_blocker.unblock():
        rows = list(Specimen.objects.filter(name__startswith=MARK))
        assert len(rows) == 1
        assert rows[0].id_number == normalised
        assert Specimen.objects.filter(**identity_lookup("id_number", normalised)).count() == 1


# --- API: the serializer field ---------------------------------------------------------


def test_serializer_field_normalises_and_masks(division, rf):
    from rest_framework import serializers

    from jindu.core.fields import IdentityNumberSerializerField

    class SpecimenSerializer(serializers.ModelSerializer):
        id_number = IdentityNumberSerializerField(division_field="division")

        class Meta:
            model = Specimen
            fields = ["id", "name", "division", "id_number"]

    request = rf.get("/")
    request.user = FakeUser(ScopeGrant("town_office", frozenset({"testapp.view_specimen"}), ""))
    ser = SpecimenSerializer(data={"name": "李样例", "division": division.pk, "id_number": "11010119880516105x"},
                             context={"request": request})
    assert ser.is_valid(), ser.errors
    obj = ser.save()
    assert obj.id_number == PERSON_B
    assert SpecimenSerializer(obj, context={"request": request}).data["id_number"] == "110101********105X"
    request.user = FakeUser(ScopeGrant("police", frozenset({"accounts.view_identity_number"}), division.path))
    assert SpecimenSerializer(obj, context={"request": request}).data["id_number"] == PERSON_B
    request.user = FakeUser(ScopeGrant("police", frozenset({"accounts.view_identity_number"}), "99/"))
    assert SpecimenSerializer(obj, context={"request": request}).data["id_number"] == "110101********105X"

    bad = SpecimenSerializer(data={"name": "x", "division": division.pk, "id_number": "110101199003071232"},
                             context={"request": request})
    assert not bad.is_valid()
    assert bad.errors["id_number"][0].code == "invalid_checksum"
    assert "校验位" in str(bad.errors["id_number"][0])


# -- PhoneNumberField (review finding B5: one validation for forms, API and imports) -----


@pytest.mark.django_db
def test_phone_field_normalises_on_clean_and_save_and_refuses_junk():
    from jindu.accounts.models import User

    user = User(username="phone1", phone="+86 139-0000-1111")
    user.full_clean(exclude=["password"])
    assert user.phone == "13900001111"
    user.phone = "（0898）66778899"
    user.save()
    user.refresh_from_db()
    assert user.phone == "0898-66778899"
    user.phone = "abc"
    with pytest.raises(ValidationError) as exc:
        user.full_clean(exclude=["password"])
    assert "不是有效的手机号码或固定电话号码（收到“abc”）" in exc.value.message_dict["phone"][0]
    # Saved by code without full_clean: refused before anything is written, and the
    # caller's transaction is still usable.
    with transaction.atomic():
        with pytest.raises(ValidationError):
            User(username="phone2", phone="12345").save()
        assert User.objects.filter(username="phone2").count() == 0
    user.phone = ""
    user.save()  # blank=True allows no number


@pytest.mark.django_db
def test_phone_field_lookups_are_not_validated():
    from jindu.org.models import Unit

    Unit.objects.create(name="号码单位", kind="other", division=Division.objects.get(code="460106000000"),
                        phone="13900001111")
    assert Unit.objects.filter(phone__contains="0000").count() == 1
    assert Unit.objects.filter(phone="not a number").count() == 0


def test_phone_field_form_field_and_deconstruct():
    from jindu.core.fields import PhoneNumberField, PhoneNumberFormField

    field = PhoneNumberField("电话", blank=True, default_area_code="0898")
    name, path, args, kwargs = field.deconstruct()
    assert path == "jindu.core.fields.PhoneNumberField"
    assert kwargs == {"verbose_name": "电话", "blank": True, "default_area_code": "0898"}
    form_field = field.formfield()
    assert isinstance(form_field, PhoneNumberFormField) and not form_field.required
    assert form_field.clean("66123456") == "0898-66123456"
    assert form_field.clean("") == ""
    with pytest.raises(ValidationError):
        form_field.clean("2024-02-30")
    assert PhoneNumberField("电话").formfield().required


@pytest.mark.django_db
def test_phone_field_model_serializer_uses_the_model_validator():
    from rest_framework import serializers

    from jindu.accounts.models import User
    from jindu.core.fields import PhoneNumberSerializerField

    class PlainSerializer(serializers.ModelSerializer):
        class Meta:
            model = User
            fields = ["username", "phone"]

    bad = PlainSerializer(data={"username": "s1", "phone": "12345"})
    assert not bad.is_valid() and "不是有效的手机号码或固定电话号码" in str(bad.errors["phone"][0])
    ok = PlainSerializer(data={"username": "s1", "phone": ""})
    assert ok.is_valid(), ok.errors
    # A ModelSerializer validates only; the declared field also returns the stored form.
    field = PhoneNumberSerializerField()
    assert field.run_validation("+86 139 0000 1111") == "13900001111"
    with pytest.raises(serializers.ValidationError):
        field.run_validation("abc")
