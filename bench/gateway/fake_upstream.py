"""A minimal, fast OpenAI/Anthropic-compatible upstream for gateway benchmarks.

Raw ASGI (no framework) so the upstream adds as little as possible to what is measured.
``python bench/gateway/fake_upstream.py --port 9100``
"""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any

from hydrawatch.bench.asgi_upstream import read_body, serve_lifespan

WORDS = ["Hello", " from", " the", " bench", " upstream", "."] * 4
CHAT = json.dumps(
    {
        "id": "chatcmpl-bench",
        "object": "chat.completion",
        "created": 1700000000,
        "model": "bench",
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": "".join(WORDS)}, "finish_reason": "stop"}
        ],
        "usage": {"prompt_tokens": 20, "completion_tokens": len(WORDS), "total_tokens": 20 + len(WORDS)},
    }
).encode()


def _chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
    obj = {
        "id": "chatcmpl-bench",
        "object": "chat.completion.chunk",
        "created": 1700000000,
        "model": "bench",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    return b"data: " + json.dumps(obj).encode() + b"\n\n"


USAGE_CHUNK = (
    b"data: "
    + json.dumps(
        {
            "id": "chatcmpl-bench",
            "object": "chat.completion.chunk",
            "created": 1700000000,
            "model": "bench",
            "choices": [],
            "usage": {"prompt_tokens": 20, "completion_tokens": len(WORDS), "total_tokens": 44},
        }
    ).encode()
    + b"\n\n"
)


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        await serve_lifespan(receive, send)
        return
    body = await read_body(receive)
    if body is None:
        return
    stream = b'"stream": true' in body or b'"stream":true' in body
    if not stream:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": CHAT})
        return
    await send(
        {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/event-stream")]}
    )
    await send(
        {
            "type": "http.response.body",
            "body": _chunk({"role": "assistant", "content": ""}),
            "more_body": True,
        }
    )
    for w in WORDS:
        await send({"type": "http.response.body", "body": _chunk({"content": w}), "more_body": True})
        await asyncio.sleep(0.001)
    tail = _chunk({}, "stop")
    if b"include_usage" in body:
        tail += USAGE_CHUNK
    await send({"type": "http.response.body", "body": tail + b"data: [DONE]\n\n", "more_body": False})


def main() -> None:
    import uvicorn

    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, default=9100)
    a = p.parse_args()
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=a.port,
        loop="uvloop",
        http="httptools",
        log_level="warning",
        access_log=False,
    )


if __name__ == "__main__":
    main()
