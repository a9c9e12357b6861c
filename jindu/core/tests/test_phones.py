"""Chinese phone numbers (peer case 16: ``+86 139-0000-1111`` is ``13900001111``)."""

import re

import pytest

from jindu.core.phones import PhoneNumberError, is_mobile, mask_phone, normalize_phone, phone_kind


@pytest.mark.parametrize(
    "raw,expected",
    [
        ("+86 139-0000-1111", "13900001111"),
        ("13900001111", "13900001111"),
        ("139 0000 1111", "13900001111"),
        ("１３９００００１１１１", "13900001111"),
        ("＋８６\u3000１３９－００００－１１１１", "13900001111"),
        ("0086 13900001111", "13900001111"),
        ("86-13900001111", "13900001111"),
        (" 13900001111\u3000", "13900001111"),
        ("0898-66123456", "0898-66123456"),
        ("(0898)66123456", "0898-66123456"),
        ("（0898）66123456", "0898-66123456"),
        ("+86 898 6612 3456", "0898-66123456"),
        ("010-12345678", "010-12345678"),
        ("021 6123 4567", "021-61234567"),
        ("0755-8888 9999", "0755-88889999"),
        ("400-810-8888", "4008108888"),
    ],
)
def test_normalize_phone(raw, expected):
    assert normalize_phone(raw) == expected


@pytest.mark.parametrize(
    "raw,code",
    [
        ("", "empty"),
        (None, "empty"),
        ("12345", "invalid"),
        ("139000011112", "invalid"),
        ("1390000111", "invalid"),
        ("13900001111.0", "invalid"),
        ("95588", "invalid"),
        ("66123456", "missing_area_code"),
        ("0898-66123456 ext 801", "extension"),
        ("0898-66123456转801", "extension"),
        ("+1 650 253 0000", "not_chinese"),
        ("电话", "invalid"),
    ],
)
def test_refused(raw, code):
    with pytest.raises(PhoneNumberError) as exc:
        normalize_phone(raw)
    assert exc.value.code == code
    assert any("\u4e00" <= ch <= "\u9fff" for ch in exc.value.messages[0])


def test_default_area_code_completes_local_landlines():
    assert normalize_phone("66123456", default_area_code="0898") == "0898-66123456"
    assert normalize_phone("13900001111", default_area_code="0898") == "13900001111"


def test_same_number_same_key():
    forms = ["+86 139-0000-1111", "13900001111", "１３９ ００００ １１１１", "0086-139-0000-1111"]
    assert {normalize_phone(f) for f in forms} == {"13900001111"}


def test_kind_and_mask():
    assert phone_kind("13900001111") == "mobile" and is_mobile("13900001111")
    assert phone_kind("0898-66123456") == "landline"
    assert phone_kind("4008108888") == "other"
    assert mask_phone("13900001111") == "139****1111"
    assert mask_phone("0898-66123456") == "*********3456"
    assert mask_phone("") == ""


@pytest.mark.parametrize("raw", ["2024-02-30", "2024/02/30", "6612345a"])
def test_dates_and_junk_are_not_taken_for_local_landlines(raw):
    """A date typed into a phone cell has 8 digits, but it is no landline missing its area
    code: it is refused as invalid, and never completed with a default area code."""
    with pytest.raises(PhoneNumberError) as exc:
        normalize_phone(raw, default_area_code="0898")
    assert exc.value.code == "invalid"


@pytest.mark.parametrize("raw", ["66123456", "6612-3456", "6612 3456"])
def test_local_landline_forms_ask_for_area_code(raw):
    with pytest.raises(PhoneNumberError) as exc:
        normalize_phone(raw)
    assert exc.value.code == "missing_area_code"
    assert normalize_phone(raw, default_area_code="0898") == "0898-66123456"


def test_plain_mobiles_parse_as_the_library_parses():
    """The shortcut for eleven plain digits (``phones._PLAIN_MOBILE``) builds what
    ``phonenumbers.parse(text, "CN")`` returns — for every three-digit opening it takes,
    each suffix digit at both ends and random ones, valid mobile ranges and invalid ones
    alike — and the stored form (or the refusal) is the one the library's parse gives."""
    import random

    import phonenumbers

    from jindu.core import phones

    rng = random.Random(11)
    taken = 0
    for opening in range(100, 200):
        suffixes = ["00000000", "99999999", "00000001", *(f"{rng.randrange(10**8):08d}" for _ in range(60))]
        for suffix in suffixes:
            text = f"{opening}{suffix}"
            if not phones._PLAIN_MOBILE.fullmatch(text):
                continue
            taken += 1
            assert phones._parse(text) == phonenumbers.parse(text, "CN"), text
    assert taken > 4000
    # Through the whole normalisation: the shortcut and the library agree on the verdict.
    original = phones._PLAIN_MOBILE
    samples = [f"{o}{rng.randrange(10**8):08d}" for o in range(130, 200) if o != 179 for _ in range(8)]
    try:
        fast = [_verdict(phones._normalize, s) for s in samples]
        phones._PLAIN_MOBILE = re.compile(r"(?!)")  # never matches: the library parses every number
        slow = [_verdict(phones._normalize, s) for s in samples]
    finally:
        phones._PLAIN_MOBILE = original
    assert fast == slow
    assert sum(1 for v in fast if v[0] == "ok") > 400 and any(v[0] == "invalid" for v in fast)


def _verdict(normalize, text):
    try:
        return ("ok", normalize(text, None))
    except PhoneNumberError as exc:
        return (exc.code, None)
