"""The loader's fast path gives exactly the full parser's row, or steps aside."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from hydrawatch.ingest import BadRecord
from hydrawatch.ingest.columns import event_tuple
from hydrawatch.ingest.contract import parse_contract
from hydrawatch.ingest.fastrow import simple_row

texts = st.sampled_from(["", " ", "hi", "a\nb", "ünï"]) | st.text(max_size=8)
ints = st.sampled_from([0, 1, -1, 2**31, 2**53, 2**53 + 1, 2**70]) | st.integers(-5, 10**6)
numbers = (
    ints | st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from([1.5, -0.0, 1e11, 1e12 + 0.5])
)
timestamps = (
    numbers
    | st.sampled_from(
        [
            "2026-03-01T12:00:00Z",
            "2026-03-01T12:00:00",
            "2026-03-01 12:00:00.250+02:00",
            " 2026-03-01T12:00:00Z",
            "2026-03-01T12:00:00Z ",
            "2026-03-01",
            "1969-12-31T23:59:59Z",
            "0001-01-01T00:00:00+01:00",
            "9999-12-31T23:59:59-14:00",
            "2026-02-30T00:00:00Z",
            "1772366400",
            "",
        ]
    )
    | texts
    | st.none()
    | st.booleans()
)
scalars = st.none() | st.booleans() | texts | ints | numbers
contents = texts | st.none() | st.just([{"type": "text", "text": "p"}]) | ints
messages = st.lists(
    st.fixed_dictionaries(
        {
            "role": st.sampled_from(["user", "assistant", "system", "developer", "tool", ""]),
            "content": contents,
        }
    )
    | st.just("not a message"),
    max_size=4,
)
param_values = (
    scalars
    | st.lists(st.just({"type": "function"}), max_size=3)
    | st.fixed_dictionaries(
        {"type": st.sampled_from(["enabled", "disabled", "adaptive"])},
        optional={"budget_tokens": scalars},
    )
)
params = st.none() | st.dictionaries(
    st.sampled_from(
        [
            "max_tokens",
            "temperature",
            "top_p",
            "stream",
            "n",
            "tools",
            "logprobs",
            "top_logprobs",
            "reasoning_effort",
            "thinking",
            "functions",
            "max_completion_tokens",
        ]
    ),
    param_values,
    max_size=5,
)
record = st.fixed_dictionaries(
    {"account_id": st.sampled_from(["acct", "", "  ", None, 7]) | texts, "ts": timestamps},
    optional={
        "messages": messages | texts | st.none(),
        "prompt": scalars,
        "system": scalars | st.just([{"type": "text", "text": "s"}]),
        "params": params | texts,
        "model": scalars,
        "ip": scalars,
        "user_agent": scalars,
        "api_key_id": scalars,
        "client_fingerprint": scalars,
        "input_tokens": scalars,
        "output_tokens": scalars,
        "reasoning_tokens": scalars,
        "status": scalars,
        "latency_ms": scalars,
        "response": scalars | st.just({"choices": []}),
        "unknown": scalars,
    },
)


@settings(max_examples=400, deadline=None)
@given(obj=record)
def test_fast_row_equals_full_parser_row(obj: dict[str, Any]) -> None:
    row = simple_row(obj, 7, "src")
    if row is None:
        return
    try:
        ex = parse_contract(obj, keep_extra=False)
    except BadRecord as e:  # the fast path must never accept what the parser rejects
        raise AssertionError(f"fast path accepted a bad record: {e}") from None
    assert row == event_tuple(ex, 7, "src")


def test_fast_path_takes_the_plain_records() -> None:
    plain = [
        {"ts": 1772366400.5, "account_id": "a", "prompt": "hi"},
        {
            "ts": 1,
            "account_id": "a",
            "prompt": "x",
            "params": {
                "tools": [{}, {}],
                "thinking": {"type": "enabled", "budget_tokens": 9},
                "logprobs": True,
            },
        },
        {
            "ts": "2026-03-01T12:00:00Z",
            "account_id": "a",
            "model": "m",
            "messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "q"}],
            "params": {"max_tokens": 5, "temperature": 0.5, "stream": True, "reasoning_effort": "high"},
            "input_tokens": 1,
            "output_tokens": 2,
            "status": 200,
            "latency_ms": 10,
            "response": "r",
            "anything_else": [1, 2],
        },
    ]
    for obj in plain:
        row = simple_row(obj, 1, "s")
        assert row is not None and row == event_tuple(parse_contract(obj), 1, "s")


def test_fast_path_steps_aside_for_everything_else() -> None:
    for obj in (
        {
            "ts": 1,
            "account_id": "a",
            "messages": [{"role": "user", "content": [{"type": "text", "text": "x"}]}],
        },
        {"ts": 1772366400123, "account_id": "a"},  # epoch ms
        {"ts": 1, "account_id": 5},
        {"ts": 1, "account_id": "a", "params": {"functions": []}},
        {"ts": 1, "account_id": "a", "params": {"thinking": 5}},
        {"ts": 1, "account_id": "a", "input_tokens": "3"},
        {"ts": 1, "account_id": "a", "response": {"choices": []}},
    ):
        assert simple_row(obj, 1, "s") is None
