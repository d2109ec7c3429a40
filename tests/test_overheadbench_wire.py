"""The overhead benchmark's HTTP/1.1 reader (bench/overhead/httpwire.py) and its upstream stub."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

sys.path.append(str(Path(__file__).resolve().parent.parent / "bench" / "overhead"))

import httpwire
import upstream_stub
from c1_loadgen import check


def _read(raw: bytes, pieces: list[int] | None = None) -> httpwire.Response:
    async def go() -> httpwire.Response:
        reader = asyncio.StreamReader()
        cuts = sorted({min(len(raw), p) for p in pieces or []})
        start = 0
        for c in [*cuts, len(raw)]:
            reader.feed_data(raw[start:c])
            start = c
        reader.feed_eof()
        return await httpwire.read_response(reader)

    return asyncio.run(go())


def _chunked(parts: list[bytes]) -> bytes:
    body = b"".join(f"{len(p):x}\r\n".encode() + p + b"\r\n" for p in parts if p)
    return (
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\ncontent-type: text/event-stream\r\n\r\n"
        + body
        + b"0\r\n\r\n"
    )


def test_content_length_response() -> None:
    r = _read(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: keep-alive\r\n\r\nhello")
    assert (r.status, r.body, r.keep_alive, r.first_data_at) == (200, b"hello", True, None)
    assert r.headers["content-length"] == "5"


def test_body_until_close_marks_connection_closed() -> None:
    r = _read(b"HTTP/1.1 502 Bad Gateway\r\n\r\nupstream down")
    assert (r.status, r.body, r.keep_alive) == (502, b"upstream down", False)


def test_chunked_sse_records_first_data_time() -> None:
    r = _read(_chunked([b": comment\n\n", b'data: {"a":1}\n\n', b"data: [DONE]\n\n"]))
    assert r.body == b': comment\n\ndata: {"a":1}\n\ndata: [DONE]\n\n'
    assert r.first_data_at is not None and r.first_data_at <= r.done_at


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.binary(min_size=1, max_size=40), min_size=1, max_size=8),
    st.lists(st.integers(min_value=0, max_value=400), max_size=6),
)
def test_chunked_body_reassembled_whatever_the_tcp_split(parts: list[bytes], cuts: list[int]) -> None:
    r = _read(_chunked(parts), cuts)
    assert r.body == b"".join(parts)
    assert (r.first_data_at is not None) == (b"data:" in r.body)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_garbage_raises_only_wire_error(raw: bytes) -> None:
    try:
        r = _read(raw)
    except httpwire.WireError:
        return
    assert 100 <= r.status <= 999


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=120))
def test_garbage_after_a_valid_head_raises_only_wire_error(tail: bytes) -> None:
    with contextlib.suppress(httpwire.WireError):
        _read(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + tail)


def test_bad_status_line_and_header_are_wire_errors() -> None:
    with pytest.raises(httpwire.WireError):
        _read(b"HTTP/2 200 OK\r\n\r\n")
    with pytest.raises(httpwire.WireError):
        _read(b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n")
    with pytest.raises(httpwire.WireError):
        _read(b"HTTP/1.1 200 OK\r\ncontent-length: -3\r\n\r\n")


def test_build_post_is_a_complete_request() -> None:
    raw = httpwire.build_post("h", "/v1/x", b'{"a":1}', {"authorization": "Bearer k"})
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"POST /v1/x HTTP/1.1\r\n")
    assert b"\r\nauthorization: Bearer k" in head and b"\r\ncontent-length: 7" in head
    assert body == b'{"a":1}'


@given(st.binary(max_size=200))
def test_wants_stream_never_raises(body: bytes) -> None:
    assert upstream_stub.wants_stream(body) in (True, False)


def test_wants_stream_reads_the_json_flag() -> None:
    assert upstream_stub.wants_stream(b'{"stream": true, "model": "m"}')
    assert not upstream_stub.wants_stream(b'{"stream": false}')
    assert not upstream_stub.wants_stream(b'{"note": "\\"stream\\": true"}')


def test_stub_answers_through_the_client() -> None:
    """The stub (run in-process by uvicorn) and the client agree: JSON with usage; SSE with [DONE]."""
    import uvicorn

    async def go() -> tuple[httpwire.Response, httpwire.Response, float]:
        cfg = uvicorn.Config(upstream_stub.app, host="127.0.0.1", port=0, log_level="error", lifespan="off")
        server = uvicorn.Server(cfg)
        task = asyncio.create_task(server.serve())
        while not server.started:
            await asyncio.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        conn = httpwire.Connection("127.0.0.1", port)
        try:
            _, plain = await conn.send(httpwire.build_post("x", "/v1/chat/completions", b'{"model":"m"}', {}))
            t0, streamed = await conn.send(
                httpwire.build_post("x", "/v1/chat/completions", b'{"model":"m","stream":true}', {})
            )
        finally:
            await conn.close()
            server.should_exit = True
            await task
        return plain, streamed, t0

    plain, streamed, t0 = asyncio.run(go())
    assert check(plain.status, plain.body, stream=False) is None
    assert json.loads(plain.body)["usage"]["total_tokens"] == upstream_stub.USAGE["total_tokens"]
    assert check(streamed.status, streamed.body, stream=True) is None
    events = [e for e in streamed.body.split(b"\n\n") if e]
    assert events[-1] == b"data: [DONE]" and b'"usage"' in events[-2]
    assert streamed.first_data_at is not None and t0 <= streamed.first_data_at <= streamed.done_at
