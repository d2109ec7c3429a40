"""Test support for the gateway tests: a fake OpenAI/Anthropic upstream and a gateway,
each served by uvicorn on a real port in a background thread.

The fake upstream's behaviour is chosen by the model name:
  fake-*            a normal answer (TEXT, usage 23 in / 7 out)
  fake-reasoning    reasoning content, logprobs, and (Anthropic) a thinking block
  fake-500/429/400  that HTTP error in the API's format
  fake-slow         answers after 3 s (tests use a short read timeout -> 504)
  fake-drop         streams two events, then drops the connection
  fake-slowstream   200 deltas, 20 ms apart (for client disconnects)
  fake-nousage      a stream without any usage
"""

from __future__ import annotations

import asyncio
import functools
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anthropic
import openai
import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from hydrawatch.bench.asgi_upstream import anthropic_message
from hydrawatch.gateway.app import build_app
from hydrawatch.gateway.config import GatewayConfig, UpstreamConfig, parse_config
from hydrawatch.gateway.state import GatewayState

WORDS = ["Hello", " from", " the", " fake", " upstream", " model", "."]
TEXT = "".join(WORDS)
THINKING = ["Let me", " think", " step by step."]
IN_TOKENS = 23
OUT_TOKENS = len(WORDS)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Seen:
    """What the fake upstream received."""

    bodies: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    disconnected: int = 0


def _sse(obj: Any, event: str | None = None) -> bytes:
    head = f"event: {event}\n".encode() if event else b""
    return head + b"data: " + orjson.dumps(obj) + b"\n\n"


def _err_openai(status: int, msg: str) -> Response:
    return JSONResponse(
        {"error": {"message": msg, "type": "server_error" if status >= 500 else "invalid_request_error"}},
        status_code=status,
        headers={"retry-after": "7"} if status == 429 else None,
    )


def _err_anthropic(status: int, msg: str) -> Response:
    kind = {400: "invalid_request_error", 429: "rate_limit_error"}.get(status, "api_error")
    return JSONResponse(
        {"type": "error", "error": {"type": kind, "message": msg}},
        status_code=status,
        headers={"retry-after": "7"} if status == 429 else None,
    )


def fake_upstream(seen: Seen) -> Starlette:
    async def common(request: Request, anthropic: bool) -> tuple[dict[str, Any], str, Response | None]:
        body = orjson.loads(await request.body())
        seen.bodies.append(body)
        seen.headers.append(dict(request.headers))
        seen.paths.append(request.url.path)
        model = str(body.get("model", ""))
        err = _err_anthropic if anthropic else _err_openai
        for code in (500, 429, 400):
            if model == f"fake-{code}":
                return body, model, err(code, f"fake upstream says {code}")
        if model == "fake-slow":
            await asyncio.sleep(3.0)
        return body, model, None

    def _delays(model: str) -> tuple[list[str], float]:
        if model == "fake-slowstream":
            return ["tok "] * 200, 0.02
        return WORDS, 0.0

    async def chat(request: Request) -> Response:
        body, model, early = await common(request, anthropic=False)
        if early is not None:
            return early
        reasoning = model == "fake-reasoning"
        usage = {
            "prompt_tokens": IN_TOKENS,
            "completion_tokens": OUT_TOKENS,
            "total_tokens": IN_TOKENS + OUT_TOKENS,
        }
        if not body.get("stream"):
            msg: dict[str, Any] = {"role": "assistant", "content": TEXT}
            if reasoning:
                msg["reasoning_content"] = "".join(THINKING)
            choice: dict[str, Any] = {"index": 0, "message": msg, "finish_reason": "stop", "logprobs": None}
            if reasoning:
                choice["logprobs"] = {"content": [{"token": "Hello", "logprob": -0.1, "top_logprobs": []}]}
            return JSONResponse(
                {
                    "id": "chatcmpl-fake",
                    "object": "chat.completion",
                    "created": 1_700_000_000,
                    "model": model,
                    "choices": [choice],
                    "usage": usage,
                }
            )
        include = isinstance(body.get("stream_options"), dict) and body["stream_options"].get("include_usage")
        words, delay = _delays(model)

        async def gen() -> AsyncIterator[bytes]:
            base = {
                "id": "chatcmpl-fake",
                "object": "chat.completion.chunk",
                "created": 1_700_000_000,
                "model": model,
            }
            extra = {"usage": None} if include else {}
            try:
                yield _sse(
                    {
                        **base,
                        **extra,
                        "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}],
                    }
                )
                if reasoning:
                    for t in THINKING:
                        yield _sse(
                            {**base, **extra, "choices": [{"index": 0, "delta": {"reasoning_content": t}}]}
                        )
                for i, w in enumerate(words):
                    if model == "fake-drop" and i == 2:
                        raise RuntimeError("fake upstream drops the stream")
                    ch: dict[str, Any] = {"index": 0, "delta": {"content": w}, "finish_reason": None}
                    if reasoning:
                        ch["logprobs"] = {"content": [{"token": w, "logprob": -0.5, "top_logprobs": []}]}
                    yield _sse({**base, **extra, "choices": [ch]})
                    if delay:
                        await asyncio.sleep(delay)
                yield _sse({**base, **extra, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
                if include and model != "fake-nousage":
                    yield _sse({**base, "choices": [], "usage": {**usage, "completion_tokens": len(words)}})
                yield b"data: [DONE]\n\n"
            except asyncio.CancelledError:
                seen.disconnected += 1
                raise

        return StreamingResponse(gen(), media_type="text/event-stream")

    async def completions(request: Request) -> Response:
        body, model, early = await common(request, anthropic=False)
        if early is not None:
            return early
        usage = {
            "prompt_tokens": IN_TOKENS,
            "completion_tokens": OUT_TOKENS,
            "total_tokens": IN_TOKENS + OUT_TOKENS,
        }
        base = {"id": "cmpl-fake", "object": "text_completion", "created": 1_700_000_000, "model": model}
        if not body.get("stream"):
            return JSONResponse(
                {
                    **base,
                    "choices": [{"index": 0, "text": TEXT, "finish_reason": "stop", "logprobs": None}],
                    "usage": usage,
                }
            )
        include = isinstance(body.get("stream_options"), dict) and body["stream_options"].get("include_usage")

        async def gen() -> AsyncIterator[bytes]:
            for w in WORDS:
                yield _sse(
                    {**base, "choices": [{"index": 0, "text": w, "finish_reason": None, "logprobs": None}]}
                )
            if include:
                yield _sse({**base, "choices": [], "usage": usage})
            yield b"data: [DONE]\n\n"

        return StreamingResponse(gen(), media_type="text/event-stream")

    def _response_obj(model: str, status: str, text: str | None) -> dict[str, Any]:
        out = []
        if text is not None:
            out = [
                {
                    "type": "message",
                    "id": "msg_fake",
                    "status": "completed",
                    "role": "assistant",
                    "content": [{"type": "output_text", "text": text, "annotations": []}],
                }
            ]
        return {
            "id": "resp_fake",
            "object": "response",
            "created_at": 1_700_000_000,
            "status": status,
            "model": model,
            "output": out,
            "parallel_tool_calls": True,
            "tool_choice": "auto",
            "tools": [],
            "usage": {
                "input_tokens": IN_TOKENS,
                "output_tokens": OUT_TOKENS,
                "total_tokens": IN_TOKENS + OUT_TOKENS,
                "input_tokens_details": {"cached_tokens": 0},
                "output_tokens_details": {"reasoning_tokens": 0},
            }
            if status == "completed"
            else None,
        }

    async def responses(request: Request) -> Response:
        body, model, early = await common(request, anthropic=False)
        if early is not None:
            return early
        if not body.get("stream"):
            return JSONResponse(_response_obj(model, "completed", TEXT))

        async def gen() -> AsyncIterator[bytes]:
            n = 0

            def ev(kind: str, **kw: Any) -> bytes:
                nonlocal n
                n += 1
                return _sse({"type": kind, "sequence_number": n, **kw}, kind)

            yield ev("response.created", response=_response_obj(model, "in_progress", None))
            for w in WORDS:
                yield ev(
                    "response.output_text.delta", item_id="msg_fake", output_index=0, content_index=0, delta=w
                )
            yield ev("response.completed", response=_response_obj(model, "completed", TEXT))

        return StreamingResponse(gen(), media_type="text/event-stream")

    async def messages(request: Request) -> Response:
        body, model, early = await common(request, anthropic=True)
        if early is not None:
            return early
        reasoning = model == "fake-reasoning"
        if not body.get("stream"):
            content: list[dict[str, Any]] = []
            if reasoning:
                content.append({"type": "thinking", "thinking": "".join(THINKING), "signature": "sig"})
            content.append({"type": "text", "text": TEXT})
            return JSONResponse(anthropic_message("msg_fake", model, content, IN_TOKENS, OUT_TOKENS))
        words, delay = _delays(model)

        async def gen() -> AsyncIterator[bytes]:
            msg = anthropic_message("msg_fake", model, None, IN_TOKENS, 1)
            try:
                yield _sse({"type": "message_start", "message": msg}, "message_start")
                idx = 0
                if reasoning:
                    start = {
                        "type": "content_block_start",
                        "index": 0,
                        "content_block": {"type": "thinking", "thinking": ""},
                    }
                    yield _sse(start, "content_block_start")
                    for t in THINKING:
                        d = {
                            "type": "content_block_delta",
                            "index": 0,
                            "delta": {"type": "thinking_delta", "thinking": t},
                        }
                        yield _sse(d, "content_block_delta")
                    sig = {
                        "type": "content_block_delta",
                        "index": 0,
                        "delta": {"type": "signature_delta", "signature": "s"},
                    }
                    yield _sse(sig, "content_block_delta")
                    yield _sse({"type": "content_block_stop", "index": 0}, "content_block_stop")
                    idx = 1
                start = {
                    "type": "content_block_start",
                    "index": idx,
                    "content_block": {"type": "text", "text": ""},
                }
                yield _sse(start, "content_block_start")
                yield _sse({"type": "ping"}, "ping")
                for i, w in enumerate(words):
                    if model == "fake-drop" and i == 2:
                        raise RuntimeError("fake upstream drops the stream")
                    d = {
                        "type": "content_block_delta",
                        "index": idx,
                        "delta": {"type": "text_delta", "text": w},
                    }
                    yield _sse(d, "content_block_delta")
                    if delay:
                        await asyncio.sleep(delay)
                yield _sse({"type": "content_block_stop", "index": idx}, "content_block_stop")
                out_usage = {} if model == "fake-nousage" else {"usage": {"output_tokens": len(words)}}
                md = {
                    "type": "message_delta",
                    "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                    **out_usage,
                }
                yield _sse(md, "message_delta")
                yield _sse({"type": "message_stop"}, "message_stop")
            except asyncio.CancelledError:
                seen.disconnected += 1
                raise

        return StreamingResponse(gen(), media_type="text/event-stream")

    async def count_tokens(request: Request) -> Response:
        seen.paths.append(request.url.path)
        return JSONResponse({"input_tokens": IN_TOKENS})

    async def models(request: Request) -> Response:
        ids = ["fake-a", "fake-b", "other-c"]
        if "anthropic-version" in request.headers:
            data = [
                {"type": "model", "id": i, "display_name": i, "created_at": "2025-01-01T00:00:00Z"}
                for i in ids
            ]
            return JSONResponse({"data": data, "has_more": False, "first_id": ids[0], "last_id": ids[-1]})
        return JSONResponse(
            {
                "object": "list",
                "data": [{"id": i, "object": "model", "created": 0, "owned_by": "fake"} for i in ids],
            }
        )

    return Starlette(
        routes=[
            Route("/v1/chat/completions", chat, methods=["POST"]),
            Route("/v1/completions", completions, methods=["POST"]),
            Route("/v1/responses", responses, methods=["POST"]),
            Route("/v1/messages", messages, methods=["POST"]),
            Route("/v1/messages/count_tokens", count_tokens, methods=["POST"]),
            Route("/v1/models", models, methods=["GET"]),
        ]
    )


class ServerThread:
    """An ASGI app on 127.0.0.1:<free port>, served by uvicorn in a thread."""

    def __init__(self, app: Any) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            access_log=False,
            lifespan="on",
            loop="asyncio",
            proxy_headers=False,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> ServerThread:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("server did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.should_exit = True
        self.thread.join(60)


class GatewayServer(ServerThread):
    """The gateway app on a real port; ``call`` runs a coroutine on its event loop."""

    def __init__(self, config: GatewayConfig) -> None:
        self.app = build_app(config)
        self.config = config
        super().__init__(self.app)

    @property
    def gw(self) -> GatewayState:
        gw: GatewayState = self.app.state.gw
        return gw

    def call(self, fn: Callable[[GatewayState], Coroutine[Any, Any, Any]], timeout: float = 10.0) -> Any:
        loop: asyncio.AbstractEventLoop = self.app.state.loop
        return asyncio.run_coroutine_threadsafe(fn(self.gw), loop).result(timeout)

    def drain(self) -> None:
        self.call(lambda gw: gw.drain(), timeout=60.0)

    def new_key(self, account_id: str) -> str:
        key, _ = self.call(lambda gw: gw.keys.create_key(account_id))
        return str(key)

    def events(self) -> list[dict[str, Any]]:
        """The recorded events (DuckDB, embedded mode), after draining the queue."""
        import duckdb

        self.drain()
        path = self.config.state_dir / "events.duckdb"
        if not path.exists():
            return []
        for attempt in range(50):  # the writer thread may hold the file for a moment
            try:
                con = duckdb.connect(str(path), read_only=True)
            except duckdb.Error:
                if attempt == 49:
                    raise
                time.sleep(0.05)
                continue
            try:
                cur = con.execute("SELECT * FROM events ORDER BY ts")
                cols = [d[0] for d in cur.description]
                return [dict(zip(cols, row, strict=True)) for row in cur.fetchall()]
            finally:
                con.close()
        return []


def gateway_config(state_dir: Path, upstream_url: str, **raw: Any) -> GatewayConfig:
    """A test config: embedded state in ``state_dir``, one upstream, admin token ``admin-secret``."""
    doc: dict[str, Any] = {
        "state_dir": str(state_dir),
        "admin_token": "admin-secret",
        "decision_token": "decide-secret",
        "keys": {"cache_seconds": 0},
        "live_scoring": False,
        "record": {"flush_seconds": 0.05},
    }
    doc.update(raw)
    cfg = parse_config(doc, "<test>")
    if not cfg.upstreams:
        cfg = cfg.with_overrides(upstreams=(UpstreamConfig(base_url=upstream_url + "/v1", name="fake"),))
    return cfg


def run_servers(seen: Seen | None = None) -> Iterator[tuple[ServerThread, Seen]]:
    s = seen or Seen()
    with ServerThread(fake_upstream(s)) as up:
        yield up, s


@functools.cache
def _oai(url: str, key: str) -> openai.OpenAI:  # SDK clients are cached: each new one costs ~0.2 s
    return openai.OpenAI(base_url=url + "/v1", api_key=key, max_retries=0)


@functools.cache
def _ant(url: str, key: str) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=url, api_key=key, max_retries=0)


def oai(gateway: GatewayServer, key: str) -> openai.OpenAI:
    return _oai(gateway.url, key)


def ant(gateway: GatewayServer, key: str) -> anthropic.Anthropic:
    return _ant(gateway.url, key)
