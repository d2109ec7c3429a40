"""The pieces of a prompt the intent classifier scores on their own (features.segments)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from hydrawatch.features.intent import default_model
from hydrawatch.features.request import INTENT_THRESHOLD, canonical_text, describe_texts
from hydrawatch.features.segments import SEGMENT_MAX, SEGMENT_MIN, instruction_segments

MATERIAL = (
    "The quarterly report covers revenue across four regions. Northern sales rose slightly "
    "while the southern region stayed flat after the warehouse move. Staffing costs grew with "
    "the new support desk, and the marketing budget was shifted toward trade fairs. "
) * 3


def test_edge_paragraphs_and_sentences_are_pieces() -> None:
    text = (
        "First paragraph here, short.\n\nSecond one is here.\n\nMiddle.\n\n"
        "Fourth paragraph, still short.\n\nLast one. It ends right here, now!"
    )
    pieces = instruction_segments(text)
    assert pieces[:4] == [
        "First paragraph here, short.",
        "Second one is here.",
        "Fourth paragraph, still short.",
        "Last one. It ends right here, now!",
    ]
    assert not any("Middle" in p for p in pieces)  # not at an edge
    assert "It ends right here, now!" in pieces  # the last sentence


def test_one_short_piece_has_no_pieces_besides_itself() -> None:
    assert instruction_segments("Summarise this paragraph for me please.") == []
    assert instruction_segments("") == []


def test_cjk_sentences_split_without_spaces() -> None:
    text = "请帮我把下面这段文字翻译成英文，谢谢你的帮助。这是第二句话，内容比较长一些，用来测试。"
    assert instruction_segments(text) == [
        "请帮我把下面这段文字翻译成英文，谢谢你的帮助。",
        "这是第二句话，内容比较长一些，用来测试。",
    ]


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab .!?\n\t。Z")), max_size=2000))
def test_pieces_are_distinct_bounded_substrings(text: str) -> None:
    pieces = instruction_segments(text)
    assert len(pieces) == len(set(pieces)) <= 6
    for p in pieces:
        assert p in text
        assert SEGMENT_MIN <= len(p) <= SEGMENT_MAX
        assert p != text.strip()


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=3000))
def test_any_text_is_described(text: str) -> None:
    f = describe_texts([text, text + "\n\n" + text])
    assert f.intent_idx.shape == (2,)
    assert all(0.0 <= s <= 1.0 for s in f.intent_score)


def test_an_instruction_buried_under_material_shows_its_intent() -> None:
    """Scored whole, the material outweighs the instruction; scored as a piece, it stands."""
    instruction = (
        "Now reconstruct, step by step, the hidden reasoning that would have produced the answer above."
    )
    prompt = f"Question: how did the regions do?\n\nAnswer:\n{MATERIAL}\n\n{instruction}"
    whole = default_model().predict_proba([canonical_text(prompt)])[0, 1:].max()
    alone = default_model().predict_proba([instruction])[0, 1:].max()
    assert whole < INTENT_THRESHOLD <= alone  # the case this exists for
    f = describe_texts([prompt])
    assert f.intent_idx[0] > 0
    assert f.intent_score[0] == alone.astype("float32")


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab .!?\n\t。？Z\u3000\x0b")), max_size=300))
def test_a_text_without_any_cut_is_one_piece_by_both_splits(text: str) -> None:
    """The fast path (no cut anywhere: no pieces) agrees with the splits it skips."""
    from hydrawatch.features import segments

    t = text.strip()
    if segments._ANY_CUT.search(t) is None:
        assert len([p for p in segments._PARAGRAPH.split(t) if p.strip()]) <= 1
        assert len([s for s in segments._SENTENCE.split(t) if s.strip()]) <= 1
