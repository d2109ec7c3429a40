"""Minimal HTTP/1.1 client wire format over asyncio streams (keep-alive, low overhead).

Only what the benchmark needs: serialise a POST, read one response (``Content-Length``,
chunked, or until close), and note when the first SSE ``data:`` bytes of the body arrived.
Malformed responses raise :class:`WireError` (never anything else), so one bad answer is
counted as an error by the caller instead of stopping a run.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass

MAX_HEAD = 64 * 1024
MAX_BODY = 16 * 1024 * 1024
SSE_MARK = b"data:"


class WireError(Exception):
    """The peer sent something that is not a well-formed HTTP/1.1 response."""


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, str]
    body: bytes
    first_data_at: float | None  # perf_counter() when the body first contained b"data:"
    done_at: float
    keep_alive: bool


def build_post(host: str, path: str, body: bytes, headers: dict[str, str]) -> bytes:
    """A complete HTTP/1.1 POST request (keep-alive) as bytes."""
    lines = [f"POST {path} HTTP/1.1", f"host: {host}", "content-type: application/json"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    lines.append(f"content-length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def parse_head(raw: bytes) -> tuple[int, dict[str, str]]:
    """Status code and lower-cased headers of a response head (ending in CRLF CRLF)."""
    try:
        text = raw.decode("latin-1")
    except UnicodeDecodeError as e:  # pragma: no cover - latin-1 decodes every byte
        raise WireError(str(e)) from None
    lines = text.split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit() or len(parts[1]) != 3:
        raise WireError(f"bad status line {lines[0][:80]!r}")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if not line:
            continue
        name, sep, value = line.partition(":")
        if not sep or not name.strip():
            raise WireError(f"bad header line {line[:80]!r}")
        headers[name.strip().lower()] = value.strip()
    return int(parts[1]), headers


async def _read_chunked(reader: asyncio.StreamReader, body: bytearray) -> float | None:
    first: float | None = None
    while True:
        line = await reader.readline()
        if not line.endswith(b"\n"):
            raise WireError("connection closed inside a chunked body")
        size_txt = line.split(b";", 1)[0].strip()
        try:
            size = int(size_txt, 16)
        except ValueError:
            raise WireError(f"bad chunk size {size_txt[:20]!r}") from None
        if size < 0 or len(body) + size > MAX_BODY:
            raise WireError("chunk size out of range")
        if size == 0:
            while (await reader.readline()) not in (b"\r\n", b"\n", b""):
                pass  # trailers
            return first
        tail = len(body)
        body += await reader.readexactly(size)
        if first is None and SSE_MARK in body[max(0, tail - len(SSE_MARK)) :]:
            first = time.perf_counter()
        if await reader.readexactly(2) != b"\r\n":
            raise WireError("chunk not followed by CRLF")


async def read_response(reader: asyncio.StreamReader) -> Response:
    """Read one response; asyncio read errors are turned into :class:`WireError`."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.LimitOverrunError:
        raise WireError("response head too long") from None
    except asyncio.IncompleteReadError:
        raise WireError("connection closed before a response head") from None
    if len(head) > MAX_HEAD:
        raise WireError("response head too long")
    status, headers = parse_head(head[:-4])
    body = bytearray()
    first: float | None = None
    try:
        if "chunked" in headers.get("transfer-encoding", "").lower():
            first = await _read_chunked(reader, body)
        elif "content-length" in headers:
            cl = headers["content-length"]
            if not cl.isdigit() or int(cl) > MAX_BODY:
                raise WireError(f"bad content-length {cl[:20]!r}")
            body += await reader.readexactly(int(cl))
        elif status >= 200 and status not in (204, 304):
            body += await reader.read(MAX_BODY)
            headers["connection"] = "close"
    except asyncio.IncompleteReadError:
        raise WireError("connection closed inside a body") from None
    done = time.perf_counter()
    if first is None and SSE_MARK in body:
        first = done
    keep = headers.get("connection", "").lower() != "close"
    return Response(status, headers, bytes(body), first, done, keep)


class Connection:
    """One keep-alive connection; reconnects after a close or an error."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def close(self) -> None:
        w, self._reader, self._writer = self._writer, None, None
        if w is not None:
            w.close()
            with contextlib.suppress(OSError):
                await w.wait_closed()

    async def send(self, request: bytes) -> tuple[float, Response]:
        """Send ``request``; return (perf_counter() just before the write, the response)."""
        if self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
            sock = self._writer.get_extra_info("socket")
            if sock is not None:
                import socket

                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        assert self._reader is not None and self._writer is not None
        try:
            t0 = time.perf_counter()
            self._writer.write(request)
            resp = await read_response(self._reader)
        except (WireError, OSError):
            await self.close()
            raise
        if not resp.keep_alive:
            await self.close()
        return t0, resp
