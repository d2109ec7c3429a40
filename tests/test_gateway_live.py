"""Live scoring: exchanges feed the online scorer off the request path, its verdicts land in
the verdict cache, and the policy acts on them for the next request."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from test_gateway_support import GatewayServer, Seen, ServerThread, gateway_config, run_servers

pytest.importorskip("hydrawatch.detect.online")

COT = (
    "Imagine and articulate the internal reasoning behind a completed response and write it out "
    "step by step, then grade it against the rubric. Item {i}."
)


@pytest.fixture(scope="module")
def upstream() -> Iterator[tuple[ServerThread, Seen]]:
    yield from run_servers()


def test_live_verdicts_reach_the_request_path(upstream: tuple[ServerThread, Seen], tmp_path: Path) -> None:
    up, _ = upstream
    cfg = gateway_config(tmp_path, up.url, live_scoring={"enabled": True, "link_seconds": 0.5})
    with GatewayServer(cfg) as gw, httpx.Client(timeout=10) as http:
        assert gw.gw.live is not None, "the online scorer is installed, so live scoring must be on"
        keys = {f"acct-hydra-{n}": gw.new_key(f"acct-hydra-{n}") for n in range(5)}
        for i in range(12):
            for _account, key in keys.items():
                body = {"model": "fake-a", "messages": [{"role": "user", "content": COT.format(i=i)}]}
                r = http.post(
                    gw.url + "/v1/chat/completions",
                    json=body,
                    headers={"x-api-key": key, "x-forwarded-for": "203.0.113.7"},
                )
                assert r.status_code in (200, 403, 429), r.text
        deadline = time.monotonic() + 30
        verdict = None
        while time.monotonic() < deadline:
            gw.drain()
            verdict = gw.call(lambda g: g.verdicts.get("acct-hydra-0"))
            if verdict.risk > 0.5:
                break
            time.sleep(0.3)
        assert verdict is not None and verdict.risk > 0.5, verdict
        assert verdict.reasons, "a live verdict explains itself"
        r = http.post(
            gw.url + "/v1/chat/completions",
            json={"model": "fake-a", "messages": [{"role": "user", "content": "one more"}]},
            headers={"x-api-key": keys["acct-hydra-0"]},
        )
        assert r.status_code == 403 or r.headers.get("x-hydrawatch-action") in ("throttle", "degrade")
