"""The fast paths of the text features give exactly what their definitions give.

Each fast path (per-word token cache, RE2 cue scan, guarded skeleton substitutions, vectorised
template MinHash, two-product intent scores) is checked against the slow definition it replaces,
on hand-picked edge cases, on real prompts from the simulator's shipped corpus and on
hypothesis-generated text.
"""

from __future__ import annotations

import random
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hydrawatch.features import charclass, cues, intent, skeleton
from hydrawatch.features.request import INTENT_THRESHOLD, canonical_text, describe_texts
from hydrawatch.features.segments import instruction_segments
from hydrawatch.features.tokens import WordTokens, split_rows

# Text that exercises the fast paths: cue phrases (several languages), spacing runs, newlines,
# quotes, code, names, numbers, and the characters whose case folding differs between Python's
# re and RE2 (dotted/dotless i, long s, Kelvin sign).
_PIECES = [
    "step by step",
    "Step-By-Step",
    "chain of thought",
    "internal reasoning",
    "İnternal reasoning",
    "ınner thinking",
    "cenſor",
    "rank",
    "score",
    "out of",
    "from",
    "between",
    "rubric",
    "judge",
    "reward model",
    "jsonl",
    "generate 0",
    "generate ٣",
    "prompt -> completion",
    "synthetic data",
    "training set",
    "reconstruct",
    "the reasoning",
    "led to this",
    "behind the final answer",
    "内部推理",
    "思考过程",
    "步骤",
    "一步一步",
    "训练数据",
    "внутренний ход",
    "ВНУТРЕННЕЕ рассуждение",
    "обучающий набор",
    "chaîne de pensée",
    "paso a paso",
    "schritt für schritt",
    "に至るまで",
    "reconstruí le raisonnement",
    "</s>",
    "<s>",
    "\u2581",
    "  ",
    "   ",
    "\n",
    "\n\n",
    "\t",
    " ",
    "\u00a0",
    "\u3000",
    "\x1c",
    "\u212a",
    "é",
    "_",
    "0",
    "00",
    "0.0",
    "0/0",
    "12",
    "3,5",
    "x",
    "Maria Lopez",
    "John",
    ". Then",
    '"quoted text"',
    "'single'",
    "«guillemets»",
    "「引用」",
    "`code`",
    "```\nblock\n```",
    "{slot}",
    "[item]",
    "https://x.example/a",
    "a@b.co",
    "www.x.org",
    "<name>",
    "<q>",
    "<<a>",
    "a>",
    "😀",
    "ß",
    "ﬅ",
    "Ⅻ",
    "\ud800",
]
texts_st = st.lists(st.one_of(st.sampled_from(_PIECES), st.text(max_size=12)), max_size=25).map("".join)
plain_texts_st = st.lists(
    st.one_of(st.sampled_from([p for p in _PIECES if p != "\ud800"]), st.text(max_size=12)), max_size=25
).map("".join)


def corpus_prompts(n: int, seed: int = 3) -> list[str]:
    """Real prompts from the simulator's shipped corpus (a test may use it; features never do)."""
    from hydrawatch.simulate.corpus import prompts

    ps = [p.text for p in prompts()]
    rng = random.Random(seed)
    return [f"{rng.choice(ps)} {i} {rng.choice(ps)[:100]}" for i in range(n)]


# -- tokens ----------------------------------------------------------------------------------------


def _tokenizer_ids(texts: list[str]) -> list[list[int]]:
    """What the wordllama tokenizer itself gives (padding stripped), the pre-cache definition."""
    enc = intent._embedder().tokenizer.encode_batch(texts, add_special_tokens=False)
    return [[i for i, m in zip(e.ids, e.attention_mask, strict=True) if m] for e in enc]


def test_word_cache_path_applies_to_the_shipped_tokenizer() -> None:
    assert intent._word_tokens().word_safe


@pytest.mark.parametrize("batch", [1, 3, 17, 100])
def test_token_ids_match_the_tokenizer(batch: int) -> None:
    texts = (
        [p for p in _PIECES if p != "\ud800"]
        + [
            "",
            " ",
            "a ",
            " a",
            "a  b",
            "x \n\n  y  ",
            "\n",
            " \n ",
            "tab\tsep  ",
            "   lead",
            "a" * 700,
            "Region,Revenue\nNorth,0.0\nSouth,0.0",
            "def f():\n    return 0\n",
        ]
        + [canonical_text(t) for t in corpus_prompts(40)]
    )
    wt = WordTokens(intent._embedder().tokenizer)
    got: list[list[int]] = []
    for i in range(0, len(texts), batch):
        got += [list(x) for x in split_rows(*wt.rows(texts[i : i + batch]))]
    assert got == _tokenizer_ids(texts)


@settings(max_examples=60, deadline=None)
@given(st.lists(plain_texts_st, min_size=1, max_size=20))
def test_token_ids_match_the_tokenizer_on_any_text(texts: list[str]) -> None:
    got = [list(x) for x in intent._token_ids(texts)]
    assert got == _tokenizer_ids(texts)
    assert [list(x) for x in intent._token_ids(texts[:1])] == got[:1]


def test_word_cache_is_bounded_and_refills() -> None:
    wt = WordTokens(intent._embedder().tokenizer, max_words=50)
    texts = [canonical_text(t) for t in corpus_prompts(60)]
    first = split_rows(*wt.rows(texts))
    assert wt.n_words > 50
    again = split_rows(*wt.rows(texts))  # starts from an empty cache
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    assert wt.n_words <= len({k for t in texts for k in wt._keys(t)})


# -- cues ------------------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(texts_st)
def test_cue_mask_matches_the_python_patterns(text: str) -> None:
    assert cues.cue_mask(text) == cues.cue_mask_reference(text)


@pytest.mark.parametrize(
    ("text", "groups"),
    [
        ("İnternal reasoning, please", {"asks for internal reasoning"}),
        ("please score this\u00a0from 1", {"asks for a grade or preference"}),
        ("éscore from 1", set()),  # no word boundary before "score": é is a word character
        ("ВНУТРЕННИЙ ход мыслей", {"asks for internal reasoning"}),
        ("chaİne de pensée", {"asks for internal reasoning"}),
        ("generate ٣ examples", {"asks for training data"}),
        ("x\ud800 please cenſor this", {"asks for a censorship-safe rewrite"}),
    ],
)
def test_cue_mask_on_unicode_edge_cases(text: str, groups: set[str]) -> None:
    assert set(cues.cue_names(cues.cue_mask(text))) == groups
    assert cues.cue_mask(text) == cues.cue_mask_reference(text)


def test_cue_mask_matches_on_real_prompts() -> None:
    texts = [canonical_text(t) for t in corpus_prompts(400, seed=5)]
    assert [cues.cue_mask(t) for t in texts] == [cues.cue_mask_reference(t) for t in texts]


def test_projection_keeps_pythons_character_classes() -> None:
    table = charclass.projection()
    rng = np.random.default_rng(1)
    sample = np.concatenate([np.arange(0, 0x3000), rng.integers(0x3000, 0x110000, 20_000)])
    for code in sample.tolist():
        c, p = chr(code), chr(int(table[code]))
        for pattern in (r"\w", r"\s", r"\d"):
            assert bool(re.match(pattern, c)) == bool(re.match(pattern, p)), (hex(code), pattern)
        if code >= 128 and p.isalpha():
            assert re.fullmatch(p, c, re.I), hex(code)


# -- skeletons and template families ----------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(texts_st)
def test_skeleton_matches_its_definition(text: str) -> None:
    assert skeleton.skeleton(text) == skeleton.skeleton_reference(text)
    canon = canonical_text(text)
    assert skeleton.skeleton(canon, canonical=True) == skeleton.skeleton_reference(canon)


@settings(max_examples=150, deadline=None)
@given(st.lists(texts_st, max_size=12))
def test_vectorised_families_match_the_minhash(texts: list[str]) -> None:
    sks = [skeleton.skeleton(t) for t in texts]
    assert skeleton.families(sks).tolist() == [skeleton.family_of_skeleton(s) for s in sks]


def test_families_on_real_prompts_and_edge_cases() -> None:
    texts = [*corpus_prompts(300, seed=8), "", "a", "a b", "<<a> b> c d", "<a><b><c>", "中文 测试 很长的句子"]
    sks = [skeleton.skeleton(canonical_text(t)) for t in texts]
    twice = [skeleton.families(sks), skeleton.families(sks)]  # the second from the hash cache
    for fam in twice:
        assert fam.tolist() == [skeleton.family_of_skeleton(s) for s in sks]


# -- canonical text, intent scores, the whole batch ---------------------------------------------------


@settings(max_examples=100, deadline=None)
@given(st.text(alphabet="0123456789 ab\n.", min_size=3900, max_size=6000))
def test_canonical_text_of_long_prompts_matches_its_definition(text: str) -> None:
    assert canonical_text(text) == intent.clip_text(re.sub(r"[0-9]+", "0", text))


def test_intent_scores_equal_the_classifiers_own_decision_function() -> None:
    model = intent.default_model()
    texts = [canonical_text(t) for t in corpus_prompts(150, seed=9)] + ["", "Rate this answer from 1 to 10."]
    x = model._matrix(texts)
    logits = model.clf.decision_function(x) / model.temperature
    logits -= logits.max(axis=1, keepdims=True)
    p = np.exp(logits)
    want = np.asarray(p / p.sum(axis=1, keepdims=True), dtype=np.float64)
    for n in (1, 64, len(texts)):  # both ways of adding the embedding columns
        got = np.concatenate([model.predict_proba(texts[i : i + n]) for i in range(0, len(texts), n)])
        assert np.array_equal(got, want)


def test_describe_texts_matches_the_reference_paths() -> None:
    raw = corpus_prompts(200, seed=10)
    f = describe_texts(raw, batch_size=64)
    canon = [canonical_text(t) for t in raw]
    sks = [skeleton.skeleton_reference(t) for t in canon]
    assert f.cue_mask.tolist() == [cues.cue_mask_reference(t) for t in canon]
    assert f.skeleton_hash.tolist() == [skeleton.stable_hash(s) for s in sks]
    assert f.family.tolist() == [skeleton.family_of_skeleton(s) for s in sks]
    # a text shows the intent of whichever of its whole and its pieces shows one most strongly
    model = intent.default_model()
    want_score, want_idx = [], []
    for t in canon:
        probs = model.predict_proba([t, *instruction_segments(t)])[:, 1:]
        row = int(probs.max(axis=1).argmax())
        want_score.append(probs[row].max())
        want_idx.append(int(probs[row].argmax()) + 1 if probs[row].max() >= INTENT_THRESHOLD else 0)
    assert np.array_equal(f.intent_score, np.asarray(want_score, np.float32))
    assert f.intent_idx.tolist() == want_idx
    assert sum(len(instruction_segments(t)) > 0 for t in canon) > 100  # the pieces were exercised


def _pattern_letters() -> list[str]:
    return sorted(
        {c for pats in cues.CUE_GROUPS.values() for p in pats if not p.isascii() for c in p if c.isalpha()}
    )


def _folding_differences(codes: np.ndarray) -> list[str]:
    import re2

    opts = re2.Options()
    opts.case_sensitive = False
    codes = codes[(codes < 0xD800) | (codes > 0xDFFF)]
    text = codes.astype("<u4").tobytes().decode("utf-32-le")
    bad = []
    for ch in _pattern_letters():
        py = {m.group() for m in re.finditer(re.escape(ch), text, re.I)}
        ours = {m.group() for m in re2.compile(cues._unicode_pattern(ch), opts).finditer(text)}
        if py != ours:
            bad.append(ch)
    return bad


def test_re2_folds_the_pattern_letters_as_python_does_on_likely_characters() -> None:
    # Latin, Greek, Cyrillic, the letterlike symbols and the Cyrillic extensions
    codes = np.concatenate([np.arange(0, 0x800), np.arange(0x1C80, 0x1C90), np.arange(0x1E00, 0x2200)])
    assert _folding_differences(codes.astype(np.uint32)) == []


@pytest.mark.slow
def test_re2_folds_the_pattern_letters_as_python_does_on_every_code_point() -> None:
    assert _folding_differences(np.arange(0, 0x110000, dtype=np.uint32)) == []
