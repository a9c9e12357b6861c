"""Person names and free text: one normalisation, applied on every way in (forms, imports, API).

Rules (the same input always gives the same stored string, so search and duplicate checks
see one form):

1. Unicode NFC. Not NFKC: compatibility folding would rewrite characters that belong to
   a name (CJK compatibility ideographs, full-width letters chosen on purpose); full-width
   spaces are handled by rule 3 instead.
2. Removed everywhere: zero-width and byte-order marks (U+200B, U+200C, U+200D, U+2060,
   U+FEFF), bidirectional embedding/override/isolate controls, and control characters (Unicode category Cc), except line breaks and tabs in
   multi-line free text. Line breaks become ``\\n``.
3. Whitespace: every run of spaces (ASCII space, tab, U+00A0, U+3000 ideographic space and
   the other Unicode spaces) is trimmed at both ends (of the text, and of each line of
   free text).
   * Names: a run between two CJK characters is removed (``"张　测试"`` → ``"张测试"``:
     Chinese names have no spaces, a space there is a typing artefact); any other run
     becomes one ASCII space (``"Maria  Garcia"`` → ``"Maria Garcia"``).
   * Free text: any inner run becomes one ASCII space; at most two consecutive line breaks.
4. Names only: the separator dot of transliterated names (阿卜杜拉·买买提) typed as
   ``•`` U+2022, ``・`` U+30FB, ``･`` U+FF65, ``‧`` U+2027, ``⋅`` U+22C5 or ``．`` U+FF0E
   becomes ``·`` U+00B7, the form used on identity cards.
5. Characters outside GBK, including supplementary-plane ideographs such as 𠀾 U+2003E
   (王𠀾), are kept unchanged: the database stores full Unicode.
6. Private-use characters (U+E000–U+F8FF and planes 15–16) are kept but reported by
   :func:`private_use_characters` / :func:`needs_manual_check`: they are how some
   systems encode rare name characters, and their meaning depends on the font, so a
   person must check the record.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = [
    "normalize_name",
    "normalize_text",
    "private_use_characters",
    "needs_manual_check",
    "is_cjk",
]

# Zero-width characters, byte-order mark, and the bidirectional embedding/override/isolate
# controls (U+202A–U+202E, U+2066–U+2069) that can make stored text display differently
# from what it is ("Trojan Source", CVE-2021-42574).
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff"
                                    "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"))
_NAME_DOTS = str.maketrans({"\u2022": "\u00b7", "\u30fb": "\u00b7", "\uff65": "\u00b7",
                            "\u2027": "\u00b7", "\u22c5": "\u00b7", "\uff0e": "\u00b7"})
# Horizontal whitespace: every Unicode space separator plus tab (not line breaks).
_HSPACE = r"[^\S\r\n\v\f\x1c-\x1e\x85\u2028\u2029]"
_HSPACE_RUN = re.compile(f"{_HSPACE}+")


def is_cjk(ch: str) -> bool:
    """Whether ``ch`` is a CJK ideograph (URO, extensions A–I, compatibility ideographs)."""
    cp = ord(ch)
    return (
        0x4E00 <= cp <= 0x9FFF
        or 0x3400 <= cp <= 0x4DBF
        or 0x20000 <= cp <= 0x323AF
        or 0xF900 <= cp <= 0xFAFF
        or 0x2F800 <= cp <= 0x2FA1F
        or cp == 0x3007  # 〇
    )


def _strip_controls(text: str, keep_lines: bool) -> str:
    text = text.translate(_INVISIBLE)
    if keep_lines:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
        keep = {"\n", "\t"}
    else:
        keep = {"\t", "\n", "\r"}  # turned into spaces below
    out = []
    for ch in text:
        if unicodedata.category(ch) == "Cc" and ch not in keep:
            continue
        out.append(" " if (not keep_lines and ch in "\n\r") else ch)
    return "".join(out)


def normalize_name(value: str | None) -> str:
    """A person's name in its stored form (rules 1–5 of the module docstring); ``""`` for ``None``."""
    if not value:
        return ""
    text = _strip_controls(unicodedata.normalize("NFC", str(value)), keep_lines=False)
    text = text.translate(_NAME_DOTS).strip()

    def join(m: re.Match) -> str:
        before = text[m.start() - 1] if m.start() else ""
        after = text[m.end()] if m.end() < len(text) else ""
        if before and after and is_cjk(before) and is_cjk(after):
            return ""
        return " "

    text = _HSPACE_RUN.sub(join, text)
    # A space next to the separator dot is an artefact too: "阿卜杜拉 · 买买提".
    return re.sub(r" ?\u00b7 ?", "\u00b7", text)


def normalize_text(value: str | None, *, multiline: bool = True) -> str:
    """Free text (remarks, addresses, descriptions) in its stored form; ``""`` for ``None``.

    ``multiline=False`` joins lines into one (single-line fields such as addresses).
    """
    if not value:
        return ""
    text = _strip_controls(unicodedata.normalize("NFC", str(value)), keep_lines=multiline)
    if not multiline:
        return _HSPACE_RUN.sub(" ", text).strip()
    lines = [_HSPACE_RUN.sub(" ", line).strip() for line in text.split("\n")]
    text = "\n".join(lines).strip("\n")
    return re.sub(r"\n{3,}", "\n\n", text)


def private_use_characters(value: str | None) -> list[str]:
    """Private-use characters in ``value`` (category Co), in order, as ``"U+E000"`` strings."""
    if not value:
        return []
    return [f"U+{ord(ch):04X}" for ch in value if unicodedata.category(ch) == "Co"]


def needs_manual_check(value: str | None) -> bool:
    """Whether a name holds private-use characters and must be checked by a person."""
    return bool(private_use_characters(value))
