"""A conservative token estimate for text, for reservations made before the upstream counts.

``chars / 4`` holds for English prose but undercounts other text badly: CJK text is about
one token per character, and digits, punctuation and other scripts split finer. Reserving
too little lets a campaign that writes in such text run past its limits until settle
catches up, so this estimate leans high: settle replaces it with the real count anyway."""

from __future__ import annotations

import math


def _is_cjk(o: int) -> bool:
    return (
        0x3040 <= o <= 0x30FF  # hiragana, katakana
        or 0x3400 <= o <= 0x4DBF  # CJK extension A
        or 0x4E00 <= o <= 0x9FFF  # CJK unified ideographs
        or 0xAC00 <= o <= 0xD7AF  # hangul syllables
        or 0xF900 <= o <= 0xFAFF  # CJK compatibility ideographs
        or 0x20000 <= o <= 0x2FA1F  # CJK extensions B..
    )


def estimate_tokens(text: str) -> int:
    """Tokens ``text`` will probably cost, erring high: ASCII letters and spaces at 4 chars
    per token, ASCII digits and punctuation at 2, CJK at 1 per char, other scripts at 2 chars
    per token (0 for empty text)."""
    if not text:
        return 0
    letters = other_ascii = cjk = rest = 0
    for ch in text:
        o = ord(ch)
        if o < 128:
            if ch.isalpha() or ch.isspace():
                letters += 1
            else:
                other_ascii += 1
        elif _is_cjk(o):
            cjk += 1
        else:
            rest += 1
    return max(1, math.ceil(letters / 4 + other_ascii / 2 + cjk + rest / 2))
