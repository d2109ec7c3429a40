"""Adapters for logs people already have, auto-detection, and the field mapping."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from hydrawatch.ingest import BadRecord, parse_record
from hydrawatch.ingest.mapping import MappingError, get_path, parse_mapping

OPENAI_LOG: dict[str, Any] = {
    "timestamp": "2026-03-01T12:00:00.250Z",
    "user_id": "org-1/user-9",
    "api_key": "sk-proj-abcdefghijklmnopqrstuvwxyz",
    "client_ip": "192.0.2.10",
    "headers": {"User-Agent": "OpenAI/Python 1.52.0", "X-Forwarded-For": "198.51.100.7, 10.0.0.1"},
    "status_code": 200,
    "duration_ms": 812.5,
    "request": {
        "model": "gpt-x",
        "messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "explain step by step"}],
        "max_tokens": 400,
        "logprobs": True,
        "top_logprobs": 20,
    },
    "response": {
        "model": "gpt-x-2026-02",
        "choices": [{"message": {"role": "assistant", "content": "First, ..."}}],
        "usage": {
            "prompt_tokens": 30,
            "completion_tokens": 120,
            "completion_tokens_details": {"reasoning_tokens": 64},
        },
    },
    "region": "eu",
}

ANTHROPIC_STREAM_LOG: dict[str, Any] = {
    "ts": 1_772_366_400,
    "account_id": "acct-2",
    "request": {
        "model": "claude-x",
        "system": "sys",
        "messages": [{"role": "user", "content": [{"type": "text", "text": "think hard"}]}],
        "max_tokens": 4096,
        "thinking": {"type": "enabled", "budget_tokens": 2048},
        "stream": True,
    },
    "response": [
        {
            "type": "message_start",
            "message": {"model": "claude-x", "usage": {"input_tokens": 11, "output_tokens": 1}},
        },
        {"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": "hmm"}},
        {"type": "content_block_delta", "index": 1, "delta": {"type": "text_delta", "text": "Hel"}},
        {"type": "content_block_delta", "index": 1, "delta": {"type": "text_delta", "text": "lo"}},
        {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 57}},
        {"type": "message_stop"},
    ],
}

LITELLM_ROW: dict[str, Any] = {
    "request_id": "chatcmpl-1",
    "call_type": "acompletion",
    "api_key": "88dc28d0f030c55ed4ab77ed8faf098196cb1c05df778539800c9f1243fe6b4b",
    "spend": 0.0012,
    "total_tokens": 50,
    "prompt_tokens": 20,
    "completion_tokens": 30,
    "startTime": "2026-03-01 12:00:00.000",
    "endTime": "2026-03-01 12:00:01.500",
    "model": "azure/gpt-x",
    "model_group": "gpt-x",
    "user": "internal-user-1",
    "end_user": "customer-42",
    "metadata": '{"user_api_key_user_id": "internal-user-1"}',
    "requester_ip_address": "203.0.113.5",
    "messages": '[{"role": "user", "content": "rate this answer 1-10"}]',
    "response": {"choices": [{"message": {"content": "7"}}]},
    "proxy_server_request": {"model": "gpt-x", "messages": [], "temperature": 0.0, "max_tokens": 5},
    "status": "success",
    "session_id": "s1",
}


def test_openai_log_auto_and_named() -> None:
    for adapter in ("auto", "openai"):
        ex = parse_record(OPENAI_LOG, adapter=adapter)
        assert ex.ts == pytest.approx(1_772_366_400.25)
        assert ex.account_id == "org-1/user-9"
        assert ex.api_key_id is not None and ex.api_key_id.startswith("key_")
        assert ex.ip == "192.0.2.10"  # the record's own field beats X-Forwarded-For
        assert ex.user_agent == "OpenAI/Python 1.52.0"
        assert (ex.status, ex.latency_ms) == (200, 812.5)
        assert ex.model == "gpt-x" and ex.system == "s" and ex.prompt == "explain step by step"
        assert ex.params.logprobs is True and ex.params.top_logprobs == 20 and ex.params.max_tokens == 400
        assert (ex.input_tokens, ex.output_tokens, ex.reasoning_tokens) == (30, 120, 64)
        assert ex.response == "First, ..."
        assert ex.extra == {"region": "eu"}


def test_openai_log_ip_from_forwarded_header_and_account_from_body() -> None:
    log = {k: v for k, v in OPENAI_LOG.items() if k not in ("client_ip", "user_id")}
    log["request"] = {**OPENAI_LOG["request"], "user": "end-user-3"}
    ex = parse_record(log, adapter="openai")
    assert ex.ip == "198.51.100.7" and ex.account_id == "end-user-3"


def test_anthropic_stream_log() -> None:
    ex = parse_record(ANTHROPIC_STREAM_LOG, adapter="anthropic")
    assert ex.account_id == "acct-2" and ex.system == "sys" and ex.prompt == "think hard"
    assert ex.params.thinking_budget == 2048 and ex.params.stream is True
    assert (ex.input_tokens, ex.output_tokens, ex.response) == (11, 57, "Hello")
    assert parse_record(ANTHROPIC_STREAM_LOG, adapter="auto").response == "Hello"


def test_anthropic_whole_response_with_cache_tokens() -> None:
    log = {
        **ANTHROPIC_STREAM_LOG,
        "response": {
            "type": "message",
            "content": [{"type": "thinking", "thinking": "t"}, {"type": "text", "text": "done"}],
            "usage": {"input_tokens": 5, "cache_read_input_tokens": 100, "output_tokens": 9},
        },
    }
    ex = parse_record(log, adapter="auto")
    assert (ex.response, ex.input_tokens, ex.output_tokens) == ("done", 105, 9)


def test_openai_stream_chunks() -> None:
    log = {
        **OPENAI_LOG,
        "response": [
            {
                "object": "chat.completion.chunk",
                "choices": [{"delta": {"role": "assistant", "content": "A"}}],
            },
            {"object": "chat.completion.chunk", "choices": [{"delta": {"content": "B"}}]},
            {"choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 2}},
        ],
    }
    ex = parse_record(log, adapter="auto")
    assert (ex.response, ex.input_tokens, ex.output_tokens) == ("AB", 3, 2)


def test_request_body_as_json_string() -> None:
    log = {**OPENAI_LOG, "request": orjson.dumps(OPENAI_LOG["request"]).decode()}
    assert parse_record(log, adapter="openai").prompt == "explain step by step"


def test_litellm_row() -> None:
    for adapter in ("auto", "litellm"):
        ex = parse_record(LITELLM_ROW, adapter=adapter)
        assert ex.account_id == "internal-user-1"
        assert ex.model == "gpt-x"
        assert ex.ts == pytest.approx(1_772_366_400.0)
        assert ex.latency_ms == pytest.approx(1500.0)
        assert ex.ip == "203.0.113.5"
        assert ex.prompt == "rate this answer 1-10"
        assert ex.params.temperature == 0.0 and ex.params.max_tokens == 5
        assert (ex.input_tokens, ex.output_tokens, ex.status, ex.response) == (20, 30, 200, "7")
        assert ex.api_key_id == LITELLM_ROW["api_key"]
        assert ex.extra["end_user"] == "customer-42" and ex.extra["session_id"] == "s1"


def test_litellm_account_falls_back_to_end_user_then_key() -> None:
    row = {**LITELLM_ROW, "user": "", "metadata": {}}
    assert parse_record(row, adapter="litellm").account_id == "customer-42"
    row = {**row, "end_user": None}
    assert parse_record(row, adapter="litellm").account_id == LITELLM_ROW["api_key"]


def test_litellm_failure_status_and_bad_json_column() -> None:
    assert parse_record({**LITELLM_ROW, "status": "failure"}, adapter="litellm").status == 500
    with pytest.raises(BadRecord, match="messages"):
        parse_record({**LITELLM_ROW, "messages": "[not json"}, adapter="litellm")


def test_log_without_any_account_is_bad() -> None:
    log = {k: v for k, v in OPENAI_LOG.items() if k != "user_id"}
    with pytest.raises(BadRecord, match="account_id"):
        parse_record(log, adapter="openai")


def test_mapping_dotted_paths() -> None:
    raw = {
        "@timestamp": "2026-03-01T12:00:00Z",
        "user": {"id": 77},
        "req": {"text": "hello", "opts": {"max": 12}},
        "net": {"client.ip": "192.0.2.1"},
        "history": [{"q": "first"}],
    }
    mapping = parse_mapping(
        [
            "account_id=user.id",
            "ts=@timestamp",
            "prompt=req.text",
            "params.max_tokens=req.opts.max",
            "ip=net.client.ip",
            "system=history.0.q",
        ]
    )
    ex = parse_record(raw, adapter="contract", mapping=mapping)
    assert (ex.account_id, ex.ts, ex.prompt, ex.params.max_tokens, ex.ip, ex.system) == (
        "77",
        1_772_366_400.0,
        "hello",
        12,
        "192.0.2.1",
        "first",
    )


def test_mapping_overrides_an_adapter() -> None:
    ex = parse_record(LITELLM_ROW, adapter="litellm", mapping={"account_id": "end_user"})
    assert ex.account_id == "customer-42"


@pytest.mark.parametrize("opt", ["nofield", "=x", "account_id=", "bogus=x", "params.bogus=x", "ts.sub=x"])
def test_bad_mapping_options(opt: str) -> None:
    with pytest.raises(MappingError):
        parse_mapping([opt])


def test_get_path_missing_steps() -> None:
    assert get_path({"a": [1]}, "a.5") is None
    assert get_path({"a": 1}, "a.b") is None
    assert get_path({"a": {"b": None}}, "a.b.c") is None


def test_headers_as_ordered_pairs() -> None:
    log = {
        **{k: v for k, v in OPENAI_LOG.items() if k != "headers"},
        "request_headers": [["Accept", "*/*"], ["User-Agent", "curl/8"], ["X-JA4", "t13d_abc"]],
    }
    ex = parse_record(log, adapter="openai")
    assert ex.user_agent == "curl/8" and ex.client_fingerprint == "t13d_abc"
