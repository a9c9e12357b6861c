"""Names and free text: one normalisation (peer cases 4, 17, 18)."""

import pytest

from jindu.core.text import is_cjk, needs_manual_check, normalize_name, normalize_text, private_use_characters


@pytest.mark.parametrize(
    "raw,expected",
    [
        ("张　测试", "张测试"),  # U+3000 between CJK characters
        ("张 测试", "张测试"),
        ("  张测试\u3000", "张测试"),
        ("\u3000\u3000张\u3000\u3000测试\u3000", "张测试"),
        ("张\u00a0测试", "张测试"),
        ("Maria   Garcia", "Maria Garcia"),
        ("Maria\u3000Garcia", "Maria Garcia"),
        ("王 Li", "王 Li"),
        ("阿卜杜拉•买买提", "阿卜杜拉·买买提"),
        ("阿卜杜拉・买买提", "阿卜杜拉·买买提"),
        ("阿卜杜拉 · 买买提", "阿卜杜拉·买买提"),
        ("张\u200b测试\ufeff", "张测试"),
        ("张\n测试", "张测试"),
        ("", ""),
        (None, ""),
    ],
)
def test_normalize_name(raw, expected):
    assert normalize_name(raw) == expected


def test_rare_character_outside_gbk_is_kept():
    name = "王\U0002003e"
    assert normalize_name(name) == "\u738b\U0002003e"
    assert normalize_name(" 王\U0002003e\u3000") == "\u738b\U0002003e"
    assert [hex(ord(c)) for c in normalize_name(name)] == ["0x738b", "0x2003e"]
    with pytest.raises(UnicodeEncodeError):
        name.encode("gbk")
    assert name.encode("gb18030").decode("gb18030") == name
    assert is_cjk("\U0002003e")


def test_nfc_composes():
    # "e" + combining acute → é (NFC), so search matches the precomposed form.
    assert normalize_name("Rene\u0301") == "Ren\u00e9"
    assert normalize_text("cafe\u0301") == "caf\u00e9"


def test_nfc_keeps_compatibility_characters():
    # Full-width letters are not folded (NFKC would): names keep what was typed.
    assert normalize_name("ＡＢ") == "ＡＢ"


def test_private_use_characters_are_flagged_not_removed():
    name = "王\ue000明"
    assert normalize_name(name) == name
    assert private_use_characters(name) == ["U+E000"]
    assert needs_manual_check(name)
    assert needs_manual_check("李\uf8ff")
    assert not needs_manual_check("王\U0002003e")
    assert not needs_manual_check("张测试")
    assert not needs_manual_check(None)


def test_normalize_text():
    raw = "\u3000\u3000第一行  有　空格\t尾部 \r\n\r\n\r\n\r\n第二行\x07\n"
    assert normalize_text(raw) == "第一行 有 空格 尾部\n\n第二行"
    assert normalize_text("海口市\u3000美兰区\n 白龙街道", multiline=False) == "海口市 美兰区 白龙街道"
    assert normalize_text(None) == ""
    assert normalize_text("王\U0002003e") == "王\U0002003e"


def test_normalisation_is_idempotent():
    for raw in ["张　测试", "阿卜杜拉 • 买买提", " Maria  Garcia ", "王\U0002003e"]:
        once = normalize_name(raw)
        assert normalize_name(once) == once
    text = "a  b\n\n\n\nc"
    assert normalize_text(normalize_text(text)) == normalize_text(text)
