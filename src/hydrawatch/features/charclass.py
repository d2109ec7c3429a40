"""Python's own character classes (``re``'s ``\\w``, ``\\d``, ``\\s`` and ``re.I``) as one lookup table.

``projection()`` maps every code point to an ASCII stand-in with the same meaning to a pattern:
ASCII stays itself, a character ``re.I`` equates with an ASCII letter becomes that letter, other
word characters ``_``, other decimal digits ``0``, whitespace ``\\x1c``, anything else ``\\x01``.
Vectorised code (cue matching, template shingles) reads classes of whole texts from it at once.
Built on first use from Python's ``re`` itself (about 0.2 s), so it follows the running Python's
Unicode tables exactly.
"""

from __future__ import annotations

import re
import string
from functools import lru_cache

import numpy as np
import numpy.typing as npt

SPACE, DIGIT, WORD, OTHER = 0x1C, ord("0"), ord("_"), 0x01
N_CODES = 0x110000


@lru_cache(maxsize=1)
def projection() -> npt.NDArray[np.uint8]:
    """The ASCII stand-in of every code point (module docstring)."""
    table = np.full(N_CODES, OTHER, np.uint8)
    table[:128] = np.arange(128, dtype=np.uint8)
    codes = np.arange(128, N_CODES, dtype=np.uint32)
    chars = codes.astype("<u4").tobytes().decode("utf-32-le", "surrogatepass")

    def hits(pattern: str, flags: int = 0) -> npt.NDArray[np.uint32]:
        spans = [(m.start(), m.end()) for m in re.finditer(pattern, chars, flags)]
        return np.concatenate([codes[a:b] for a, b in spans]) if spans else codes[:0]

    table[hits(r"\w+")] = WORD
    table[hits(r"\d+")] = DIGIT
    table[hits(r"\s+")] = SPACE
    for code in hits(r"[a-z]+", re.I).tolist():  # the few non-ASCII characters re.I equates with a letter
        for letter in string.ascii_lowercase:
            if re.fullmatch(letter, chr(code), re.I):
                table[code] = ord(letter)
                break
    return table


@lru_cache(maxsize=1)
def word_space() -> npt.NDArray[np.uint8]:
    """1 for ``re``'s ``\\w``, 2 for its ``\\s``, 0 otherwise, per code point."""
    ascii_cls = np.zeros(128, np.uint8)
    for c in range(128):
        ch = chr(c)
        if re.match(r"\w", ch):
            ascii_cls[c] = 1
        elif re.match(r"\s", ch):
            ascii_cls[c] = 2
    out: npt.NDArray[np.uint8] = ascii_cls[projection()]
    return out


def codes(text: str) -> npt.NDArray[np.uint32]:
    """Code points of ``text`` (lone surrogates included), one per ``str`` index."""
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype="<u4")
