from __future__ import annotations

import copy
from typing import Any

from hydrawatch.policy import Decision, StreamDegrader, degrade_request, degrade_response, degrade_sse_event

DEGRADE = Decision(
    "degrade",
    ("r",),
    0.9,
    None,
    max_tokens_cap=1024,
    strip_reasoning=True,
    strip_logprobs=True,
    max_choices=1,
)
CAP_ONLY = Decision("degrade", ("r",), 0.9, None, max_tokens_cap=100)


def test_openai_chat_request() -> None:
    body = {
        "model": "m",
        "messages": [],
        "max_tokens": 4000,
        "max_completion_tokens": 500,
        "logprobs": True,
        "top_logprobs": 5,
        "reasoning_effort": "high",
        "temperature": 0.2,
    }
    orig = copy.deepcopy(body)
    out = degrade_request(body, "openai", DEGRADE)
    assert body == orig  # input untouched
    assert out == {
        "model": "m",
        "messages": [],
        "max_tokens": 1024,
        "max_completion_tokens": 500,
        "temperature": 0.2,
    }


def test_samples_per_request_are_capped() -> None:
    assert degrade_request({"messages": [], "n": 8}, "openai", DEGRADE)["n"] == 1
    assert "n" not in degrade_request({"messages": []}, "openai", DEGRADE)
    assert degrade_request({"messages": [], "n": 8}, "openai", CAP_ONLY)["n"] == 8


def test_openai_request_without_a_limit_gets_one_in_the_endpoint_key() -> None:
    assert degrade_request({"messages": []}, "openai", DEGRADE)["max_completion_tokens"] == 1024
    assert degrade_request({"prompt": "x"}, "openai", DEGRADE)["max_tokens"] == 1024
    r = degrade_request(
        {
            "input": "x",
            "reasoning": {"effort": "high"},
            "max_output_tokens": 9999,
            "include": ["reasoning.encrypted_content", "file_search_call.results"],
        },
        "openai",
        DEGRADE,
    )
    assert r == {"input": "x", "max_output_tokens": 1024, "include": ["file_search_call.results"]}


def test_cap_only_keeps_reasoning_and_logprobs() -> None:
    out = degrade_request(
        {"messages": [], "logprobs": True, "reasoning_effort": "low", "max_tokens": 50}, "openai", CAP_ONLY
    )
    assert out == {"messages": [], "logprobs": True, "reasoning_effort": "low", "max_tokens": 50}


def test_anthropic_request() -> None:
    body = {
        "model": "claude",
        "max_tokens": 8000,
        "thinking": {"type": "enabled", "budget_tokens": 4000},
        "messages": [],
    }
    assert degrade_request(body, "anthropic", DEGRADE) == {
        "model": "claude",
        "max_tokens": 1024,
        "messages": [],
    }
    # a thinking budget that no longer fits under the cap is removed rather than rejected upstream
    out = degrade_request(body, "anthropic", Decision("degrade", (), 0.9, None, max_tokens_cap=2000))
    assert out["max_tokens"] == 2000 and "thinking" not in out
    out = degrade_request(body, "anthropic", Decision("degrade", (), 0.9, None, max_tokens_cap=6000))
    assert out["thinking"] == {"type": "enabled", "budget_tokens": 4000}


def test_openai_chat_response() -> None:
    resp = {
        "id": "c1",
        "object": "chat.completion",
        "choices": [
            {
                "index": 0,
                "finish_reason": "stop",
                "message": {
                    "role": "assistant",
                    "content": "42",
                    "reasoning_content": "step 1...",
                    "reasoning": "x",
                },
                "logprobs": {"content": [{"token": "42", "logprob": -0.1}]},
            }
        ],
        "usage": {"completion_tokens": 9},
    }
    out = degrade_response(resp, "openai")
    assert out["choices"][0]["message"] == {"role": "assistant", "content": "42"}
    assert out["choices"][0]["logprobs"] is None
    assert out["usage"] == {"completion_tokens": 9}
    assert resp["choices"][0]["message"]["reasoning_content"] == "step 1..."  # input untouched


def test_openai_responses_api_response() -> None:
    resp = {
        "object": "response",
        "output": [
            {"type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": "thinking"}]},
            {
                "type": "message",
                "id": "msg_1",
                "content": [
                    {"type": "output_text", "text": "hi", "logprobs": [{"token": "hi", "logprob": -0.2}]}
                ],
            },
        ],
    }
    out = degrade_response(resp, "openai")
    assert out["output"] == [
        {"type": "message", "id": "msg_1", "content": [{"type": "output_text", "text": "hi", "logprobs": []}]}
    ]


def test_anthropic_response() -> None:
    resp = {
        "type": "message",
        "content": [
            {"type": "thinking", "thinking": "hmm", "signature": "s"},
            {"type": "redacted_thinking", "data": "xx"},
            {"type": "text", "text": "answer"},
        ],
    }
    assert degrade_response(resp, "anthropic")["content"] == [{"type": "text", "text": "answer"}]
    assert degrade_response(resp, "anthropic", strip_reasoning=False) == resp


def test_anthropic_stream_drops_thinking_blocks_and_renumbers() -> None:
    events: list[dict[str, Any]] = [
        {"type": "message_start", "message": {"id": "m", "content": [], "usage": {"input_tokens": 5}}},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "thinking", "thinking": ""}},
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "thinking_delta", "thinking": "let me"},
        },
        {"type": "content_block_delta", "index": 0, "delta": {"type": "signature_delta", "signature": "abc"}},
        {"type": "content_block_stop", "index": 0},
        {"type": "content_block_start", "index": 1, "content_block": {"type": "text", "text": ""}},
        {"type": "content_block_delta", "index": 1, "delta": {"type": "text_delta", "text": "Hello"}},
        {"type": "content_block_stop", "index": 1},
        {
            "type": "content_block_start",
            "index": 2,
            "content_block": {"type": "redacted_thinking", "data": "x"},
        },
        {"type": "content_block_stop", "index": 2},
        {
            "type": "content_block_start",
            "index": 3,
            "content_block": {"type": "tool_use", "id": "t", "name": "f", "input": {}},
        },
        {
            "type": "content_block_delta",
            "index": 3,
            "delta": {"type": "input_json_delta", "partial_json": "{}"},
        },
        {"type": "content_block_stop", "index": 3},
        {"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 30}},
        {"type": "message_stop"},
    ]
    s = StreamDegrader("anthropic")
    out = [e for e in (s(ev) for ev in events) if e is not None]
    assert [(e["type"], e.get("index")) for e in out] == [
        ("message_start", None),
        ("content_block_start", 0),
        ("content_block_delta", 0),
        ("content_block_stop", 0),
        ("content_block_start", 1),
        ("content_block_delta", 1),
        ("content_block_stop", 1),
        ("message_delta", None),
        ("message_stop", None),
    ]
    assert out[5]["delta"] == {"type": "input_json_delta", "partial_json": "{}"}
    # a degraded stream passes through a second degrader unchanged
    again = StreamDegrader("anthropic")
    assert [again(e) for e in out] == out


def test_openai_chat_stream() -> None:
    s = StreamDegrader("openai")
    first = {"choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]}
    thinking = {"choices": [{"index": 0, "delta": {"reasoning_content": "hmm"}, "finish_reason": None}]}
    text = {
        "choices": [
            {"index": 0, "delta": {"content": "Hi"}, "logprobs": {"content": []}, "finish_reason": None}
        ]
    }
    usage = {"choices": [], "usage": {"completion_tokens": 3}}
    assert s(first) == first
    assert s(thinking) is None
    assert s(text) == {
        "choices": [{"index": 0, "delta": {"content": "Hi"}, "logprobs": None, "finish_reason": None}]
    }
    assert s(usage) == usage


def test_openai_responses_stream_drops_reasoning_items_and_renumbers() -> None:
    events: list[dict[str, Any]] = [
        {"type": "response.created", "response": {"output": []}},
        {"type": "response.output_item.added", "output_index": 0, "item": {"type": "reasoning", "id": "rs"}},
        {"type": "response.reasoning_summary_text.delta", "output_index": 0, "delta": "x"},
        {"type": "response.output_item.done", "output_index": 0, "item": {"type": "reasoning", "id": "rs"}},
        {"type": "response.output_item.added", "output_index": 1, "item": {"type": "message", "content": []}},
        {
            "type": "response.output_text.delta",
            "output_index": 1,
            "content_index": 0,
            "delta": "Hi",
            "logprobs": [{"token": "Hi"}],
        },
        {"type": "response.completed", "response": {"output": [{"type": "reasoning"}, {"type": "message"}]}},
    ]
    s = StreamDegrader("openai")
    out = [e for e in (s(ev) for ev in events) if e is not None]
    assert [e["type"] for e in out] == [
        "response.created",
        "response.output_item.added",
        "response.output_text.delta",
        "response.completed",
    ]
    assert out[1]["output_index"] == 0 and out[2]["output_index"] == 0 and out[2]["logprobs"] == []
    assert out[3]["response"]["output"] == [{"type": "message"}]


def test_stateless_sse_event() -> None:
    ev = {"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": "x"}}
    assert degrade_sse_event(ev, "anthropic") is None
    assert degrade_sse_event(ev, "anthropic", strip_reasoning=False) == ev
