"""Prompt skeletons: the template left when the filled-in material is masked.

Numbers, names, code, quoted material, URLs and e-mail addresses are replaced by
placeholders, so two prompts from the same template with different fillings share
a skeleton (and its hash).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from threading import Lock
from typing import Any

import numpy as np
import numpy.typing as npt

from hydrawatch.features.charclass import codes, word_space
from hydrawatch.features.hashing import stable_hash

_CODE = re.compile(r"```.*?(```|$)|`[^`\n]{1,200}`", re.S)
_QUOTED = re.compile(
    r"\"[^\"\n]{1,400}\"|“[^”]{1,400}”|«[^»]{1,400}»|「[^」]{1,400}」|『[^』]{1,400}』|"
    r"(?<![\w])'[^'\n]{1,200}'(?![\w])"
)
_URL = re.compile(r"https?://\S+|www\.\S+|\b[\w.+-]+@[\w-]+\.[\w.]+\b")
_NUMBER = re.compile(r"\d+(?:[.,:/-]\d+)*")
# A capitalised word that does not start a sentence: a name, a place, a product.
_NAME = re.compile(r"(?<=[^.!?:\n。]\s)[A-Z][\w'-]*")
_BRACED = re.compile(r"\{[^{}\n]{0,60}\}|\[[^\[\]\n]{0,60}\]")
_WS = re.compile(r"\s+")
_MAX_CHARS = 4000

# The same substitutions, written so Python's regex engine can skip ahead to the first
# character a match can start with (a pattern that starts with a look-behind or ``\b`` is tried
# at every position), and skipped when a text lacks a character every match needs.
_QUOTED_FAST = re.compile(
    r"\"[^\"\n]{1,400}\"|“[^”]{1,400}”|«[^»]{1,400}»|「[^」]{1,400}」|『[^』]{1,400}』|"
    r"'(?<!\w')[^'\n]{1,200}'(?!\w)"
)
_QUOTE_CHARS = ('"', "“", "«", "「", "『", "'")
_URL_NO_MAIL = re.compile(r"https?://\S+|www\.\S+")
_NAME_FAST = re.compile(r"[A-Z](?<=[^.!?:\n。]\s[A-Z])[\w'-]*")


def skeleton_reference(text: str) -> str:
    """``skeleton`` by its definition (the patterns above, applied in turn; slower)."""
    t = text[:_MAX_CHARS]
    t = _CODE.sub(" <code> ", t)
    t = _URL.sub(" <url> ", t)
    t = _QUOTED.sub(" <q> ", t)
    t = _NAME.sub("<name>", t)
    t = _NUMBER.sub("0", t)
    t = _BRACED.sub("<slot>", t)
    return _WS.sub(" ", t).strip().lower()


_ZERO_CHAIN = re.compile(r"0(?:[.,:/-]0)+")


def skeleton(text: str, canonical: bool = False) -> str:
    """The masked, lower-cased, whitespace-collapsed form of a prompt.

    ``canonical=True`` promises that runs of ASCII digits are already collapsed to a single
    ``0`` (``features.request.canonical_text``), which lets an ASCII text take a cheaper number
    pass (same result)."""
    t = text[:_MAX_CHARS]
    if "`" in t:
        t = _CODE.sub(" <code> ", t)
    if "@" in t:
        t = _URL.sub(" <url> ", t)
    elif "http" in t or "www." in t:
        t = _URL_NO_MAIL.sub(" <url> ", t)
    if any(q in t for q in _QUOTE_CHARS):
        t = _QUOTED_FAST.sub(" <q> ", t)
    t = _NAME_FAST.sub("<name>", t)
    # canonical ASCII text: every digit run is a lone "0", so numbers are "0" chains (a lone "0" stays)
    t = _ZERO_CHAIN.sub("0", t) if canonical and t.isascii() else _NUMBER.sub("0", t)
    if "{" in t or "[" in t:
        t = _BRACED.sub("<slot>", t)
    return " ".join(t.split()).lower()


def skeleton_hash(text: str) -> int:
    return stable_hash(skeleton(text))


_TOKEN = re.compile(r"<\w+>|\w+|[^\w\s]", re.U)


def _shingles(sk: str) -> set[str]:
    toks = _TOKEN.findall(sk)
    if len(toks) < 3 or sum(len(t) for t in toks) > 3 * len(toks) + len(sk) // 2:
        # few tokens, or unsegmented scripts (CJK): character 4-grams
        s = sk.replace(" ", "")
        return {s[i : i + 4] for i in range(max(1, len(s) - 3))}
    return {" ".join(toks[i : i + 3]) for i in range(len(toks) - 2)}


def template_family(text: str) -> int:
    """One MinHash of the skeleton's shingles: two prompts share it with probability equal to the
    Jaccard similarity of their skeletons, so paraphrased variations of one template mostly share it."""
    return family_of_skeleton(skeleton(text))


def family_of_skeleton(sk: str) -> int:
    sh = _shingles(sk)
    if not sh:
        return 0
    return min(stable_hash(s) for s in sh)


# -- many skeletons at once ------------------------------------------------------------------------
#
# ``families`` gives ``family_of_skeleton`` of many skeletons with numpy: the ``_TOKEN`` split from
# Python's character classes (``features.charclass``), every token-trigram shingle fingerprinted by a
# random linear hash of its characters, and ``stable_hash`` (blake2b) computed once per distinct
# shingle and kept in a bounded cache. Skeletons that take the character 4-gram branch go
# through ``family_of_skeleton``.

_MAX_TOKEN = _MAX_CHARS + 1
_rng = np.random.default_rng(0x5EED)
_COEF = _rng.integers(1, 2**63, size=_MAX_TOKEN, dtype=np.uint64) | np.uint64(1)
_MIX = _rng.integers(1, 2**63, size=5, dtype=np.uint64) | np.uint64(1)
_LT, _GT = ord("<"), ord(">")


class _HashCache:
    """stable_hash of shingles by fingerprint: a large and a small sorted table (new entries go to
    the small one, merged into the large one now and then); cleared when full."""

    def __init__(self, max_size: int = 4_000_000, young_size: int = 1 << 18) -> None:
        self.max_size, self.young_size = max_size, young_size
        self.tables = [(np.zeros(0, np.uint64), np.zeros(0, np.int64)) for _ in range(2)]
        self.lock = Lock()

    def lookup(self, fps: npt.NDArray[np.uint64]) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.bool_]]:
        """Cached hashes of distinct sorted fingerprints, and which were found."""
        values = np.zeros(len(fps), np.int64)
        found = np.zeros(len(fps), bool)
        for keys, vals in self.tables:
            if not len(keys):
                continue
            at = np.minimum(np.searchsorted(keys, fps), len(keys) - 1)
            hit = keys[at] == fps
            values[hit] = vals[at[hit]]
            found |= hit
        return values, found

    def add(self, fps: npt.NDArray[np.uint64], values: npt.NDArray[np.int64]) -> None:
        (old_k, old_v), (young_k, young_v) = self.tables
        if len(old_k) + len(young_k) + len(fps) > self.max_size:
            old_k, old_v = np.zeros(0, np.uint64), np.zeros(0, np.int64)
            young_k, young_v = old_k, old_v
        at = np.searchsorted(young_k, fps)
        young_k, young_v = np.insert(young_k, at, fps), np.insert(young_v, at, values)
        if len(young_k) > self.young_size:
            at = np.searchsorted(old_k, young_k)
            old_k, old_v = np.insert(old_k, at, young_k), np.insert(old_v, at, young_v)
            young_k, young_v = np.zeros(0, np.uint64), np.zeros(0, np.int64)
        self.tables = [(old_k, old_v), (young_k, young_v)]


_CACHE = _HashCache()


def _tokens(cp: npt.NDArray[np.uint32]) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Start and end of every ``_TOKEN`` match (``<\\w+>|\\w+|[^\\w\\s]``) in code points ``cp``."""
    cls = word_space()[cp]
    n = len(cp)
    word = cls == 1
    prev_word = np.zeros(n, bool)
    prev_word[1:] = word[:-1]
    next_word = np.zeros(n, bool)
    next_word[:-1] = word[1:]
    run_start = np.flatnonzero(word & ~prev_word)
    run_end = np.flatnonzero(word & ~next_word) + 1
    # "<" + a whole word run + ">" is one placeholder token
    before = run_start - 1
    after = np.minimum(run_end, n - 1)
    bracket = (run_start > 0) & (cp[np.maximum(before, 0)] == _LT) & (run_end < n) & (cp[after] == _GT)
    starts = np.where(bracket, before, run_start)
    ends = np.where(bracket, run_end + 1, run_end)
    other = cls == 0
    other[before[bracket]] = False
    other[run_end[bracket]] = False
    end_at = np.zeros(n, np.int64)
    is_start = other.copy()
    end_at[other] = np.flatnonzero(other) + 1
    is_start[starts] = True
    end_at[starts] = ends
    tok_start = np.flatnonzero(is_start)
    return tok_start, end_at[tok_start]


def _fingerprints(
    cp: npt.NDArray[np.uint32], starts: npt.NDArray[np.int64], ends: npt.NDArray[np.int64]
) -> npt.NDArray[np.uint64]:
    """Fingerprint of each substring ``cp[start:end]``: the sum of code point x random coefficient
    of its offset in the substring, plus the length (the substrings do not overlap)."""
    if not len(starts):
        return np.zeros(0, np.uint64)
    it = np.int32 if len(cp) < 1 << 31 else np.int64
    mark = np.zeros(len(cp), it)
    mark[starts] = starts
    offset: npt.NDArray[np.signedinteger[Any]] = np.arange(len(cp), dtype=it)
    np.subtract(offset, np.maximum.accumulate(mark), out=offset)
    np.minimum(offset, _MAX_TOKEN - 1, out=offset)
    contrib = cp.astype(np.uint64)
    contrib *= _COEF[offset]
    total = np.zeros(len(cp) + 1, np.uint64)
    np.cumsum(contrib, out=total[1:])
    fp: npt.NDArray[np.uint64] = total[ends] - total[starts] + (ends - starts).astype(np.uint64) * _MIX[3]
    return fp


def _min_hash(
    fps: npt.NDArray[np.uint64],
    owners: npt.NDArray[np.int64],
    texts: Callable[[npt.NDArray[np.int64]], list[str]],
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Per owner (sorted), the least ``stable_hash`` of its shingles: shingle ``j`` has fingerprint
    ``fps[j]``; ``texts(js)`` gives the texts of shingles ``js``, asked for uncached fingerprints only."""
    order = np.argsort(fps)
    ordered = fps[order]
    first_of_run = np.empty(len(ordered), bool)
    first_of_run[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=first_of_run[1:])
    uniq = ordered[first_of_run]
    inverse = np.empty(len(fps), np.int64)
    inverse[order] = np.cumsum(first_of_run) - 1
    with _CACHE.lock:
        values, found = _CACHE.lookup(uniq)
        missing = np.flatnonzero(~found)
        if len(missing):
            one_each = order[first_of_run][missing]
            new = np.fromiter(map(stable_hash, texts(one_each)), np.int64, count=len(missing))
            values[missing] = new
            _CACHE.add(uniq[missing], new)
    bounds = np.flatnonzero(np.concatenate([[True], owners[1:] != owners[:-1]]))
    return owners[bounds], np.minimum.reduceat(values[inverse], bounds)


def families(skeletons: list[str]) -> npt.NDArray[np.int64]:
    """``family_of_skeleton`` of each skeleton, vectorised (see above)."""
    n = len(skeletons)
    out = np.zeros(n, np.int64)
    if not n:
        return out
    joined = "\n".join(skeletons)  # skeletons hold no newline (whitespace is collapsed)
    cp = codes(joined)
    sk_len = np.fromiter(map(len, skeletons), np.int64, count=n)
    sk_start = np.concatenate([[0], np.cumsum(sk_len + 1)[:-1]])
    tok_start, tok_end = _tokens(cp)
    tok_text = np.searchsorted(sk_start, tok_start, side="right") - 1
    tok_len = tok_end - tok_start
    n_tok = np.bincount(tok_text, minlength=n)
    tok_chars = np.bincount(tok_text, weights=tok_len, minlength=n).astype(np.int64)
    fallback = (n_tok < 3) | (tok_chars > 3 * n_tok + sk_len // 2)

    # token trigrams: three consecutive tokens of one skeleton that does not fall back
    k = (
        np.flatnonzero((tok_text[:-2] == tok_text[2:]) & ~fallback[tok_text[:-2]])
        if len(tok_text) > 2
        else tok_text[:0]
    )
    if len(k):
        fp = _fingerprints(cp, tok_start, tok_end)

        def trigrams(js: npt.NDArray[np.int64]) -> list[str]:
            first = k[js]
            spans = np.stack(
                [
                    tok_start[first],
                    tok_end[first],
                    tok_start[first + 1],
                    tok_end[first + 1],
                    tok_start[first + 2],
                    tok_end[first + 2],
                ],
                axis=1,
            ).tolist()
            return [f"{joined[a:b]} {joined[c:d]} {joined[e:f]}" for a, b, c, d, e, f in spans]

        owners, mins = _min_hash(
            fp[k] * _MIX[0] + fp[k + 1] * _MIX[1] + fp[k + 2] * _MIX[2], tok_text[k], trigrams
        )
        out[owners] = mins

    # the others: character 4-grams of the skeleton without spaces
    back = np.flatnonzero(fallback)
    if len(back):
        compact = [skeletons[i].replace(" ", "") for i in back.tolist()]
        c_len = np.fromiter(map(len, compact), np.int64, count=len(compact))
        for i, c in zip(
            back[c_len < 4].tolist(), [c for c, m in zip(compact, c_len < 4, strict=True) if m], strict=True
        ):
            out[i] = stable_hash(c)  # one shingle: the whole (short) text
        if np.any(c_len >= 4):
            c_joined = "\n".join(compact)
            c_cp = codes(c_joined)
            c_start = np.concatenate([[0], np.cumsum(c_len + 1)[:-1]])
            n_win = np.maximum(c_len - 3, 0)
            w_owner = np.repeat(back, n_win)
            w_start = np.repeat(c_start, n_win) + (
                np.arange(int(n_win.sum())) - np.repeat(np.cumsum(n_win) - n_win, n_win)
            )
            # four-character windows overlap, so their fingerprints come straight from the codes
            fp4 = sum(
                (c_cp[w_start + j].astype(np.uint64) * _COEF[j] for j in range(4)),
                np.zeros(len(w_start), np.uint64),
            )
            fp4 = (fp4 + np.uint64(4) * _MIX[3]) * _MIX[4]
            owners, mins = _min_hash(
                fp4, w_owner, lambda js: [c_joined[a : a + 4] for a in w_start[js].tolist()]
            )
            out[owners] = mins
    return out
