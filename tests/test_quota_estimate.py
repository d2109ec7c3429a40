from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from hydrawatch.quota import Usage, estimate_tokens


def test_estimates() -> None:
    assert estimate_tokens("") == 0
    assert estimate_tokens("hello world, how are you") == math.ceil(23 / 4 + 1 / 2)
    assert estimate_tokens("你好世界") == 4  # CJK: about one token per character
    assert estimate_tokens("3.14159") == 4  # digits split finely
    assert estimate_tokens("Привет") == 3


@given(st.text(max_size=300))
def test_never_raises_and_never_below_chars_over_four(text: str) -> None:
    n = estimate_tokens(text)
    assert n >= math.ceil(len(text) / 4)
    assert n <= len(text)


@given(st.text(max_size=100), st.text(max_size=100))
def test_concatenation_costs_about_the_sum(a: str, b: str) -> None:
    assert estimate_tokens(a + b) <= estimate_tokens(a) + estimate_tokens(b) + 1


def test_usage_ignores_garbage_counts() -> None:
    u = Usage(-5, float("nan"), True)  # type: ignore[arg-type]
    assert (
        u.amount("input-tokens"),
        u.amount("output-tokens"),
        u.amount("requests"),
        u.amount("tokens"),
    ) == (0, 0, 0, 0)
