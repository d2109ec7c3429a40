"""Event recording: EVENT_COLUMNS rows off the request path, prompt settings, retention,
a bounded queue, trusted-proxy client IPs."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import httpx
import pytest

from hydrawatch.events.schema import EVENT_COLUMNS
from hydrawatch.gateway.recorder import DuckDBEventSink
from test_gateway_support import GatewayServer, Seen, ServerThread, gateway_config, run_servers


@pytest.fixture(scope="module")
def upstream() -> Iterator[tuple[ServerThread, Seen]]:
    yield from run_servers()


def _row(ts: float, account: str = "a") -> dict[str, Any]:
    row: dict[str, Any] = dict.fromkeys(EVENT_COLUMNS.names)
    row.update(ts=ts, account_id=account, source="gateway", line=0)
    return row


def test_events_table_has_the_contract_schema(upstream: tuple[ServerThread, Seen], tmp_path: Path) -> None:
    up, _ = upstream
    with GatewayServer(gateway_config(tmp_path, up.url)) as gw:
        key = gw.new_key("acct-rec")
        body = {
            "model": "fake-a",
            "temperature": 0.3,
            "tools": [{"type": "function", "function": {"name": "f"}}],
            "messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hello"}],
        }
        assert (
            httpx.post(gw.url + "/v1/chat/completions", json=body, headers={"x-api-key": key}).status_code
            == 200
        )
        gw.drain()
    con = duckdb.connect(str(tmp_path / "events.duckdb"), read_only=True)
    table = con.sql("SELECT * FROM events").to_arrow_table()
    con.close()
    assert table.schema.names == EVENT_COLUMNS.names
    assert [f.type for f in table.schema] == [f.type for f in EVENT_COLUMNS]
    row = table.to_pylist()[0]
    assert row["prompt"] == "hello" and row["system"] == "be brief" and row["n_messages"] == 1
    assert row["temperature"] == 0.3 and row["n_tools"] == 1 and row["user_agent"].startswith("python-httpx")


@pytest.mark.parametrize("mode", ["redacted", "none"])
def test_prompt_recording_settings(upstream: tuple[ServerThread, Seen], tmp_path: Path, mode: str) -> None:
    up, _ = upstream
    with GatewayServer(
        gateway_config(tmp_path, up.url, record={"prompts": mode, "flush_seconds": 0.05})
    ) as gw:
        key = gw.new_key("acct-pii")
        prompt = "My email is alice@example.org, summarise the attached report."
        body = {"model": "fake-a", "messages": [{"role": "user", "content": prompt}]}
        httpx.post(gw.url + "/v1/chat/completions", json=body, headers={"x-api-key": key})
        (ev,) = gw.events()
    if mode == "none":
        assert ev["prompt"] is None and ev["context_chars"] == len(prompt)
    else:
        assert "alice@example.org" not in ev["prompt"] and ev["prompt"].endswith("the attached report.")


def test_trusted_proxy_ip(upstream: tuple[ServerThread, Seen], tmp_path: Path) -> None:
    up, _ = upstream
    with GatewayServer(gateway_config(tmp_path, up.url, trusted_proxies=["127.0.0.0/8"])) as gw:
        key = gw.new_key("acct-ip")
        body = {"model": "fake-a", "messages": [{"role": "user", "content": "x"}]}
        h = {"x-api-key": key, "x-forwarded-for": "203.0.113.50, 127.0.0.9"}
        httpx.post(gw.url + "/v1/chat/completions", json=body, headers=h)
        httpx.post(gw.url + "/v1/chat/completions", json=body, headers={**h, "forwarded": "for=198.51.100.1"})
        ips = [e["ip"] for e in gw.events()]
    assert ips == ["203.0.113.50", "198.51.100.1"]


def test_untrusted_peer_cannot_spoof_ip(upstream: tuple[ServerThread, Seen], tmp_path: Path) -> None:
    up, _ = upstream
    with GatewayServer(gateway_config(tmp_path, up.url, trusted_proxies=["10.0.0.0/8"])) as gw:
        key = gw.new_key("acct-spoof")
        body = {"model": "fake-a", "messages": [{"role": "user", "content": "x"}]}
        httpx.post(
            gw.url + "/v1/chat/completions",
            json=body,
            headers={"x-api-key": key, "x-forwarded-for": "1.2.3.4"},
        )
        assert [e["ip"] for e in gw.events()] == ["127.0.0.1"]


def test_retention_and_bounded_queue(tmp_path: Path) -> None:
    async def go() -> DuckDBEventSink:
        sink = DuckDBEventSink(tmp_path / "ev.duckdb", maxsize=3, flush_seconds=60, retention_days=1)
        now = time.time()
        assert sink.submit(_row(now - 3 * 86400, "old"))
        assert sink.submit(_row(now, "new"))
        assert sink.submit(_row(now, "new2"))
        assert not sink.submit(_row(now, "dropped"))  # queue full: dropped and counted, never blocks
        await sink.start()
        await sink.close()
        return sink

    sink = asyncio.run(go())
    assert (sink.recorded, sink.dropped) == (3, 1)
    con = duckdb.connect(str(tmp_path / "ev.duckdb"), read_only=True)
    accounts = sorted(a for (a,) in con.execute("SELECT account_id FROM events").fetchall())
    con.close()
    assert accounts == ["new", "new2"]


def test_pending_counts_a_batch_until_it_is_written(tmp_path: Path) -> None:
    """The backlog gauge must not read 0 while a flush is still writing (a drain that waits for
    it would otherwise return early), and rows that arrive during a flush wait for the next."""
    sink = DuckDBEventSink(tmp_path / "ev.duckdb", flush_seconds=60)
    seen: list[int] = []
    write = sink._write

    def slow_write(rows: list[bytes]) -> bool:
        seen.append(sink.pending())
        if len(seen) == 1:
            sink.submit(_row(time.time(), "late"))  # arrives while the first batch is being written
        return write(rows)

    sink._write = slow_write  # type: ignore[method-assign]
    for i in range(3):
        assert sink.submit(_row(time.time(), f"a{i}"))
    sink._flush_all()
    assert seen == [3]  # the batch in flight still counts as pending
    assert sink.recorded == 3 and sink.pending() == 1  # "late" waits for the next flush
    sink._flush_all()
    assert seen == [3, 1] and sink.recorded == 4 and sink.pending() == 0


def test_events_are_readable_while_serving(upstream: tuple[ServerThread, Seen], tmp_path: Path) -> None:
    up, _ = upstream
    with GatewayServer(gateway_config(tmp_path, up.url)) as gw:
        key = gw.new_key("acct-read")
        body = {"model": "fake-a", "messages": [{"role": "user", "content": "x"}]}
        httpx.post(gw.url + "/v1/chat/completions", json=body, headers={"x-api-key": key})
        gw.drain()
        # between flushes the database is closed, so a reader can open it
        con = duckdb.connect(str(tmp_path / "events.duckdb"), read_only=True)
        assert con.execute("SELECT count(*) FROM events").fetchone() == (1,)
        con.close()
