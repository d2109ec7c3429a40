"""Campaign prompts vary enough that no few fixed strings identify a campaign."""

from __future__ import annotations

import random
import re
from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from hydrawatch.simulate.elicitation import STYLES, phrasebook


@settings(max_examples=10, deadline=None)
@given(
    seed=st.integers(min_value=0, max_value=2**32),
    style=st.sampled_from(sorted(STYLES)),
    stealth=st.booleans(),
)
def test_requests_are_well_formed(seed: int, style: str, stealth: bool) -> None:
    rng = random.Random(seed)
    book = phrasebook(0, stealth)
    for _ in range(50):
        req = STYLES[style](rng, book)
        assert req.user.strip()
        assert req.system is None or req.system.strip()
        assert req.out_median > 0


def test_each_elicitation_style_is_paraphrased() -> None:
    rng = random.Random(1)
    book = phrasebook(1, False)
    for style in ("cot", "trace", "rubric", "censor"):
        instructions = Counter(book.instruction(rng, style) for _ in range(3000))
        assert len(instructions) > 400, style
        assert instructions.most_common(1)[0][1] < 0.05 * 3000, style
        texts = {(r.system or "") + r.user for r in (STYLES[style](rng, book) for _ in range(2000))}
        assert len(texts) > 1900, style


def test_some_variants_are_not_english() -> None:
    rng = random.Random(2)
    book = phrasebook(2, False)
    texts = [STYLES["cot"](rng, book) for _ in range(2000)]
    assert (
        sum(bool(re.search(r"[\u4e00-\u9fff\u0400-\u04ffäöüßéèñ]", (t.system or "") + t.user)) for t in texts)
        > 50
    )


def test_analyst_prompt_comes_in_tens_of_thousands_of_variations() -> None:
    rng = random.Random(3)
    book = phrasebook(3, False)
    texts = {(r.system or "") + r.user for r in (STYLES["analyst"](rng, book) for _ in range(30000))}
    assert len(texts) > 25000


def test_stealth_paraphrases_differ_from_the_plain_ones() -> None:
    plain, stealth = phrasebook(4, False), phrasebook(4, True)
    assert len(set(stealth.instructions["cot"])) > len(set(plain.instructions["cot"]))
