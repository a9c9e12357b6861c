"""Citizen identity numbers (GB 11643-1999) and other documents.

Vectors: shared/reference/regulatory/id_card.md (valid and invalid tables) and peer cases
14, 16, 18, 19 of shared/reference/acceptance/peer-cases.md.
"""

from datetime import date

import pytest
import time_machine
from django.core.exceptions import ValidationError
from hypothesis import given
from hypothesis import strategies as st

from jindu.core.idnumbers import (
    FEMALE,
    MALE,
    DocumentType,
    IdentityNumberError,
    birth_date_of,
    display_identity_number,
    is_valid_identity_number,
    mask_identity_number,
    may_view_identity_number,
    normalize_document_number,
    normalize_identity_number,
    parse_identity_number,
    sex_of,
)
from jindu.core.scope import ScopeGrant

W = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]


def reference_check_char(first17: str) -> str:
    """The algorithm as printed in id_card.md, independent of python-stdnum."""
    return "10X98765432"[sum(int(d) * w for d, w in zip(first17, W)) % 11]


# id_card.md, "Valid" table.
VALID = [
    ("460107198503120015", date(1985, 3, 12), MALE),
    ("460107199001010128", date(1990, 1, 1), FEMALE),
    ("460107200002291238", date(2000, 2, 29), MALE),
    ("460107197812314564", date(1978, 12, 31), FEMALE),
    ("460107201010107896", date(2010, 10, 10), MALE),
    ("46010719950808007X", date(1995, 8, 8), MALE),
]

# id_card.md, "Invalid" table, and peer case 19.
INVALID = [
    ("460107198503120010", "invalid_checksum"),
    ("460107199002303459", "invalid_birth_date"),  # 30 February
    ("460107200102292465", "invalid_birth_date"),  # 2001 is not a leap year
    ("4601071990010101", "invalid_length"),
    ("460107200002292138", "invalid_checksum"),  # two sequence digits swapped
    ("110101199003071232", "invalid_checksum"),
    ("111111111111111111", "repeated_digits"),
    ("000000000000000000", "repeated_digits"),
    ("110101751332341", "invalid_birth_date"),  # 15 digits, month 13
    ("11010119900307123", "invalid_length"),
    ("1101011990030712334", "invalid_length"),
    ("11010119900307123Y", "invalid_characters"),
    ("X10101199003071233", "invalid_characters"),
    ("110101-199003071233", "invalid_characters"),
    ("", "empty"),
    ("   ", "empty"),
    ("990101199003071233", "invalid_region"),
]


@pytest.mark.parametrize("number,born,sex", VALID)
def test_reference_valid_numbers(number, born, sex):
    info = parse_identity_number(number)
    assert info.number == number
    assert info.birth_date == born
    assert info.sex == sex
    assert not info.converted_from_15
    assert reference_check_char(number[:17]) == number[17]


@pytest.mark.parametrize("number,code", INVALID)
def test_invalid_numbers_are_refused_with_a_code(number, code):
    with pytest.raises(IdentityNumberError) as exc:
        normalize_identity_number(number)
    assert exc.value.code == code
    assert isinstance(exc.value, ValidationError)
    # Message is Chinese and does not repeat the number (it may be logged or shown in reports).
    message = exc.value.messages[0]
    assert any("\u4e00" <= ch <= "\u9fff" for ch in message)
    if len(number) > 10:
        assert number not in message


def test_impossible_birth_date_in_a_consistent_number():
    # 2000-02-30 with a check character computed for it: only the date is wrong.
    first17 = "11010120000230123"
    number = first17 + reference_check_char(first17)
    with pytest.raises(IdentityNumberError) as exc:
        normalize_identity_number(number)
    assert exc.value.code == "invalid_birth_date"
    assert "2000-02-30" in exc.value.messages[0]


def test_future_birth_date_is_refused():
    first17 = "11010120990101123"
    with pytest.raises(IdentityNumberError) as exc:
        normalize_identity_number(first17 + reference_check_char(first17))
    assert exc.value.code == "birth_date_out_of_range"


def test_birth_today_is_accepted_and_tomorrow_not():
    with time_machine.travel("2024-06-20 23:30 +0800", tick=False):
        today = "11010120240620001"
        tomorrow = "11010120240621001"
        assert is_valid_identity_number(today + reference_check_char(today))
        assert not is_valid_identity_number(tomorrow + reference_check_char(tomorrow))


# Peer case 19 and 18: forms that must be accepted and what they normalise to.
@pytest.mark.parametrize(
    "raw,expected",
    [
        ("11010119880516105x", "11010119880516105X"),
        ("11010119880516105X", "11010119880516105X"),
        ("１１０１０１１９９００３０７１２３３", "110101199003071233"),
        ("１１０１０１１９８８０５１６１０５ｘ", "11010119880516105X"),
        ("  110101199003071233\t", "110101199003071233"),
        ("\u3000110101199003071233\u3000", "110101199003071233"),
        ("110101 19900307 1233", "110101199003071233"),
        ("110101\u300019900307\u30001233", "110101199003071233"),
        ("\ufeff110101199003071233\u200b", "110101199003071233"),
        ("110101750812341", "110101197508123415"),
        ("１１０１０１７５０８１２３４１", "110101197508123415"),
    ],
)
def test_accepted_forms_normalise(raw, expected):
    assert normalize_identity_number(raw) == expected


def test_fifteen_digit_number_is_converted_and_dated():
    info = parse_identity_number("110101750812341")
    assert info.number == "110101197508123415"
    assert info.converted_from_15
    assert info.birth_date == date(1975, 8, 12)
    assert info.sex == MALE  # last digit 1 is the sex digit on old cards
    assert reference_check_char(info.number[:17]) == info.number[17]


def test_birth_date_and_sex_helpers():
    assert birth_date_of("11010119880516105x") == date(1988, 5, 16)
    assert sex_of("11010119880516105X") == MALE
    assert sex_of("460107199001010128") == FEMALE


def test_historic_address_code_is_only_a_warning():
    # 460107 (琼山区) did not exist before 2002, yet numbers first registered later or
    # carrying old codes are valid for life: accepted, with a note to check.
    info = parse_identity_number("460107198503120015")
    assert info.number == "460107198503120015"
    assert info.warnings and "地址码" in info.warnings[0]
    # An address code that never existed in a valid province is likewise only a warning.
    first17 = "46019919850312001"
    assert parse_identity_number(first17 + reference_check_char(first17)).warnings


def test_current_code_without_warning():
    assert parse_identity_number("110101199003071233").warnings == ()


@given(st.text(alphabet="0123456789", min_size=17, max_size=17))
def test_any_number_with_computed_check_char_is_either_valid_or_refused_for_a_reason(first17):
    number = first17 + reference_check_char(first17)
    try:
        info = parse_identity_number(number)
    except IdentityNumberError as exc:
        assert exc.code in {"invalid_birth_date", "birth_date_out_of_range", "invalid_region", "repeated_digits"}
    else:
        assert info.number == number
        # The check character never lies: altering it is always refused.
        wrong = "0" if number[-1] != "0" else "1"
        with pytest.raises(IdentityNumberError):
            normalize_identity_number(number[:17] + wrong)


# Peer case 16: documents of different types are different keys.
def test_other_documents_normalise_and_keep_their_type():
    assert normalize_document_number(DocumentType.PASSPORT, " e1234 5678 ") == "E12345678"
    assert normalize_document_number(DocumentType.HK_MACAO_PERMIT, "Ｅ１２３４５６７８") == "E12345678"
    assert normalize_document_number(DocumentType.RESIDENT_ID, "11010119880516105x") == "11010119880516105X"
    assert normalize_document_number("", "11010119880516105x") == "11010119880516105X"
    assert normalize_document_number(DocumentType.OTHER, "ab-123/4") == "AB-123/4"


@pytest.mark.parametrize(
    "doc_type,raw,code",
    [
        (DocumentType.PASSPORT, "", "empty"),
        (DocumentType.PASSPORT, "E12-345678", "invalid_characters"),
        (DocumentType.PASSPORT, "E1", "invalid_characters"),
        ("driving_licence", "E12345678", "invalid_document_type"),
        (DocumentType.RESIDENT_ID, "E12345678", "invalid_characters"),
    ],
)
def test_bad_document_numbers(doc_type, raw, code):
    with pytest.raises(IdentityNumberError) as exc:
        normalize_document_number(doc_type, raw)
    assert exc.value.code == code


def test_document_type_labels_are_chinese():
    assert dict(DocumentType.choices) == {
        "resident_id": "居民身份证",
        "passport": "护照",
        "hk_macao_permit": "港澳居民来往内地通行证",
        "taiwan_permit": "台湾居民来往大陆通行证",
        "foreign_permanent_residence": "外国人永久居留身份证",
        "other": "其他",
    }


# Masking: one rule for list, detail, export and API.
@pytest.mark.parametrize(
    "value,masked",
    [
        ("460107198503120015", "460107********0015"),
        ("11010119880516105X", "110101********105X"),
        ("E12345678", "E1*****78"),
        ("AB12", "****"),
        ("", ""),
        (None, ""),
    ],
)
def test_mask(value, masked):
    assert mask_identity_number(value) == masked


class FakeUser:
    is_authenticated = True
    is_active = True
    is_superuser = False

    def __init__(self, *grants):
        self._grants = list(grants)

    def get_scope_grants(self):
        return self._grants


POLICE_QS = ScopeGrant("police", frozenset({"accounts.view_identity_number"}), "46/4601/460107/")
TOWN = ScopeGrant("town_office", frozenset({"testapp.view_specimen"}), "46/4601/460108/")


def test_display_masks_unless_permission():
    number = "460107198503120015"
    assert display_identity_number(number, FakeUser(TOWN)) == "460107********0015"
    assert display_identity_number(number, FakeUser(POLICE_QS)) == number
    assert display_identity_number(number, None) == "460107********0015"
    superuser = FakeUser()
    superuser.is_superuser = True
    assert display_identity_number(number, superuser) == number
    inactive = FakeUser(POLICE_QS)
    inactive.is_active = False
    assert display_identity_number(number, inactive) == "460107********0015"


def test_permission_counts_only_where_the_role_is_held():
    # A police role in 琼山区 plus a town role in 美兰区: 美兰 records stay masked.
    user = FakeUser(POLICE_QS, TOWN)
    assert may_view_identity_number(user, "46/4601/460107/460107001/")
    assert not may_view_identity_number(user, "46/4601/460108/460108001/")
    assert display_identity_number("460107198503120015", user, "46/4601/460108/") == "460107********0015"
