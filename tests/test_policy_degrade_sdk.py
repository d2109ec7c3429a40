"""Degraded streams still make sense to the official SDKs' stream accumulators."""

from __future__ import annotations

from typing import Any

from anthropic._models import construct_type
from anthropic.lib.streaming._messages import accumulate_event
from anthropic.types import RawMessageStreamEvent

from hydrawatch.policy import StreamDegrader

ANTHROPIC_STREAM: list[dict[str, Any]] = [
    {
        "type": "message_start",
        "message": {
            "id": "msg_1",
            "type": "message",
            "role": "assistant",
            "model": "m",
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": 12, "output_tokens": 1},
        },
    },
    {
        "type": "content_block_start",
        "index": 0,
        "content_block": {"type": "thinking", "thinking": "", "signature": ""},
    },
    {"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": "First, "}},
    {"type": "content_block_delta", "index": 0, "delta": {"type": "signature_delta", "signature": "sig"}},
    {"type": "content_block_stop", "index": 0},
    {"type": "content_block_start", "index": 1, "content_block": {"type": "text", "text": ""}},
    {"type": "content_block_delta", "index": 1, "delta": {"type": "text_delta", "text": "The answer"}},
    {"type": "content_block_delta", "index": 1, "delta": {"type": "text_delta", "text": " is 42."}},
    {"type": "content_block_stop", "index": 1},
    {
        "type": "content_block_start",
        "index": 2,
        "content_block": {"type": "tool_use", "id": "tu_1", "name": "calc", "input": {}},
    },
    {
        "type": "content_block_delta",
        "index": 2,
        "delta": {"type": "input_json_delta", "partial_json": '{"x": 1}'},
    },
    {"type": "content_block_stop", "index": 2},
    {
        "type": "message_delta",
        "delta": {"stop_reason": "tool_use", "stop_sequence": None},
        "usage": {"output_tokens": 40},
    },
    {"type": "message_stop"},
]


def accumulate(events: list[dict[str, Any]]) -> Any:
    snapshot = None
    bufs: dict[int, bytes] = {}
    for ev in events:
        typed = construct_type(type_=RawMessageStreamEvent, value=ev)
        snapshot = accumulate_event(event=typed, current_snapshot=snapshot, json_bufs=bufs)  # type: ignore[arg-type]
    return snapshot


def test_anthropic_sdk_accumulates_the_degraded_stream() -> None:
    full = accumulate(ANTHROPIC_STREAM)
    assert [b.type for b in full.content] == ["thinking", "text", "tool_use"]
    s = StreamDegrader("anthropic")
    degraded = [e for e in (s(ev) for ev in ANTHROPIC_STREAM) if e is not None]
    msg = accumulate(degraded)
    assert [b.type for b in msg.content] == ["text", "tool_use"]
    assert msg.content[0].text == "The answer is 42."
    assert msg.content[1].input == {"x": 1}
    assert msg.usage.output_tokens == 40
