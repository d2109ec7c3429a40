"""The machine's Redis restarted (``shutdown nosave``) under load, behind two gateway replicas.

While Redis is down: clients keep getting answers in their API's format (fail-open: 200;
fail-closed: 429 ``quota state unavailable`` with ``Retry-After``), a key the replica has
never seen gets 503 (never a 500), and every exchange is still recorded: events wait in the
replica's queue and reach the Redis stream once Redis is back. Counted by a unique tag per
request: every request sent after the shutdown is on the stream exactly once, and nothing
is dropped. Redis is ALWAYS started again (``finally``), also when the test fails.

``nosave`` empties Redis; keys stay usable because each replica caches key lookups
(``keys.cache_seconds: 60`` here), and quota counters simply restart from zero.
"""

from __future__ import annotations

import contextlib
import secrets
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import redis

from test_gateway_support import GatewayServer, ServerThread, gateway_config, run_servers

pytestmark = pytest.mark.services
REDIS_URL = "redis://127.0.0.1:6379/0"
REDIS_START = [
    "redis-server", "--daemonize", "yes", "--bind", "127.0.0.1", "-::1", "--port", "6379",
    "--save", "", "--appendonly", "no", "--dir", "/var/lib/redis", "--logfile", "/var/log/redis/ci.log",
]  # fmt: skip
OUTAGE_S = 2.5


def _ping() -> bool:
    try:
        r = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=0.5, socket_timeout=0.5)
        try:
            return bool(r.ping())
        finally:
            r.close()
    except redis.RedisError:
        return False


def _wait(pred: Any, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.05)
    return False


def redis_start() -> None:
    if not _ping():
        subprocess.run(REDIS_START, check=False, timeout=20, capture_output=True)
    if not _wait(_ping, 20.0):
        raise RuntimeError("Redis did not come back")


@contextlib.contextmanager
def redis_down() -> Iterator[None]:
    """Redis stopped inside the block, started again on the way out (always)."""
    try:
        subprocess.run(
            ["redis-cli", "-p", "6379", "shutdown", "nosave"], check=False, timeout=20, capture_output=True
        )
        assert _wait(lambda: not _ping(), 10.0), "Redis did not stop"
        yield
    finally:
        redis_start()


@pytest.fixture
def prefix() -> Iterator[str]:
    p = f"hwtest:{secrets.token_hex(6)}:"
    yield p
    redis_start()
    r = redis.Redis.from_url(REDIS_URL)
    names = list(r.scan_iter(match=p + "*"))
    if names:
        r.delete(*names)
    r.close()


@pytest.fixture(scope="module")
def upstream() -> Iterator[ServerThread]:
    for up, _seen in run_servers():
        yield up


@dataclass
class Sent:
    tag: str
    start: float
    end: float
    status: int
    body: dict[str, Any]
    retry_after: str | None


class Load:
    """``workers`` threads sending tagged requests round-robin to the replicas until stopped."""

    def __init__(self, urls: list[str], key: str, workers: int = 6) -> None:
        self.urls, self.key, self.workers = urls, key, workers
        self.sent: list[Sent] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run, args=(w,), daemon=True) for w in range(workers)]

    def _run(self, w: int) -> None:
        with httpx.Client(timeout=20.0) as client:
            i = 0
            while not self._stop.is_set():
                tag = f"w{w}n{i}x{secrets.token_hex(3)}"
                url = self.urls[(w + i) % len(self.urls)]
                body = {
                    "model": "fake-a",
                    "max_tokens": 20,
                    "messages": [{"role": "user", "content": f"tag={tag}"}],
                }
                t0 = time.monotonic()
                try:
                    r = client.post(
                        url + "/v1/chat/completions",
                        json=body,
                        headers={"authorization": f"Bearer {self.key}"},
                    )
                    status, doc, ra = r.status_code, r.json(), r.headers.get("retry-after")
                except (httpx.HTTPError, ValueError) as e:  # no answer, or not JSON
                    status, doc, ra = -1, {"exception": repr(e)}, None
                with self._lock:
                    self.sent.append(Sent(tag, t0, time.monotonic(), status, doc, ra))
                i += 1
                time.sleep(0.02)

    def __enter__(self) -> Load:
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(30)


def _stream_tags(prefix: str) -> list[str]:
    r = redis.Redis.from_url(REDIS_URL)
    try:
        rows = [orjson.loads(f[b"row"]) for _, f in r.xrange(prefix + "events")]
    finally:
        r.close()
    return [str(row["prompt"]).removeprefix("tag=") for row in rows]


@pytest.mark.parametrize("on_state_error", ["open", "closed"])
def test_redis_restart_under_load(
    upstream: ServerThread, prefix: str, tmp_path: Path, on_state_error: str
) -> None:
    assert _ping(), "needs the machine's Redis on 127.0.0.1:6379"
    raw = {
        "redis": REDIS_URL,
        "redis_prefix": prefix,
        "keys": {"secret": "restart-test-secret-" + "y" * 24, "cache_seconds": 60},
        "quotas": {
            "on_state_error": on_state_error,
            "timeout_ms": 200,
            "breaker_ms": 200,
            # limits no run can reach: a 429 here can only be the state outage (a fast machine
            # sends more than the default 300 requests a minute)
            "tiers": {"standard": {"requests-minute": 10**9, "tokens-minute": 10**12}},
        },
    }
    cfgs = [gateway_config(tmp_path / f"r{i}", upstream.url, **raw) for i in range(2)]
    with GatewayServer(cfgs[0]) as g0, GatewayServer(cfgs[1]) as g1:
        replicas = [g0, g1]
        key = g0.new_key("acct-load")
        unseen = g0.new_key("acct-unseen")  # never used before the outage: no cached lookup
        urls = [g.url for g in replicas]
        with Load(urls, key) as load:
            assert _wait(lambda: len(load.sent) >= 20, 30.0)
            with redis_down():
                t_down = time.monotonic()
                time.sleep(OUTAGE_S)
                probe = httpx.post(
                    g1.url + "/v1/messages",
                    json={
                        "model": "fake-a",
                        "max_tokens": 5,
                        "messages": [{"role": "user", "content": "tag=probe"}],
                    },
                    headers={"x-api-key": unseen},
                    timeout=20.0,
                )
                pending_during = sum(g.call(lambda gw: _pending(gw)) for g in replicas)
                t_up_cmd = time.monotonic()
            t_up = time.monotonic()
            assert _wait(lambda: sum(1 for s in list(load.sent) if s.start > t_up + 2.0) >= 20, 60.0)
        for g in replicas:
            g.drain()
        dropped = sum(g.call(lambda gw: _dropped(gw)) for g in replicas)
        sink_errors = sum(g.call(lambda gw: _sink_errors(gw)) for g in replicas)

    sent = load.sent
    # clients always got an answer in their API's format, never a 500 or a broken connection
    assert all(s.status in (200, 429) for s in sent), {s.status for s in sent}
    during = [s for s in sent if s.start > t_down and s.end < t_up_cmd]
    assert len(during) >= 10
    if on_state_error == "open":
        assert all(s.status == 200 for s in sent)
    else:
        assert all(s.status == 429 for s in during)
        assert all(s.retry_after is not None and int(s.retry_after) >= 1 for s in during)
        assert {s.body["error"]["type"] for s in during} == {"rate_limit_error"}
        assert "quota state unavailable" in during[0].body["error"]["message"]
        late = [s for s in sent if s.start > t_up + 2.0]
        assert late and all(s.status == 200 for s in late)  # back to normal once Redis is
    # an unknown key while the key store is down: 503 in the Anthropic format, not a 500
    assert probe.status_code == 503 and probe.headers.get("retry-after") == "1"
    assert probe.json()["type"] == "error" and probe.json()["error"]["type"] == "overloaded_error"
    # events: buffered during the outage (none dropped), on the stream exactly once afterwards
    assert pending_during > 0 and sink_errors > 0 and dropped == 0
    on_stream = _stream_tags(prefix)
    assert len(on_stream) == len(set(on_stream)), "an event was written twice"
    after_down = {s.tag for s in sent if s.start > t_down}
    missing = after_down - set(on_stream)
    assert not missing, f"{len(missing)} of {len(after_down)} events recorded after the shutdown are missing"


def _pending(gw: Any) -> Any:
    async def f() -> int:
        return int(gw.sink.pending())

    return f()


def _dropped(gw: Any) -> Any:
    async def f() -> int:
        return int(gw.sink.dropped)

    return f()


def _sink_errors(gw: Any) -> Any:
    async def f() -> int:
        return int(getattr(gw.sink, "errors", 0))

    return f()
