"""The upstream of the protection replay: answers each recorded exchange with its own usage.

A plan file (``id<TAB>status<TAB>input_tokens<TAB>output_tokens`` per line) says, for each
replayed exchange (the request's ``x-request-id``, which the gateway forwards), what the real
upstream answered: the same status (429 / 500 for the exchanges that failed when recorded)
and, for a 200, usage with the recorded input tokens and the recorded output tokens capped
by the request's own ``max_tokens`` / ``max_completion_tokens`` (the gateway lowers it when
it degrades a request). OpenAI chat and Anthropic messages, streamed or not. The text is a
placeholder: the usage is what the benchmark counts.

``GET /ledger`` answers ``{id: output tokens produced}`` for every 200 it sent: what the
clients harvested.

    python bench/protection/replay_upstream.py --plan plan.tsv --port 9300
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Awaitable, Callable
from typing import Any

from hydrawatch.bench.asgi_upstream import anthropic_message, http_request_body, sse

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

JSON = [(b"content-type", b"application/json")]
SSE = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")]
TEXT = "(replayed answer)"


def _dumps(obj: object) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


class Plan:
    def __init__(self, path: str) -> None:
        self.rows: dict[str, tuple[int, int, int]] = {}
        with open(path, encoding="utf-8") as f:
            for line in f:
                rid, status, inp, out = line.rstrip("\n").split("\t")
                self.rows[rid] = (int(status), int(inp), int(out))
        self.produced: dict[str, int] = {}
        self.unknown = 0


def _cap(body: dict[str, Any], out: int) -> int:
    for k in ("max_completion_tokens", "max_tokens"):
        v = body.get(k)
        if isinstance(v, int) and not isinstance(v, bool) and v > 0:
            return min(out, v)
    return out


def _error(status: int, anthropic: bool) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    headers = [*JSON, (b"retry-after", b"1")] if status == 429 else JSON
    if anthropic:
        kind = "rate_limit_error" if status == 429 else "api_error"
        return status, headers, _dumps({"type": "error", "error": {"type": kind, "message": "recorded"}})
    return status, headers, _dumps({"error": {"message": "recorded", "type": "server_error"}})


def openai_whole(model: str, inp: int, out: int) -> bytes:
    return _dumps(
        {
            "id": "chatcmpl-replay",
            "object": "chat.completion",
            "created": 1700000000,
            "model": model,
            "choices": [
                {"index": 0, "message": {"role": "assistant", "content": TEXT}, "finish_reason": "stop"}
            ],
            "usage": {"prompt_tokens": inp, "completion_tokens": out, "total_tokens": inp + out},
        }
    )


def openai_stream(model: str, inp: int, out: int, usage: bool) -> list[bytes]:
    base = {"id": "chatcmpl-replay", "object": "chat.completion.chunk", "created": 1700000000, "model": model}

    def ev(obj: dict[str, Any]) -> bytes:
        return b"data: " + _dumps({**base, **obj}) + b"\n\n"

    events = [
        ev(
            {
                "choices": [
                    {"index": 0, "delta": {"role": "assistant", "content": TEXT}, "finish_reason": None}
                ]
            }
        ),
        ev({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}),
    ]
    if usage:
        u = {"prompt_tokens": inp, "completion_tokens": out, "total_tokens": inp + out}
        events.append(ev({"choices": [], "usage": u}))
    events.append(b"data: [DONE]\n\n")
    return events


def anthropic_whole(model: str, inp: int, out: int) -> bytes:
    return _dumps(anthropic_message("msg_replay", model, [{"type": "text", "text": TEXT}], inp, out))


def anthropic_stream(model: str, inp: int, out: int) -> list[bytes]:
    def ev(kind: str, obj: dict[str, Any]) -> bytes:
        return sse({"type": kind, **obj}, kind)

    msg = anthropic_message("msg_replay", model, None, inp, 1)
    return [
        ev("message_start", {"message": msg}),
        ev("content_block_start", {"index": 0, "content_block": {"type": "text", "text": ""}}),
        ev("content_block_delta", {"index": 0, "delta": {"type": "text_delta", "text": TEXT}}),
        ev("content_block_stop", {"index": 0}),
        ev(
            "message_delta",
            {"delta": {"stop_reason": "end_turn", "stop_sequence": None}, "usage": {"output_tokens": out}},
        ),
        ev("message_stop", {}),
    ]


def make_app(plan: Plan) -> Callable[[Scope, Receive, Send], Awaitable[None]]:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        raw = await http_request_body(scope, receive, send)
        if raw is None:
            return
        if scope["method"] == "GET":
            body = _dumps(plan.produced) if scope["path"] == "/ledger" else b'{"object":"list","data":[]}'
            await send({"type": "http.response.start", "status": 200, "headers": JSON})
            await send({"type": "http.response.body", "body": body})
            return
        headers = dict(scope["headers"])
        rid = headers.get(b"x-request-id", b"").decode()
        anthropic = scope["path"].endswith("/messages")
        req = json.loads(raw or b"{}")
        row = plan.rows.get(rid)
        if row is None:
            plan.unknown += 1
            row = (200, 10, 10)
        status, inp, out = row
        if status != 200:
            code, hdrs, body = _error(status, anthropic)
            await send({"type": "http.response.start", "status": code, "headers": hdrs})
            await send({"type": "http.response.body", "body": body})
            return
        out = _cap(req, out)
        plan.produced[rid] = out
        model = str(req.get("model", "replay"))
        if not req.get("stream"):
            body = anthropic_whole(model, inp, out) if anthropic else openai_whole(model, inp, out)
            await send({"type": "http.response.start", "status": 200, "headers": JSON})
            await send({"type": "http.response.body", "body": body})
            return
        so = req.get("stream_options")
        events = (
            anthropic_stream(model, inp, out)
            if anthropic
            else openai_stream(model, inp, out, isinstance(so, dict) and so.get("include_usage") is True)
        )
        await send({"type": "http.response.start", "status": 200, "headers": SSE})
        await send({"type": "http.response.body", "body": b"".join(events)})

    return app


def main() -> None:
    import uvicorn

    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--plan", required=True)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=9300)
    a = p.parse_args()
    uvicorn.run(
        make_app(Plan(a.plan)),
        host=a.host,
        port=a.port,
        loop="uvloop",
        http="httptools",
        log_level="warning",
        access_log=False,
        lifespan="on",
    )


if __name__ == "__main__":
    main()
