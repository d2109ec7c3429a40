"""Plumbing shared by the benchmarks' and tests' stand-in LLM upstreams (raw ASGI apps).

Each stand-in answers differently (fixed text, recorded usage, injected faults), but all of
them run the ASGI lifespan the same way, read a request body the same way and frame
server-sent events the same way; that part lives here.
"""

from __future__ import annotations

from typing import Any

import orjson


async def serve_lifespan(receive: Any, send: Any) -> None:
    """Answer the ASGI lifespan protocol until shutdown."""
    while True:
        msg = await receive()
        if msg["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif msg["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def read_body(receive: Any) -> bytes | None:
    """The whole request body; None when the client went away first."""
    chunks: list[bytes] = []
    more = True
    while more:
        msg = await receive()
        if msg["type"] == "http.disconnect":
            return None
        chunks.append(msg.get("body", b""))
        more = bool(msg.get("more_body", False))
    return b"".join(chunks)


def sse(obj: Any, event: str | None = None) -> bytes:
    """One server-sent event carrying ``obj`` as JSON (with an ``event:`` line when named)."""
    head = f"event: {event}\n".encode() if event else b""
    return head + b"data: " + orjson.dumps(obj) + b"\n\n"


async def http_request_body(scope: Any, receive: Any, send: Any) -> bytes | None:
    """The body of an HTTP request; None (after serving it) for lifespan or anything else."""
    if scope["type"] == "lifespan":
        await serve_lifespan(receive, send)
        return None
    if scope["type"] != "http":
        return None
    return await read_body(receive)


def anthropic_message(
    msg_id: str, model: str, content: list[dict[str, Any]] | None, input_tokens: int, output_tokens: int
) -> dict[str, Any]:
    """An Anthropic Messages API message: a whole answer (``content`` blocks, ``end_turn``), or
    with ``content=None`` the still-empty message a stream's ``message_start`` carries."""
    return {
        "id": msg_id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content or [],
        "stop_reason": "end_turn" if content is not None else None,
        "stop_sequence": None,
        "usage": {"input_tokens": input_tokens, "output_tokens": output_tokens},
    }
