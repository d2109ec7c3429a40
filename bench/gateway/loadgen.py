"""A small HTTP/1.1 keep-alive load generator (asyncio, raw sockets).

Client overhead is the same for every target, so "through the gateway" minus "direct
to the upstream" is what the gateway adds. Measures full-response latency and, for
streams, time to the first body chunk (TTFB of the event stream).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field


@dataclass
class Sample:
    status: int
    first_byte_ms: float
    total_ms: float


@dataclass
class Stats:
    samples: list[Sample] = field(default_factory=list)
    errors: int = 0

    def pct(self, q: float, attr: str = "total_ms") -> float:
        vals = sorted(getattr(s, attr) for s in self.samples)
        if not vals:
            return float("nan")
        i = min(len(vals) - 1, max(0, round(q / 100 * (len(vals) - 1))))
        return float(vals[i])


class Conn:
    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(OSError):
                await self.writer.wait_closed()

    async def post(self, path: str, body: bytes, headers: dict[str, str]) -> Sample:
        if self.writer is None:
            await self.open()
        assert self.reader is not None and self.writer is not None
        head = f"POST {path} HTTP/1.1\r\nhost: {self.host}\r\ncontent-type: application/json\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        head += f"content-length: {len(body)}\r\n\r\n"
        t0 = time.perf_counter()
        self.writer.write(head.encode() + body)
        raw = await self.reader.readuntil(b"\r\n\r\n")
        lines = raw.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        hdrs = {}
        for line in lines[1:]:
            if ":" in line:
                k, _, v = line.partition(":")
                hdrs[k.strip().lower()] = v.strip()
        first: float | None = None
        if hdrs.get("transfer-encoding", "").lower() == "chunked":
            while True:
                size = int((await self.reader.readline()).split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    await self.reader.readline()
                    break
                await self.reader.readexactly(size + 2)
                if first is None:
                    first = time.perf_counter()
        else:
            n = int(hdrs.get("content-length", "0"))
            if n:
                await self.reader.readexactly(n)
            first = time.perf_counter()
        end = time.perf_counter()
        if hdrs.get("connection", "").lower() == "close":
            await self.close()
            self.writer = None
        return Sample(status, ((first or end) - t0) * 1000, (end - t0) * 1000)


async def sequential(host: str, port: int, path: str, body: bytes, headers: dict[str, str], n: int) -> Stats:
    st = Stats()
    c = Conn(host, port)
    try:
        for _ in range(n):
            s = await c.post(path, body, headers)
            if s.status == 200:
                st.samples.append(s)
            else:
                st.errors += 1
    finally:
        await c.close()
    return st


async def concurrent(
    host: str, port: int, path: str, body: bytes, headers: dict[str, str], clients: int, seconds: float
) -> tuple[Stats, float]:
    st = Stats()
    stop = time.perf_counter() + seconds

    async def worker() -> None:
        c = Conn(host, port)
        try:
            while time.perf_counter() < stop:
                try:
                    s = await c.post(path, body, headers)
                except (OSError, asyncio.IncompleteReadError, ValueError):
                    st.errors += 1
                    await c.close()
                    c = Conn(host, port)
                    continue
                if s.status == 200:
                    st.samples.append(s)
                else:
                    st.errors += 1
        finally:
            await c.close()

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(clients)))
    return st, len(st.samples) / (time.perf_counter() - t0)
