"""The contract's field rules: types, times, content parts, params, extra fields."""

from __future__ import annotations

from typing import Any

import pytest

from hydrawatch.ingest import BadRecord, parse_record

BASE: dict[str, Any] = {"ts": 1_772_366_400, "account_id": "a1"}


def rec(**kw: Any) -> dict[str, Any]:
    return {**BASE, **kw}


@pytest.mark.parametrize(
    ("ts", "expected"),
    [
        ("2026-03-01T12:00:00Z", 1_772_366_400.0),
        ("2026-03-01T13:00:00+01:00", 1_772_366_400.0),
        ("2026-03-01T12:00:00", 1_772_366_400.0),  # naive: UTC
        ("2026-03-01 12:00:00.500", 1_772_366_400.5),
        (1_772_366_400, 1_772_366_400.0),
        (1_772_366_400.25, 1_772_366_400.25),
        (1_772_366_400_250, 1_772_366_400.25),  # epoch ms
        ("1772366400", 1_772_366_400.0),
        ("1772366400250", 1_772_366_400.25),
    ],
)
def test_ts_forms(ts: Any, expected: float) -> None:
    assert parse_record(rec(ts=ts)).ts == pytest.approx(expected)


@pytest.mark.parametrize("ts", ["yesterday", "2026-13-01T00:00:00Z", -5, float("nan"), True, [1], None, ""])
def test_bad_ts(ts: Any) -> None:
    with pytest.raises(BadRecord, match=r"^ts"):
        parse_record(rec(ts=ts))


@pytest.mark.parametrize("account", [None, "", "   ", {"id": 1}, True])
def test_account_id_required(account: Any) -> None:
    with pytest.raises(BadRecord, match=r"^account_id"):
        parse_record(rec(account_id=account))


def test_numeric_account_id_becomes_text() -> None:
    assert parse_record(rec(account_id=12345)).account_id == "12345"


def test_full_record() -> None:
    ex = parse_record(
        rec(
            model="m",
            messages=[{"role": "user", "content": "hi"}],
            system="sys",
            ip="198.51.100.1",
            user_agent="ua",
            api_key_id="k1",
            client_fingerprint="fp",
            params={"max_tokens": 10, "temperature": 0.5, "top_p": 1, "stream": False},
            input_tokens=3,
            output_tokens="4",
            reasoning_tokens=1.0,
            status="200",
            latency_ms=12,
            response="hello",
            custom_field={"kept": True},
        )
    )
    assert (ex.model, ex.system, ex.ip, ex.user_agent, ex.api_key_id, ex.client_fingerprint) == (
        "m",
        "sys",
        "198.51.100.1",
        "ua",
        "k1",
        "fp",
    )
    assert (ex.input_tokens, ex.output_tokens, ex.reasoning_tokens, ex.status) == (3, 4, 1, 200)
    assert ex.latency_ms == 12.0 and ex.response == "hello"
    assert ex.params.max_tokens == 10 and ex.params.top_p == 1.0 and ex.params.stream is False
    assert ex.extra == {"custom_field": {"kept": True}}


def test_prompt_when_no_messages() -> None:
    ex = parse_record(rec(prompt="write a poem"))
    assert [(m.role, m.content) for m in ex.messages] == [("user", "write a poem")]
    assert parse_record(rec(prompt="x", messages=[])).prompt == "x"


def test_system_messages_are_lifted_and_joined() -> None:
    ex = parse_record(
        rec(system="top", messages=[{"role": "system", "content": "inner"}, {"role": "user", "content": "q"}])
    )
    assert ex.system == "top\ninner" and len(ex.messages) == 1


def test_content_parts() -> None:
    parts = [
        {"type": "text", "text": "a"},
        {"type": "image", "source": {}},
        {"type": "input_audio", "input_audio": {}},
        {"type": "document"},
        {"type": "tool_result", "content": [{"type": "text", "text": "b"}, {"type": "image"}]},
        {"type": "redacted_thinking", "data": "x"},
        {"type": "brand_new_kind!"},
        "c",
    ]
    ex = parse_record(rec(messages=[{"role": "user", "content": parts}]))
    assert ex.prompt == "a\n[image]\n[audio]\n[document]\nb\n[image]\n[thinking]\n[brand_new_kind]\nc"


def test_messages_as_json_string_for_csv() -> None:
    ex = parse_record(rec(messages='[{"role": "user", "content": "from csv"}]', params='{"max_tokens": 5}'))
    assert ex.prompt == "from csv" and ex.params.max_tokens == 5


def test_empty_strings_mean_absent() -> None:
    ex = parse_record(rec(model="", ip="", input_tokens="", params="", messages="", system=""))
    assert ex.model is None and ex.ip is None and ex.input_tokens is None and ex.messages == []
    assert ex.system is None


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("input_tokens", "many"),
        ("input_tokens", -1),
        ("output_tokens", 1.5),
        ("output_tokens", True),
        ("status", 2**40),
        ("latency_ms", "fast"),
        ("latency_ms", float("inf")),
        ("model", ["m"]),
        ("ip", {"v4": "x"}),
        ("messages", "plain text"),
        ("messages", {"role": "user"}),
        ("messages", [{"role": "user", "content": {"type": "text"}}]),
        ("messages", [["user", "hi"]]),
        ("params", [1, 2]),
        ("params", {"temperature": "hot"}),
        ("params", {"n": 2**31}),
        ("params", {"stream": "maybe"}),
        ("params", {"thinking": {"type": "enabled", "budget_tokens": "big"}}),
        ("prompt", 42),
        ("response", 42),
    ],
)
def test_wrong_types_are_bad_records(field: str, value: Any) -> None:
    with pytest.raises(BadRecord) as e:
        parse_record(rec(**{field: value}))
    assert str(e.value)


def test_not_an_object() -> None:
    for obj in ([1, 2], "text", 3, None):
        with pytest.raises(BadRecord, match="record"):
            parse_record(obj)


def test_params_variants() -> None:
    p = parse_record(
        rec(
            params={
                "max_output_tokens": 9,
                "reasoning": {"effort": "low"},
                "functions": [{}],
                "thinking": 500,
            }
        )
    ).params
    assert (p.max_tokens, p.reasoning_effort, p.n_tools, p.thinking_budget) == (9, "low", 1, 500)
    p = parse_record(rec(params={"logprobs": 1, "stream": "true", "n_tools": 4})).params
    assert p.logprobs is True and p.stream is True and p.n_tools == 4


def test_response_object_gives_text_and_usage() -> None:
    body = {
        "choices": [{"message": {"role": "assistant", "content": "ans"}}],
        "usage": {
            "prompt_tokens": 5,
            "completion_tokens": 7,
            "completion_tokens_details": {"reasoning_tokens": 2},
        },
    }
    ex = parse_record(rec(response=body))
    assert (ex.response, ex.input_tokens, ex.output_tokens, ex.reasoning_tokens) == ("ans", 5, 7, 2)
    assert parse_record(rec(response=body, output_tokens=99)).output_tokens == 99
