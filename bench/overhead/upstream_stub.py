"""The fastest OpenAI-compatible upstream we can write: raw ASGI, fixed answers, no delays.

``POST .../chat/completions`` answers a fixed chat completion (with ``usage``); with
``"stream": true`` a fixed SSE stream: a role chunk, a few content chunks, a finish chunk,
a usage chunk and ``data: [DONE]``, each sent as its own body message. ``GET`` answers a
model list (used as the readiness probe). Nothing is parsed beyond ``stream``.

    python bench/overhead/upstream_stub.py --port 9100
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Awaitable, Callable
from typing import Any

from hydrawatch.bench.asgi_upstream import http_request_body

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

MODEL = "bench-model"
WORDS = ["Hello", " from", " the", " bench", " upstream", "."]
PROMPT_TOKENS = 20
USAGE = {
    "prompt_tokens": PROMPT_TOKENS,
    "completion_tokens": len(WORDS),
    "total_tokens": PROMPT_TOKENS + len(WORDS),
}


def _dumps(obj: object) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


COMPLETION = _dumps(
    {
        "id": "chatcmpl-bench",
        "object": "chat.completion",
        "created": 1700000000,
        "model": MODEL,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "".join(WORDS)},
                "finish_reason": "stop",
            }
        ],
        "usage": USAGE,
    }
)


def _event(choices: list[dict[str, Any]], usage: dict[str, int] | None = None) -> bytes:
    obj: dict[str, Any] = {
        "id": "chatcmpl-bench",
        "object": "chat.completion.chunk",
        "created": 1700000000,
        "model": MODEL,
        "choices": choices,
    }
    if usage is not None:
        obj["usage"] = usage
    return b"data: " + _dumps(obj) + b"\n\n"


STREAM_EVENTS: tuple[bytes, ...] = (
    _event([{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]),
    *(_event([{"index": 0, "delta": {"content": w}, "finish_reason": None}]) for w in WORDS),
    _event([{"index": 0, "delta": {}, "finish_reason": "stop"}]),
    _event([], USAGE),
    b"data: [DONE]\n\n",
)
MODELS = _dumps({"object": "list", "data": [{"id": MODEL, "object": "model", "owned_by": "bench"}]})

JSON_HEADERS = [(b"content-type", b"application/json")]
SSE_HEADERS = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")]


def wants_stream(body: bytes) -> bool:
    """True when the JSON request body sets ``"stream": true`` (any spacing); False for bad JSON."""
    if b'"stream"' not in body:
        return False
    try:
        obj = json.loads(body)
    except ValueError:
        return False
    return isinstance(obj, dict) and obj.get("stream") is True


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    body = await http_request_body(scope, receive, send)
    if body is None:
        return
    if scope["method"] != "POST":
        await send({"type": "http.response.start", "status": 200, "headers": JSON_HEADERS})
        await send({"type": "http.response.body", "body": MODELS})
        return
    if not wants_stream(body):
        await send({"type": "http.response.start", "status": 200, "headers": JSON_HEADERS})
        await send({"type": "http.response.body", "body": COMPLETION})
        return
    await send({"type": "http.response.start", "status": 200, "headers": SSE_HEADERS})
    last = len(STREAM_EVENTS) - 1
    for i, ev in enumerate(STREAM_EVENTS):
        await send({"type": "http.response.body", "body": ev, "more_body": i < last})


def main() -> None:
    import uvicorn

    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=9100)
    a = p.parse_args()
    uvicorn.run(
        app,
        host=a.host,
        port=a.port,
        loop="uvloop",
        http="httptools",
        log_level="warning",
        access_log=False,
        server_header=False,
        date_header=False,
        lifespan="on",
    )


if __name__ == "__main__":
    main()
