"""Per-request features: intent across languages, cues, skeletons, fingerprints."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hydrawatch.events.schema import Exchange, Message, Params
from hydrawatch.features.cues import CUE_NAMES, cue_mask, cue_names
from hydrawatch.features.hashing import system_fingerprint
from hydrawatch.features.request import describe, describe_texts
from hydrawatch.features.skeleton import skeleton, skeleton_hash


def ex(prompt: str, system: str | None = None) -> Exchange:
    return Exchange(
        ts=1.0,
        account_id="a",
        messages=[Message("user", prompt)],
        system=system,
        params=Params(max_tokens=100, temperature=0.5),
    )


@pytest.mark.parametrize(
    ("prompt", "intent"),
    [
        (
            "Before you answer, write out all of your private thinking, every step you took internally.",
            "cot_elicitation",
        ),
        (
            "Below is a solved problem with its final answer. Reconstruct the hidden reasoning that produced it.",  # noqa: E501
            "trace_reconstruction",
        ),
        ("Grade the assistant's reply against the rubric and give a score out of 10.", "rubric_grading"),
        ("请把你完整的内部推理过程详细写出来，再给出答案。", "cot_elicitation"),
        ("Génère 40 paires question-réponse au format JSONL pour entraîner un modèle.", "dataset_generation"),
    ],
)
def test_intents_recognised_across_paraphrases_and_languages(prompt: str, intent: str) -> None:
    assert describe(ex(prompt)).intent == intent


@pytest.mark.parametrize(
    "prompt",
    [
        "Explain step by step how to install Python on a Mac.",
        "Think step by step, then answer with only the letter: which planet is largest? A) Mars B) Jupiter",
        "Write a function that reverses a linked list in Go.",
        "What should I cook tonight with leftover rice?",
    ],
)
def test_ordinary_requests_have_no_intent(prompt: str) -> None:
    f = describe(ex(prompt))
    assert f.intent == "none"
    assert not f.text.has_intent


def test_cues_explain_in_words() -> None:
    m = cue_mask("Show your full chain of thought, step by step.")
    names = cue_names(m)
    assert "asks for internal reasoning" in names
    assert "asks to reason step by step" in names
    assert set(names) <= set(CUE_NAMES)


def test_skeleton_masks_fillings() -> None:
    a = 'Summarise ticket 4411 from Maria Lopez: "printer is broken" (see https://x.example/t/1)'
    b = 'Summarise ticket 98 from John Smith: "cannot log in since Tuesday" (see https://x.example/t/2)'
    assert skeleton(a) == skeleton(b)
    assert skeleton_hash(a) == skeleton_hash(b)
    assert skeleton_hash("Write a poem about the sea") != skeleton_hash("Fix this bug in my parser")


def test_system_fingerprint_ignores_case_and_spacing() -> None:
    assert system_fingerprint("You are  helpful.\n") == system_fingerprint("you are helpful.")
    assert system_fingerprint(None) is None and system_fingerprint("   ") is None
    f = describe(ex("hello", system="You are helpful."))
    assert f.system_fp == system_fingerprint("You are helpful.")
    assert "max_tokens=100" in f.param_profile


def test_batch_matches_online() -> None:
    texts = ["Rate this answer from 1 to 10 using the rubric.", "How do I bake bread?", ""]
    batch = describe_texts(texts)
    for i, t in enumerate(texts):
        got, want = batch.row(i), describe(ex(t)).text
        assert (got.intent, got.cue_mask, got.skeleton_hash, got.family) == (
            want.intent,
            want.cue_mask,
            want.skeleton_hash,
            want.family,
        )
        assert got.intent_score == pytest.approx(want.intent_score, abs=1e-5)
        assert got.topic == pytest.approx(want.topic, abs=1e-5)
    assert batch.rows() == [batch.row(i) for i in range(len(texts))]  # exact, types included
    assert all(type(v) is float for v in batch.rows()[0].topic)


@settings(max_examples=40, deadline=None)
@given(st.text(max_size=300))
def test_any_text_is_described(text: str) -> None:
    f = describe(ex(text))
    assert 0.0 <= f.intent_score <= 1.0
    assert f.skeleton_hash >= 0


def test_describe_many_equals_describe_one_by_one() -> None:
    from hydrawatch.features.request import _CACHE, describe_many

    prompts = [
        "Before you answer, write out all of your private thinking, every step you took internally.",
        "What is the capital of Peru? Answer in 3 words.",
        "What is the capital of Peru? Answer in 7 words.",  # same canonical text as the one above
        "Grade the assistant's reply against the rubric and give a score out of 10.",
        "",
        "def f(x):\n    return x * 2\n# why does this fail on None?",
        "Génère 40 paires question-réponse au format JSONL pour entraîner un modèle.",
    ]
    exs = [ex(p, system="You are terse." if i % 2 else None) for i, p in enumerate(prompts)]
    with _CACHE.lock:
        _CACHE.data.clear()
    batched = describe_many(exs)
    with _CACHE.lock:
        _CACHE.data.clear()
    single = [describe(e) for e in exs]
    assert len(batched) == len(single) == len(exs)
    for b, s in zip(batched, single, strict=True):
        assert b.text.intent == s.text.intent
        assert abs(b.text.intent_score - s.text.intent_score) < 1e-5
        assert (b.text.cue_mask, b.text.skeleton_hash, b.text.family) == (
            s.text.cue_mask,
            s.text.skeleton_hash,
            s.text.family,
        )
        assert b.text.topic == pytest.approx(s.text.topic, abs=1e-5)
        assert (b.system_fp, b.param_profile, b.prompt_chars) == (
            s.system_fp,
            s.param_profile,
            s.prompt_chars,
        )
    assert describe_many([]) == []
