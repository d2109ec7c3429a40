"""wordllama token ids of many texts, fast and identical to the tokenizer's own output.

wordllama's tokenizer (a SentencePiece-style BPE: prepend ``▁``, spaces become ``▁``, no
pre-tokenizer) runs BPE over the whole text as one sequence, which costs ~150 µs for a
480-character prompt. No merge of its vocabulary joins a ``▁`` to a preceding non-``▁``
symbol, so the ids of a text are the ids of its "words" (a run of ``▁`` and the
characters up to the next ``▁``) put end to end. ``WordTokens`` keeps the ids of every word
it has seen (bounded) and asks the Rust tokenizer only for new words: on prompt text,
where words repeat, that is 10-20x cheaper and gives the same ids.

Texts the word path cannot treat exactly (an added token such as ``</s>`` matched in the
raw text, or a literal ``▁``) and tokenizers of another shape go through the tokenizer
itself, unchanged.
"""

from __future__ import annotations

import json
from threading import Lock
from typing import Any

import numpy as np
import numpy.typing as npt

_SPACE = "\u2581"  # SentencePiece's "▁"
_FEW = 16  # up to this many texts, the plain Python word split beats the Arrow calls

Ids = npt.NDArray[np.int64]


def _word_safe(tokenizer: Any) -> bool:
    """True when ids of a text are the concatenation of the ids of its ``▁``-words."""
    spec = json.loads(tokenizer.to_str())
    norm = spec.get("normalizer") or {}
    expected = [
        {"type": "Prepend", "prepend": _SPACE},
        {"type": "Replace", "pattern": {"String": " "}, "content": _SPACE},
    ]
    model = spec.get("model") or {}
    if norm.get("type") != "Sequence" or norm.get("normalizers") != expected:
        return False
    if spec.get("pre_tokenizer") is not None or model.get("type") != "BPE" or model.get("dropout"):
        return False
    for merge in model.get("merges", ()):
        left, right = merge if isinstance(merge, list) else merge.split(" ", 1)
        if right.startswith(_SPACE) and left.strip(_SPACE):
            return False  # a merge across a word boundary
    vocab = model.get("vocab", {})
    if not model.get("byte_fallback") or "<0x0A>" not in vocab:
        return False
    # no "▁" inside a token, and newlines only as the byte token: words can be cut there
    return all(_SPACE not in tok.lstrip(_SPACE) and "\n" not in tok for tok in vocab)


class WordTokens:
    """Token ids of texts through a bounded cache of per-word ids (thread-safe)."""

    def __init__(self, tokenizer: Any, max_words: int = 300_000) -> None:
        from tokenizers import Tokenizer

        self.tk = Tokenizer.from_str(tokenizer.to_str())
        self.tk.no_padding()
        self.tk.no_truncation()
        self.word_safe = _word_safe(self.tk)
        # the BPE model alone tokenises new words, already in normalised form
        self.bare = Tokenizer.from_str(self.tk.to_str())
        self.specials = tuple(str(t.content) for t in self.tk.get_added_tokens_decoder().values())
        self.max_words = max_words
        self.lock = Lock()
        self._reset()

    def _reset(self) -> None:
        self.index: dict[str, int] = {}
        self.tok_start = np.zeros(1024, np.int64)
        self.tok_len = np.zeros(1024, np.int64)
        self.tok_flat = np.zeros(4096, np.int64)
        self.n_words = 0
        self.n_toks = 0

    # -- the tokenizer itself (reference path and fallback) ------------------------------------
    def encode_direct(self, texts: list[str]) -> list[Ids]:
        enc = self.tk.encode_batch_fast(texts, add_special_tokens=False)
        return [np.asarray(e.ids, dtype=np.int64) for e in enc]

    # -- word path ------------------------------------------------------------------------------
    def _needs_direct(self, text: str) -> bool:
        if _SPACE in text:
            return True
        return "<" in text and any(s in text for s in self.specials)

    def _add_words(self, keys: list[str]) -> None:
        """Tokenise new words and append them to the table (see ``_rows`` for the keys)."""
        segments = [k if k.startswith("\n") else _SPACE + k.replace(" ", _SPACE) for k in keys]
        tokenize = self.bare.model.tokenize  # the BPE alone: ~4x cheaper per call than encode
        ids = [[t.id for t in tokenize(seg)] for seg in segments]
        lengths = np.fromiter((len(x) for x in ids), np.int64, count=len(ids))
        flat = np.fromiter((t for x in ids for t in x), np.int64, count=int(lengths.sum()))
        n_w, n_t = self.n_words, self.n_toks
        while n_w + len(keys) > len(self.tok_start):
            self.tok_start = np.resize(self.tok_start, 2 * len(self.tok_start))
            self.tok_len = np.resize(self.tok_len, 2 * len(self.tok_len))
        while n_t + len(flat) > len(self.tok_flat):
            self.tok_flat = np.resize(self.tok_flat, 2 * len(self.tok_flat))
        self.tok_len[n_w : n_w + len(keys)] = lengths
        self.tok_start[n_w : n_w + len(keys)] = n_t + np.cumsum(lengths) - lengths
        self.tok_flat[n_t : n_t + len(flat)] = flat
        self.index.update(zip(keys, range(n_w, n_w + len(keys)), strict=True))
        self.n_words += len(keys)
        self.n_toks += len(flat)

    def _lookup(self, keys: list[str]) -> Ids:
        """Table rows of word keys, tokenising the new ones."""
        rows = list(map(self.index.get, keys))
        if None in rows:
            self._add_words(list(dict.fromkeys(k for k, r in zip(keys, rows, strict=True) if r is None)))
            rows = list(map(self.index.__getitem__, keys))
        return np.asarray(rows, dtype=np.int64).reshape(-1)

    def _lookup_codes(self, uniq: list[str], codes: Ids, prefix: str = "") -> Ids:
        """Rows of ``prefix + uniq[c]`` for each code ``c``, looking each distinct code up once."""
        if not len(codes):
            return np.zeros(0, np.int64)
        needed = np.flatnonzero(np.bincount(codes, minlength=len(uniq)))
        keys = [prefix + uniq[c] for c in needed.tolist()] if prefix else [uniq[c] for c in needed.tolist()]
        by_code = np.zeros(len(uniq), np.int64)
        by_code[needed] = self._lookup(keys)
        return by_code[codes]

    def rows(self, texts: list[str]) -> tuple[Ids, Ids]:
        """All texts' token ids end to end, and each text's number of tokens."""
        if not self.word_safe:
            return _concat(self.encode_direct(texts))
        with self.lock:
            if self.n_words > self.max_words:
                self._reset()
            return self._rows_few(texts) if len(texts) <= _FEW else self._rows(texts)

    @staticmethod
    def _keys(text: str) -> list[str]:
        """The word keys of one text, in order (``_rows`` does the same for many texts at once)."""
        keys: list[str] = []
        run = 0  # empty pieces just before
        for piece in text.split(" "):
            if not piece:
                run += 1
                continue
            subs = piece.split("\n")
            keys.append(" " * run + subs[0] if run else subs[0])
            keys.extend("\n" + sub for sub in subs[1:])
            run = 0
        if run:
            keys.append(" " * (run - 1))
        return keys

    def _expand(self, w: Ids, words_per_text: Ids) -> tuple[Ids, Ids]:
        """Token ids of table rows ``w`` end to end, and the number of tokens of each text."""
        lens = self.tok_len[w]
        total = int(lens.sum())
        # positions of each word's tokens in the table, all words at once
        flat = self.tok_flat[np.repeat(self.tok_start[w] - (np.cumsum(lens) - lens), lens) + np.arange(total)]
        cum = np.concatenate([[0], np.cumsum(lens)])
        word_ends = np.cumsum(words_per_text)
        return flat, cum[word_ends] - cum[word_ends - words_per_text]

    def _rows_few(self, texts: list[str]) -> tuple[Ids, Ids]:
        """The word path for a handful of texts (the gateway's): plain Python, no Arrow calls."""
        direct = [self._needs_direct(t) for t in texts]
        per_text = [[] if d or not t else self._keys(t) for t, d in zip(texts, direct, strict=True)]
        keys = [k for ks in per_text for k in ks]
        w = self._lookup(keys) if keys else np.zeros(0, np.int64)
        flat, lengths = self._expand(w, np.fromiter(map(len, per_text), np.int64, count=len(texts)))
        if not any(direct):
            return flat, lengths
        parts = split_rows(flat, lengths)
        for i, t in enumerate(texts):
            if direct[i]:
                parts[i] = self.encode_direct([t])[0]
        return _concat(parts)

    def _rows(self, texts: list[str]) -> tuple[Ids, Ids]:
        """The word path.

        "▁" + text, spaces as "▁", is the normalised text. Split on " ", each piece carries one
        "▁"; a word is a non-empty piece with the empty pieces just before it (one more "▁"
        each), and the empty pieces at the end of a text form a last word of "▁" only. Newlines
        are never part of a longer token, so words are cut at newlines too: the text after each
        newline is a word of its own, without "▁". Keys: a "▁" word's raw text less one leading
        space (``"▁" + key``, spaces as "▁", is the word); a newline word's text with its
        newline.
        """
        import pyarrow as pa
        import pyarrow.compute as pc

        n = len(texts)
        direct = [i for i, t in enumerate(texts) if t and self._needs_direct(t)]
        skip = {i for i, t in enumerate(texts) if not t}.union(direct)
        word_idx = [i for i in range(n) if i not in skip] if skip else list(range(n))
        sub = [texts[i] for i in word_idx] if skip else texts
        m = len(sub)
        lists = pc.split_pattern(pa.array(sub, pa.large_string()), " ")
        p_off = np.asarray(lists.offsets, dtype=np.int64)
        pieces = lists.flatten()
        n_pieces = len(pieces)
        filled = np.asarray(pc.binary_length(pieces), dtype=np.int64) > 0
        p_start, p_end = p_off[:-1], p_off[1:]  # every text has at least one piece
        text_of_piece = np.repeat(np.arange(m), p_end - p_start)
        pos = np.arange(n_pieces)
        last = np.where(filled, pos, -1)
        last[p_start] = np.maximum(last[p_start], p_start - 1)
        last = np.maximum.accumulate(last) if n_pieces else last
        before = np.concatenate([[-1], last[:-1]]) if n_pieces else last
        runs = pos - np.maximum(before, p_start[text_of_piece] - 1) - 1  # empty pieces just before
        trailing = (p_end - 1) - np.maximum(last[p_end - 1], p_start - 1) if m else p_end

        nl = pc.split_pattern(pieces, "\n")
        s_off = np.asarray(nl.offsets, dtype=np.int64)
        subs = nl.flatten()
        piece_of_sub = np.repeat(pos, s_off[1:] - s_off[:-1])
        first = np.zeros(len(subs), bool)
        first[s_off[:-1]] = True
        is_word = filled[piece_of_sub]
        enc = pc.dictionary_encode(subs)
        uniq: list[str] = enc.dictionary.to_pylist()
        codes = np.asarray(enc.indices, dtype=np.int64)
        rows = np.full(len(subs), -1, np.int64)
        sub_runs = runs[piece_of_sub]
        plain = is_word & first & (sub_runs == 0)
        rows[plain] = self._lookup_codes(uniq, codes[plain])
        after_nl = is_word & ~first
        rows[after_nl] = self._lookup_codes(uniq, codes[after_nl], "\n")
        spaced = np.flatnonzero(is_word & first & (sub_runs > 0))
        if len(spaced):
            rows[spaced] = self._lookup(
                [
                    " " * r + uniq[c]
                    for r, c in zip(sub_runs[spaced].tolist(), codes[spaced].tolist(), strict=True)
                ]
            )
        # words in text order: the trailing "▁" word goes after its text's last sub-piece
        tails = np.flatnonzero(trailing > 0)
        n_tail_before: Ids = np.cumsum(trailing > 0) - (trailing > 0)
        text_of_sub = text_of_piece[piece_of_sub]
        dest = np.arange(len(subs)) + n_tail_before[text_of_sub]
        out = np.full(len(subs) + len(tails), -1, np.int64)
        out[dest] = rows
        if len(tails):
            last_sub = s_off[p_end[tails]] - 1
            out[last_sub + n_tail_before[tails] + 1] = self._lookup(
                [" " * (r - 1) for r in trailing[tails].tolist()]
            )
        owner = np.empty(len(out), np.int64)
        owner[dest] = text_of_sub
        if len(tails):
            owner[s_off[p_end[tails]] - 1 + n_tail_before[tails] + 1] = tails
        keep = out >= 0
        flat, sub_lengths = self._expand(out[keep], np.bincount(owner[keep], minlength=m))
        if not skip:
            return flat, sub_lengths
        lengths = np.zeros(n, np.int64)
        lengths[word_idx] = sub_lengths
        parts: list[Ids] = [np.zeros(0, np.int64)] * n
        for i, ids in zip(word_idx, split_rows(flat, sub_lengths), strict=True):
            parts[i] = ids
        if direct:
            for i, ids in zip(direct, self.encode_direct([texts[i] for i in direct]), strict=True):
                parts[i] = ids
                lengths[i] = len(ids)
        return (np.concatenate(parts) if parts else flat), lengths


def _concat(ids: list[Ids]) -> tuple[Ids, Ids]:
    lengths = np.fromiter((len(x) for x in ids), dtype=np.int64, count=len(ids))
    flat = np.concatenate(ids) if ids else np.zeros(0, np.int64)
    return flat.astype(np.int64, copy=False), lengths


def split_rows(flat: Ids, lengths: Ids) -> list[Ids]:
    """Per-text arrays from the end-to-end form."""
    return np.split(flat, np.cumsum(lengths)[:-1]) if len(lengths) else []
