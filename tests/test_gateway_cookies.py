"""The shared upstream client must not carry one tenant's cookies into another's requests."""

from __future__ import annotations

import asyncio

from hydrawatch.gateway.config import Timeouts
from hydrawatch.gateway.httpclients import HttpClients
from test_gateway_support import free_port


def test_client_does_not_replay_upstream_cookies() -> None:
    """A real upstream sets a cookie on every answer and logs the Cookie header it gets."""
    seen: list[str | None] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            fields = (ln.partition(":") for ln in lines[1:] if ln)
            headers = {k.strip().lower(): v.strip() for k, _, v in fields}
            seen.append(headers.get("cookie"))
            writer.write(
                b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                b"set-cookie: __cf_bm=tenant-A-secret; Path=/\r\ncontent-length: 2\r\n\r\n{}"
            )
            await writer.drain()

    async def run() -> None:
        port = free_port()
        server = await asyncio.start_server(handle, "127.0.0.1", port)
        clients = HttpClients(Timeouts())
        try:
            for _ in range(3):
                resp = await clients.get(f"http://127.0.0.1:{port}/v1/models", {})
                assert resp.status_code == 200 and await resp.aread() == b"{}"
                await resp.aclose()
        finally:
            await clients.aclose()
            server.close()

    asyncio.run(run())
    assert seen == [None, None, None]
