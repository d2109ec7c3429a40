"""Upstream faults seen through the gateway, with the official SDKs: timeouts (504), 5xx
(502, or relayed with ``upstream_5xx: passthrough``), streams that stall or drop mid-way
(the client's stream ends with an error event in its API's format), and what is billed
for each (exactly what was sent; an upstream that failed before answering costs no tokens).

The fault upstream (raw ASGI) picks its behaviour from the model name:
  ok            a normal answer: IN_TOKENS in, OUT_EVENTS x 1-token deltas out
  stall-head    sleeps STALL seconds before answering (read timeout -> 504)
  stall-3       streams 3 deltas, then stalls (read timeout mid-stream)
  drop-3        streams 3 deltas, then drops the connection
  http-503      answers 503 in the API's error format
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import httpx
import openai
import orjson
import pytest

from hydrawatch.bench.asgi_upstream import anthropic_message, read_body, serve_lifespan, sse
from test_gateway_support import GatewayServer, ServerThread, gateway_config

IN_TOKENS = 31
OUT_EVENTS = 6
TOKEN = "tok "  # 4 characters: one token, also by the gateway's 4-characters estimate
STALL = 3.0
READ_TIMEOUT = 0.5


async def fault_upstream(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        await serve_lifespan(receive, send)
        return
    raw = await read_body(receive)
    if raw is None:
        return
    body = orjson.loads(raw)
    model = str(body.get("model"))
    anth = scope["path"].endswith("/messages")
    if model == "stall-head":
        await asyncio.sleep(STALL)
    if model == "http-503":
        err = (
            {"type": "error", "error": {"type": "overloaded_error", "message": "busy"}}
            if anth
            else {"error": {"message": "busy", "type": "server_error"}}
        )
        await send(
            {
                "type": "http.response.start",
                "status": 503,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": orjson.dumps(err)})
        return
    cut = (
        int(model.split("-")[1]) if model.startswith(("stall-", "drop-")) and model != "stall-head" else None
    )
    if not body.get("stream"):
        text = TOKEN * OUT_EVENTS
        doc: dict[str, Any] = (
            anthropic_message("msg_f", model, [{"type": "text", "text": text}], IN_TOKENS, OUT_EVENTS)
            if anth
            else {
                "id": "c",
                "object": "chat.completion",
                "created": 1,
                "model": model,
                "choices": [
                    {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
                ],
                "usage": {
                    "prompt_tokens": IN_TOKENS,
                    "completion_tokens": OUT_EVENTS,
                    "total_tokens": IN_TOKENS + OUT_EVENTS,
                },
            }
        )
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": orjson.dumps(doc)})
        return
    await send(
        {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/event-stream")]}
    )

    async def put(data: bytes) -> None:
        await send({"type": "http.response.body", "body": data, "more_body": True})

    base = {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": model}
    if anth:
        start = anthropic_message("msg_f", model, None, IN_TOKENS, 1)
        await put(sse({"type": "message_start", "message": start}, "message_start"))
        block = {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}
        await put(sse(block, "content_block_start"))
    else:
        await put(sse({**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]}))
    for i in range(OUT_EVENTS):
        if cut is not None and i == cut:
            if model.startswith("stall-"):
                await asyncio.sleep(STALL)
                return
            raise RuntimeError("fault upstream drops the stream")  # uvicorn cuts the connection
        if anth:
            d = {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": TOKEN}}
            await put(sse(d, "content_block_delta"))
        else:
            await put(
                sse({**base, "choices": [{"index": 0, "delta": {"content": TOKEN}, "finish_reason": None}]})
            )
    if anth:
        await put(sse({"type": "content_block_stop", "index": 0}, "content_block_stop"))
        md = {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn"},
            "usage": {"output_tokens": OUT_EVENTS},
        }
        await put(sse(md, "message_delta"))
        await put(sse({"type": "message_stop"}, "message_stop"))
    else:
        usage = {
            "prompt_tokens": IN_TOKENS,
            "completion_tokens": OUT_EVENTS,
            "total_tokens": IN_TOKENS + OUT_EVENTS,
        }
        await put(sse({**base, "choices": [], "usage": usage}))
        await put(b"data: [DONE]\n\n")
    await send({"type": "http.response.body", "body": b"", "more_body": False})


@pytest.fixture(scope="module")
def upstream() -> Iterator[ServerThread]:
    with ServerThread(fault_upstream) as up:
        yield up


def _gateway(tmp: Path, up: ServerThread, **raw: Any) -> GatewayServer:
    return GatewayServer(gateway_config(tmp, up.url, timeouts={"read": READ_TIMEOUT}, **raw))


@pytest.fixture(scope="module")
def gateway(upstream: ServerThread, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayServer]:
    with _gateway(tmp_path_factory.mktemp("faults"), upstream) as gw:
        yield gw


def _used(gw: GatewayServer, account: str) -> tuple[int, int]:
    """(tokens, requests) charged to ``account`` today."""
    rem = gw.call(lambda g: g.quota.remaining(account, None))
    tier = {"tokens-day": 10_000_000, "requests-day": 50_000}
    return tier["tokens-day"] - rem["tokens-day"], tier["requests-day"] - rem["requests-day"]


def _events(gw: GatewayServer, account: str) -> list[dict[str, Any]]:
    return [e for e in gw.events() if e["account_id"] == account]


def _oa(gw: GatewayServer, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=gw.url + "/v1", api_key=key, max_retries=0, timeout=30.0)


def _an(gw: GatewayServer, key: str) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=gw.url, api_key=key, max_retries=0, timeout=30.0)


MSG = [{"role": "user", "content": "hello there"}]


def test_read_timeout_is_504_in_each_format_and_costs_no_tokens(gateway: GatewayServer) -> None:
    key = gateway.new_key("acct-timeout")
    with pytest.raises(openai.InternalServerError) as oe:
        _oa(gateway, key).chat.completions.create(model="stall-head", messages=MSG, max_tokens=50)
    assert oe.value.status_code == 504
    assert oe.value.body is not None and oe.value.body["type"] == "timeout_error"  # type: ignore[index]
    with pytest.raises(anthropic.APIStatusError) as ae:
        _an(gateway, key).messages.create(model="stall-head", messages=MSG, max_tokens=50)  # type: ignore[arg-type]
    assert ae.value.status_code == 504
    assert ae.value.body == {
        "type": "error",
        "error": {"type": "timeout_error", "message": ae.value.body["error"]["message"]},
    }  # type: ignore[index]
    assert _used(gateway, "acct-timeout") == (0, 2)  # the estimate was released; the requests count
    assert sorted(e["status"] for e in _events(gateway, "acct-timeout")) == [504, 504]


def test_upstream_5xx_is_502_by_default(gateway: GatewayServer) -> None:
    key = gateway.new_key("acct-5xx")
    with pytest.raises(openai.InternalServerError) as oe:
        _oa(gateway, key).chat.completions.create(model="http-503", messages=MSG, max_tokens=50)
    assert oe.value.status_code == 502 and "503" in str(oe.value)
    r = httpx.post(
        gateway.url + "/v1/messages",
        json={"model": "http-503", "messages": MSG, "max_tokens": 50},
        headers={"x-api-key": key},
    )
    assert r.status_code == 502 and r.json()["type"] == "error" and r.json()["error"]["type"] == "api_error"
    assert _used(gateway, "acct-5xx") == (0, 2)


def test_upstream_5xx_passthrough(upstream: ServerThread, tmp_path: Path) -> None:
    with _gateway(tmp_path, upstream, upstream_5xx="passthrough") as gw:
        key = gw.new_key("acct-pass")
        r = httpx.post(
            gw.url + "/v1/messages",
            json={"model": "http-503", "messages": MSG, "max_tokens": 50},
            headers={"x-api-key": key},
        )
        assert r.status_code == 503 and r.json()["error"]["type"] == "overloaded_error"
        with pytest.raises(openai.InternalServerError) as oe:
            _oa(gw, key).chat.completions.create(model="http-503", messages=MSG, max_tokens=50)
        assert oe.value.status_code == 503


@pytest.mark.parametrize("fault", ["drop-3", "stall-3"])
def test_broken_openai_stream_ends_with_error_event_and_bills_what_was_sent(
    gateway: GatewayServer, fault: str
) -> None:
    account = f"acct-oa-{fault}"
    key = gateway.new_key(account)
    got: list[str] = []
    with pytest.raises(openai.APIError) as e:
        for chunk in _oa(gateway, key).chat.completions.create(
            model=fault, messages=MSG, max_tokens=50, stream=True
        ):
            got += [c.delta.content for c in chunk.choices if c.delta.content]
    assert got == [TOKEN] * 3  # everything sent before the fault reached the client
    want_status = 502 if fault.startswith("drop") else 504
    assert "upstream" in str(e.value).lower()
    ev = _events(gateway, account)
    assert [x["status"] for x in ev] == [want_status]
    assert ev[0]["output_tokens"] == 3
    # OpenAI reports prompt tokens only at the end: input is billed at the gateway's estimate
    tokens, requests = _used(gateway, account)
    assert requests == 1 and tokens > 3


@pytest.mark.parametrize("fault", ["drop-3", "stall-3"])
def test_broken_anthropic_stream_ends_with_error_event_and_bills_what_was_sent(
    gateway: GatewayServer, fault: str
) -> None:
    account = f"acct-an-{fault}"
    key = gateway.new_key(account)
    got: list[str] = []
    with pytest.raises(anthropic.APIError) as e:
        stream = _an(gateway, key).messages.create(model=fault, messages=MSG, max_tokens=50, stream=True)  # type: ignore[arg-type]
        for event in stream:
            if event.type == "content_block_delta":
                got.append(event.delta.text)  # type: ignore[union-attr]
    assert got == [TOKEN] * 3
    assert "upstream" in str(e.value).lower()
    want_status = 502 if fault.startswith("drop") else 504
    ev = _events(gateway, account)
    assert [x["status"] for x in ev] == [want_status]
    assert (ev[0]["input_tokens"], ev[0]["output_tokens"]) == (IN_TOKENS, 3)
    assert _used(gateway, account) == (IN_TOKENS + 3, 1)  # exactly what was sent


def test_raw_error_events_have_each_apis_shape(gateway: GatewayServer) -> None:
    key = gateway.new_key("acct-raw")
    with httpx.stream(
        "POST",
        gateway.url + "/v1/chat/completions",
        json={"model": "drop-3", "messages": MSG, "stream": True},
        headers={"authorization": f"Bearer {key}"},
    ) as r:
        lines = [ln for ln in r.iter_lines() if ln.startswith("data: ")]
    last = orjson.loads(lines[-1][6:])
    assert last["error"]["type"] == "upstream_error" and last["error"]["code"] == 502
    with httpx.stream(
        "POST",
        gateway.url + "/v1/messages",
        json={"model": "stall-3", "messages": MSG, "max_tokens": 20, "stream": True},
        headers={"x-api-key": key},
    ) as r:
        text = r.read().decode()
    tail = text.strip().split("\n\n")[-1]
    assert tail.startswith("event: error\ndata: ")
    assert orjson.loads(tail.split("data: ", 1)[1])["error"]["type"] == "timeout_error"


def test_a_healthy_call_still_bills_exactly(gateway: GatewayServer) -> None:
    key = gateway.new_key("acct-ok")
    out = _an(gateway, key).messages.create(model="ok", messages=MSG, max_tokens=50)  # type: ignore[arg-type]
    assert out.usage.output_tokens == OUT_EVENTS
    assert _used(gateway, "acct-ok") == (IN_TOKENS + OUT_EVENTS, 1)
