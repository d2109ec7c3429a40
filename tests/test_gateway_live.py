"""Live scoring: exchanges feed the online scorer off the request path, its verdicts land in
the verdict cache, and the policy acts on them for the next request."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from test_gateway_support import GatewayServer, Seen, ServerThread, gateway_config, run_servers

COT = (
    "Imagine and articulate the internal reasoning behind a completed response and write it out "
    "step by step, then grade it against the rubric. Item {i}."
)


@pytest.fixture(scope="module")
def upstream() -> Iterator[tuple[ServerThread, Seen]]:
    yield from run_servers()


def test_live_verdicts_reach_the_request_path(upstream: tuple[ServerThread, Seen], tmp_path: Path) -> None:
    pytest.importorskip("hydrawatch.detect.online")
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


def test_live_scoring_with_a_broken_scorer_turns_itself_off() -> None:
    import asyncio

    from hydrawatch.events.schema import Exchange
    from hydrawatch.gateway.live import LiveScoring
    from hydrawatch.policy import InMemoryVerdictCache

    def broken(stopping: object) -> tuple[object, object]:
        raise ImportError("no scorer here")

    async def go() -> LiveScoring:
        live = LiveScoring(broken, InMemoryVerdictCache(), asyncio.get_running_loop(), link_seconds=60)
        live.submit(Exchange(ts=0.0, account_id="a"))
        await asyncio.wait_for(live.drain(), 10)  # never waits on a dead worker
        await live.close()
        return live

    live = asyncio.run(go())
    assert live.state == "off" and not live.submit(Exchange(ts=0.0, account_id="b"))


def test_live_scoring_publishes_verdicts_from_the_scorer() -> None:
    import asyncio

    from hydrawatch.events.schema import Exchange
    from hydrawatch.gateway.live import LiveScoring
    from hydrawatch.policy import InMemoryVerdictCache

    class Scorer:
        def __init__(self) -> None:
            self.seen: list[str] = []

        def observe(self, ex: Exchange, feats: object) -> None:
            self.seen.append(ex.account_id)

        def score(self, account_id: str) -> object:
            from types import SimpleNamespace

            return SimpleNamespace(risk=0.8, campaign_id="c9", reasons=[f"{len(self.seen)} seen"])

        def link(self, now: float) -> None:
            pass

    async def go() -> tuple[LiveScoring, object]:
        cache = InMemoryVerdictCache()
        live = LiveScoring(lambda stopping: (Scorer(), lambda ex: None), cache, asyncio.get_running_loop())
        for i in range(3):
            live.submit(Exchange(ts=float(i), account_id="acct-x"))
        await asyncio.wait_for(live.drain(), 10)
        await asyncio.sleep(0.05)
        v = await cache.get("acct-x")
        await live.close()
        return live, v

    live, v = asyncio.run(go())
    assert live.state == "on"
    assert (v.risk, v.campaign_id) == (0.8, "c9")  # type: ignore[attr-defined]
