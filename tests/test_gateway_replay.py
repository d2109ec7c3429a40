"""The replay clock (benchmark-only ``replay_clock``): "now" comes from X-Hydrawatch-Replay-Ts
for quota windows and the recorded event; without the setting the header is ignored."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from test_gateway_support import GatewayServer, Seen, ServerThread, gateway_config, run_servers

T0 = 1_760_000_000.0  # a whole minute (divisible by 60)
TIER = {"tiers": {"standard": {"requests-minute": 2, "requests-day": None, "tokens-day": None}}}


@pytest.fixture(scope="module")
def upstream() -> Iterator[tuple[ServerThread, Seen]]:
    yield from run_servers()


def _send(http: httpx.Client, url: str, key: str, ts: float) -> int:
    r = http.post(
        url + "/v1/chat/completions",
        json={"model": "fake-a", "messages": [{"role": "user", "content": "hi"}]},
        headers={"x-api-key": key, "x-hydrawatch-replay-ts": repr(ts)},
    )
    return r.status_code


def test_replay_clock_drives_windows_and_records(upstream: tuple[ServerThread, Seen], tmp_path: Path) -> None:
    up, seen = upstream
    cfg = gateway_config(tmp_path, up.url, replay_clock=True, quotas=TIER)
    with GatewayServer(cfg) as gw, httpx.Client(timeout=10) as http:
        key = gw.new_key("acct-replay")
        codes = [_send(http, gw.url, key, T0 + dt) for dt in (0.0, 10.0, 20.0, 61.0, 62.0, 70.0)]
        events = gw.events()
    # two requests per replayed minute: the third in each minute is refused
    assert codes == [200, 200, 429, 200, 200, 429]
    assert [e["ts"] for e in events] == [T0, T0 + 10, T0 + 20, T0 + 61, T0 + 62, T0 + 70]
    assert all("x-hydrawatch-replay-ts" not in h for h in seen.headers)


def test_replay_header_is_ignored_by_default(upstream: tuple[ServerThread, Seen], tmp_path: Path) -> None:
    up, _ = upstream
    cfg = gateway_config(tmp_path, up.url, quotas=TIER)
    with GatewayServer(cfg) as gw, httpx.Client(timeout=10) as http:
        key = gw.new_key("acct-live")
        assert _send(http, gw.url, key, T0) == 200
        events = gw.events()
    assert len(events) == 1 and events[0]["ts"] > T0 + 86400 * 30  # the real clock
