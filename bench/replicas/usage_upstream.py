"""A fake OpenAI/Anthropic upstream that keeps the ground truth of the usage it produced.

Real usage differs from any estimate the gateway can make: input tokens are
``ceil(prompt chars / r)`` with ``r`` drawn per request from ``[ratio_low, ratio_high]``
(chars per token; English is about 4), output tokens are drawn per choice from
``[max_tokens / 4, max_tokens]``. Output is streamed as 4-character tokens, ``TOKENS_PER_EVENT``
per event, so "what was sent" has an exact token count.

A request is identified by ``tag=<id>`` in its last user message. ``cancel=<k>`` makes a
stream stop after ``k`` content events and wait for the client to go away (so the client
receives exactly what was sent). ``GET /truth`` returns, per tag: input, output sent,
whether the stream completed, and the API.

``python bench/replicas/usage_upstream.py --port 9200 [--ratio-low 3.2 --ratio-high 4.8]``
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import math
import re
from dataclasses import asdict, dataclass, field
from typing import Any

import orjson

from hydrawatch.bench.asgi_upstream import read_body, serve_lifespan, sse

TOKEN = "tok "  # one output token: exactly 4 characters
TOKENS_PER_EVENT = 8
_TAG = re.compile(r"tag=([A-Za-z0-9_-]+)")
_CANCEL = re.compile(r"cancel=(\d+)")


@dataclass
class Truth:
    api: str
    input_tokens: int
    output_sent: int = 0
    complete: bool = False
    stream: bool = False


@dataclass
class Ledger:
    """Everything the upstream produced, by request tag."""

    ratio_low: float = 3.2
    ratio_high: float = 4.8
    truth: dict[str, Truth] = field(default_factory=dict)

    def as_json(self) -> bytes:
        return orjson.dumps({tag: asdict(t) for tag, t in self.truth.items()})


def _unit(tag: str, salt: str) -> float:
    """A deterministic number in [0, 1) from a request tag."""
    h = hashlib.blake2b(f"{salt}:{tag}".encode(), digest_size=8).digest()
    return int.from_bytes(h, "big") / 2.0**64


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return ""


def _prompt(body: dict[str, Any]) -> tuple[str, str]:
    """(all prompt text, the last user message)."""
    parts: list[str] = []
    last_user = ""
    system = body.get("system")
    if isinstance(system, str):
        parts.append(system)
    for m in body.get("messages") or []:
        if isinstance(m, dict):
            t = _text_of(m.get("content"))
            parts.append(t)
            if m.get("role") == "user":
                last_user = t
    return "".join(parts), last_user


class UsageUpstream:
    """The raw ASGI app (``/v1/chat/completions``, ``/v1/messages``, ``GET /truth``)."""

    def __init__(self, ledger: Ledger | None = None) -> None:
        self.ledger = ledger or Ledger()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await serve_lifespan(receive, send)
            return
        path = scope["path"]
        if scope["method"] == "GET" and path == "/truth":
            await self._json(send, 200, self.ledger.as_json())
            return
        if scope["method"] == "DELETE" and path == "/truth":
            self.ledger.truth.clear()
            await self._json(send, 200, b"{}")
            return
        raw = await read_body(receive)
        if raw is None:
            return
        body = orjson.loads(raw)
        api = "anthropic" if path.endswith("/messages") else "openai"
        text, last_user = _prompt(body)
        m = _TAG.search(last_user)
        tag = m.group(1) if m else f"untagged-{len(self.ledger.truth)}"
        c = _CANCEL.search(last_user)
        cancel_after = int(c.group(1)) if c else None
        r = self.ledger.ratio_low + (self.ledger.ratio_high - self.ledger.ratio_low) * _unit(tag, "in")
        truth = Truth(api, max(1, math.ceil(len(text) / r)), stream=bool(body.get("stream")))
        self.ledger.truth[tag] = truth
        cap = body.get("max_tokens") or body.get("max_completion_tokens") or 256
        n = (body.get("n") or 1) if api == "openai" else 1
        outs = [max(1, round(cap * (0.25 + 0.75 * _unit(tag, f"out{i}")))) for i in range(int(n))]
        if not body.get("stream"):
            truth.output_sent = sum(outs)
            truth.complete = True
            await self._json(send, 200, orjson.dumps(self._whole(api, body, truth, outs)))
            return
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"text/event-stream")],
            }
        )
        if api == "anthropic":
            await self._anthropic_stream(send, receive, body, truth, outs[0], cancel_after)
        else:
            await self._openai_stream(send, receive, body, truth, outs, cancel_after)

    @staticmethod
    async def _json(send: Any, status: int, payload: bytes) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": payload})

    @staticmethod
    def _whole(api: str, body: dict[str, Any], truth: Truth, outs: list[int]) -> dict[str, Any]:
        model = body.get("model", "m")
        if api == "anthropic":
            return {
                "id": "msg_u",
                "type": "message",
                "role": "assistant",
                "model": model,
                "content": [{"type": "text", "text": TOKEN * outs[0]}],
                "stop_reason": "end_turn",
                "stop_sequence": None,
                "usage": {"input_tokens": truth.input_tokens, "output_tokens": outs[0]},
            }
        return {
            "id": "chatcmpl-u",
            "object": "chat.completion",
            "created": 1_700_000_000,
            "model": model,
            "choices": [
                {"index": i, "message": {"role": "assistant", "content": TOKEN * o}, "finish_reason": "stop"}
                for i, o in enumerate(outs)
            ],
            "usage": {
                "prompt_tokens": truth.input_tokens,
                "completion_tokens": sum(outs),
                "total_tokens": truth.input_tokens + sum(outs),
            },
        }

    @staticmethod
    async def _wait_gone(receive: Any, timeout: float = 60.0) -> None:
        """Stall a stream until the client (the gateway) disconnects."""
        try:
            async with asyncio.timeout(timeout):
                while (await receive())["type"] != "http.disconnect":
                    pass
        except TimeoutError:
            pass

    async def _openai_stream(
        self, send: Any, receive: Any, body: dict[str, Any], truth: Truth, outs: list[int], cancel: int | None
    ) -> None:
        base = {"id": "chatcmpl-u", "object": "chat.completion.chunk", "created": 1_700_000_000}
        base["model"] = body.get("model", "m")

        async def put(obj: dict[str, Any]) -> None:
            await send({"type": "http.response.body", "body": sse(obj), "more_body": True})

        await put(
            {
                **base,
                "choices": [
                    {"index": i, "delta": {"role": "assistant", "content": ""}} for i in range(len(outs))
                ],
            }
        )
        events = 0
        for i, total in enumerate(outs):
            left = total
            while left > 0:
                if cancel is not None and events >= cancel:
                    await self._wait_gone(receive)
                    return
                k = min(TOKENS_PER_EVENT, left)
                truth.output_sent += k
                left -= k
                events += 1
                await put(
                    {
                        **base,
                        "choices": [{"index": i, "delta": {"content": TOKEN * k}, "finish_reason": None}],
                    }
                )
                await asyncio.sleep(0)
        for i in range(len(outs)):
            await put({**base, "choices": [{"index": i, "delta": {}, "finish_reason": "stop"}]})
        so = body.get("stream_options")
        if isinstance(so, dict) and so.get("include_usage"):
            usage = {
                "prompt_tokens": truth.input_tokens,
                "completion_tokens": sum(outs),
                "total_tokens": truth.input_tokens + sum(outs),
            }
            await put({**base, "choices": [], "usage": usage})
        truth.complete = True
        await send({"type": "http.response.body", "body": b"data: [DONE]\n\n", "more_body": False})

    async def _anthropic_stream(
        self, send: Any, receive: Any, body: dict[str, Any], truth: Truth, out: int, cancel: int | None
    ) -> None:
        async def put(obj: dict[str, Any], more: bool = True) -> None:
            await send({"type": "http.response.body", "body": sse(obj, obj["type"]), "more_body": more})

        msg = {
            "id": "msg_u",
            "type": "message",
            "role": "assistant",
            "model": body.get("model", "m"),
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": truth.input_tokens, "output_tokens": 1},
        }
        await put({"type": "message_start", "message": msg})
        await put({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}})
        left = out
        events = 0
        while left > 0:
            if cancel is not None and events >= cancel:
                await self._wait_gone(receive)
                return
            k = min(TOKENS_PER_EVENT, left)
            truth.output_sent += k
            left -= k
            events += 1
            delta = {"type": "text_delta", "text": TOKEN * k}
            await put({"type": "content_block_delta", "index": 0, "delta": delta})
            await asyncio.sleep(0)
        await put({"type": "content_block_stop", "index": 0})
        delta_end = {"stop_reason": "end_turn", "stop_sequence": None}
        await put({"type": "message_delta", "delta": delta_end, "usage": {"output_tokens": out}})
        truth.complete = True
        await put({"type": "message_stop"}, more=False)


def main() -> None:
    import uvicorn

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--port", type=int, default=9200)
    p.add_argument("--ratio-low", type=float, default=3.2)
    p.add_argument("--ratio-high", type=float, default=4.8)
    a = p.parse_args()
    app = UsageUpstream(Ledger(a.ratio_low, a.ratio_high))
    uvicorn.run(app, host="127.0.0.1", port=a.port, log_level="warning", access_log=False, lifespan="on")


if __name__ == "__main__":
    main()
