"""An upstream that closes idle keep-alive connections just as the gateway reuses them.

The upstream here answers the first request of every connection and closes the connection
when the next request arrives on it, without reading it: what a server whose idle timer
fires at that moment does. The gateway must send such a request once more, on a new
connection (the upstream never saw it), so the client gets its answer, and must not
resend a request that failed on a new connection (the upstream may have seen it)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import orjson
import pytest

from test_gateway_support import GatewayServer, free_port, gateway_config

ANSWER = orjson.dumps(
    {
        "id": "chatcmpl-ka",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": "fake-a",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4},
    }
)
STREAM = (
    b'data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"fake-a",'
    b'"choices":[{"index":0,"delta":{"content":"ok"},"finish_reason":null}]}\n\n'
    b'data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"fake-a","choices":[],'
    b'"usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4}}\n\n'
    b"data: [DONE]\n\n"
)


@dataclass
class IdleClosingUpstream:
    """Raw HTTP/1.1 upstream; ``drop_first`` closes even a connection's first request unread."""

    drop_first: bool = False
    port: int = field(default_factory=free_port)
    answered: list[str] = field(default_factory=list)  # x-request-id of every request answered
    dropped: int = 0
    connections: int = 0

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        served = 0
        try:
            while True:
                # wait for bytes or the end; the request may be buffered already (it can arrive
                # before this task first runs), and waiting then would wait for more for ever
                if not reader._buffer and not reader.at_eof():  # type: ignore[attr-defined]
                    await reader._wait_for_data("idle")  # type: ignore[attr-defined]
                if not reader._buffer:  # type: ignore[attr-defined]  # the client closed it
                    return
                if served >= 1 or self.drop_first:
                    self.dropped += 1  # the idle timer fired: close with the request unread
                    writer.transport.abort()
                    return
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                headers = {
                    k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:])
                }
                body = orjson.loads(await reader.readexactly(int(headers.get("content-length", "0"))))
                self.answered.append(headers.get("x-request-id", "?"))
                payload, ctype = (
                    (STREAM, "text/event-stream") if body.get("stream") else (ANSWER, "application/json")
                )
                writer.write(
                    b"HTTP/1.1 200 OK\r\ncontent-type: %s\r\ncontent-length: %d\r\n\r\n%s"
                    % (ctype.encode(), len(payload), payload)
                )
                await writer.drain()
                served += 1
        except (asyncio.IncompleteReadError, ConnectionError):
            return

    def __enter__(self) -> IdleClosingUpstream:
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()

        async def serve() -> None:
            self.server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)
            ready.set()

        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        asyncio.run_coroutine_threadsafe(serve(), self.loop)
        assert ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        self.loop.call_soon_threadsafe(self.server.close)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@pytest.fixture
def idle_closing() -> Iterator[IdleClosingUpstream]:
    with IdleClosingUpstream() as up:
        yield up


def _chat(http: httpx.Client, gw: GatewayServer, key: str, rid: str, stream: bool = False) -> httpx.Response:
    body = {"model": "fake-a", "messages": [{"role": "user", "content": "hi"}], "stream": stream}
    return http.post(
        gw.url + "/v1/chat/completions", json=body, headers={"x-api-key": key, "x-request-id": rid}
    )


def test_a_reused_connection_the_upstream_closed_is_retried_once(
    idle_closing: IdleClosingUpstream, tmp_path: Path
) -> None:
    with GatewayServer(gateway_config(tmp_path, idle_closing.url)) as gw, httpx.Client(timeout=10) as http:
        key = gw.new_key("acct-ka")
        ids = [f"req-{i}" for i in range(12)]
        statuses = [_chat(http, gw, key, rid, stream=i % 3 == 2).status_code for i, rid in enumerate(ids)]
        retries = gw.gw.http.retries
        metrics = http.get(gw.url + "/metrics").text
        events = gw.events()
    assert statuses == [200] * 12
    # every request reached the upstream's application exactly once
    assert sorted(idle_closing.answered) == sorted(ids)
    # the pool's connections were reused and closed under it: those requests went out again
    assert idle_closing.dropped >= 1 and retries == idle_closing.dropped
    assert f"hydrawatch_upstream_retries_total {retries}" in metrics
    assert [e["status"] for e in events] == [200] * 12 and all(e["output_tokens"] == 1 for e in events)


def test_a_request_that_failed_on_a_new_connection_is_not_sent_again(tmp_path: Path) -> None:
    with (
        IdleClosingUpstream(drop_first=True) as up,
        GatewayServer(gateway_config(tmp_path, up.url)) as gw,
        httpx.Client(timeout=10) as http,
    ):
        key = gw.new_key("acct-ka2")
        r = _chat(http, gw, key, "only-once")
        retries = gw.gw.http.retries
    assert r.status_code == 502 and r.json()["error"]["code"] == "upstream_unreachable"
    assert up.dropped == 1 and up.connections == 1 and retries == 0
