"""Property tests: the degrade functions take untrusted JSON and must behave on anything."""

from __future__ import annotations

import copy
import math
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from hydrawatch.policy import Decision, StreamDegrader, degrade_request, degrade_response, degrade_sse_event

KEYS = st.sampled_from(
    [
        "max_tokens",
        "max_completion_tokens",
        "max_output_tokens",
        "logprobs",
        "top_logprobs",
        "reasoning_effort",
        "reasoning",
        "thinking",
        "include",
        "choices",
        "message",
        "delta",
        "content",
        "type",
        "index",
        "output",
        "output_index",
        "item",
        "part",
        "response",
        "reasoning_content",
        "finish_reason",
        "usage",
        "text",
        "input",
        "prompt",
        "budget_tokens",
        "content_block",
        "n",
    ]
) | st.text(max_size=5)
TYPES = st.sampled_from(
    [
        "thinking",
        "redacted_thinking",
        "thinking_delta",
        "signature_delta",
        "text",
        "reasoning",
        "message",
        "content_block_start",
        "content_block_delta",
        "content_block_stop",
        "message_start",
        "response.reasoning_text.delta",
        "response.output_item.added",
    ]
)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-(2**40), 2**40)
    | st.floats(allow_nan=True)
    | TYPES
    | st.text(max_size=8)
)
JSON = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=6),
    max_leaves=30,
)
BODIES = st.dictionaries(KEYS, JSON, max_size=8)
APIS = st.sampled_from(["openai", "anthropic"])
DECISIONS = st.builds(
    lambda cap, r, lp, n: Decision(
        "degrade", (), 0.9, None, max_tokens_cap=cap, strip_reasoning=r, strip_logprobs=lp, max_choices=n
    ),
    st.none() | st.integers(1, 10**6),
    st.booleans(),
    st.booleans(),
    st.none() | st.integers(1, 4),
)


OPENAI_KEYS = ("max_tokens", "max_completion_tokens", "max_output_tokens")


def same(a: Any, b: Any) -> bool:
    """Equality that treats NaN as equal to itself."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


@settings(max_examples=60, deadline=None)
@given(BODIES, APIS, DECISIONS)
def test_request_is_idempotent_never_raises_never_mutates(
    body: dict[str, Any], api: Any, d: Decision
) -> None:
    before = copy.deepcopy(body)
    once = degrade_request(body, api, d)
    assert same(body, before)
    assert same(degrade_request(once, api, d), once)


@settings(max_examples=60, deadline=None)
@given(BODIES, APIS, DECISIONS)
def test_request_never_increases_max_tokens(body: dict[str, Any], api: Any, d: Decision) -> None:
    out = degrade_request(body, api, d)
    keys = ("max_tokens",) if api == "anthropic" else OPENAI_KEYS
    for k in keys:
        v = body.get(k)
        if (
            isinstance(v, int | float)
            and not isinstance(v, bool)
            and not (isinstance(v, float) and math.isnan(v))
        ):
            assert out[k] <= v
        if d.max_tokens_cap is not None and k in out:
            assert out[k] <= d.max_tokens_cap


@settings(max_examples=60, deadline=None)
@given(BODIES, APIS, st.booleans(), st.booleans())
def test_response_is_idempotent_and_never_raises(body: dict[str, Any], api: Any, r: bool, lp: bool) -> None:
    before = copy.deepcopy(body)
    once = degrade_response(body, api, strip_reasoning=r, strip_logprobs=lp)
    assert same(body, before)
    assert same(degrade_response(once, api, strip_reasoning=r, strip_logprobs=lp), once)


@settings(max_examples=60, deadline=None)
@given(BODIES, APIS)
def test_sse_event_is_idempotent_and_never_raises(event: dict[str, Any], api: Any) -> None:
    before = copy.deepcopy(event)
    once = degrade_sse_event(event, api)
    assert same(event, before)
    if once is not None:
        assert same(degrade_sse_event(once, api), once)


@settings(max_examples=25, deadline=None)
@given(st.lists(BODIES | JSON, max_size=12), APIS)
def test_streams_never_raise_and_degrade_to_a_fixed_point(events: list[Any], api: Any) -> None:
    first = StreamDegrader(api)
    out = [e for e in (first(ev) for ev in events) if e is not None]
    second = StreamDegrader(api)
    assert all(same(second(e), e) for e in out)
