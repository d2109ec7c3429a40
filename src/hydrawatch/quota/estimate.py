"""A conservative token estimate for text, for reservations made before the upstream counts.

``chars / 4`` holds for English prose but undercounts other text badly: CJK text is about
one token per character, and digits, punctuation and other scripts split finer. Reserving
too little lets a campaign that writes in such text run past its limits until settle
catches up, so this estimate leans high: settle replaces it with the real count anyway."""

from __future__ import annotations

import math
import re


def _is_cjk(o: int) -> bool:
    return (
        0x3040 <= o <= 0x30FF  # hiragana, katakana
        or 0x3400 <= o <= 0x4DBF  # CJK extension A
        or 0x4E00 <= o <= 0x9FFF  # CJK unified ideographs
        or 0xAC00 <= o <= 0xD7AF  # hangul syllables
        or 0xF900 <= o <= 0xFAFF  # CJK compatibility ideographs
        or 0x20000 <= o <= 0x2FA1F  # CJK extensions B..
    )


# ASCII bytes that are neither letters nor whitespace (``str.isalpha`` / ``str.isspace``):
# deleting them leaves the letters and spaces, counted at C speed
_NOT_LETTER = bytes(b for b in range(128) if not (chr(b).isalpha() or chr(b).isspace()))
_ASCII_RUN_RE = re.compile(r"[\x00-\x7f]+")
_CJK_RE = re.compile(
    "[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\U00020000-\U0002fa1f]"
)


def _counts(text: str) -> tuple[int, int, int, int]:
    """(ASCII letters and spaces, other ASCII, CJK, other scripts) of ``text``, without a
    Python-level loop per character (this runs on the gateway's request path)."""
    if text.isascii():
        letters = len(text.encode("ascii").translate(None, _NOT_LETTER))
        return letters, len(text) - letters, 0, 0
    wide = _ASCII_RUN_RE.sub("", text)  # the non-ASCII characters, in order
    ascii_part = text.encode("ascii", "ignore")
    letters = len(ascii_part.translate(None, _NOT_LETTER))
    cjk = _CJK_RE.subn("", wide)[1]
    return letters, len(ascii_part) - letters, cjk, len(wide) - cjk


def estimate_tokens(text: str) -> int:
    """Tokens ``text`` will probably cost, erring high: ASCII letters and spaces at 4 chars
    per token, ASCII digits and punctuation at 2, CJK at 1 per char, other scripts at 2 chars
    per token (0 for empty text)."""
    if not text:
        return 0
    letters, other_ascii, cjk, rest = _counts(text)
    return max(1, math.ceil(letters / 4 + other_ascii / 2 + cjk + rest / 2))
