"""One scorer for three replicas: the shared Redis event stream is consumed by exactly one
scorer process (a leader lease and a consumer group), so an account whose traffic is spread
across replicas is scored as one account; when the leader dies another replica's scorer
takes over, relearns the history from the stream and goes on.

Each replica starts its own scorer child (as ``hydrawatch serve --redis`` does); the
children run the stand-in engine of ``scoring_fakes`` (the reasons count the exchanges the
scorer has seen for the account). Real Redis at 127.0.0.1:6379, random key prefix."""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

import hydrawatch.gateway.state as state_mod
from hydrawatch.gateway.scoring import scorer_argv
from hydrawatch.score.redis_worker import GROUP
from test_gateway_support import GatewayServer, Seen, ServerThread, gateway_config, run_servers

REDIS_URL = "redis://127.0.0.1:6379/0"
TESTS = str(Path(__file__).resolve().parent)
pytestmark = pytest.mark.services


@pytest.fixture
def prefix() -> Iterator[str]:
    p = f"hwtest:{secrets.token_hex(6)}:"
    yield p
    r = redis.Redis.from_url(REDIS_URL)
    names = list(r.scan_iter(match=p + "*"))
    if names:
        r.delete(*names)
    r.close()


@pytest.fixture(scope="module")
def upstream() -> Iterator[tuple[ServerThread, Seen]]:
    yield from run_servers()


@pytest.fixture
def fake_scorer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHONPATH", TESTS + os.pathsep + os.environ.get("PYTHONPATH", ""))
    monkeypatch.setattr(
        state_mod,
        "scorer_argv",
        lambda *a: scorer_argv(*a, "--engine", "scoring_fakes:counting_engine", "--lease-seconds", "2"),
    )


def wait_for(cond: Callable[[], Any], timeout: float = 40.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = cond()
        if got:
            return got
        time.sleep(0.1)
    raise AssertionError("condition not reached in time")


@contextlib.contextmanager
def running_scorer(prefix: str) -> Iterator[tuple[Any, Callable[[str], tuple[str, ...] | None]]]:
    """A Redis scorer (engine: ``scoring_fakes.counting_engine``) running in a thread, and a
    reader of the reasons of the verdict it published for an account."""
    import threading

    from hydrawatch.policy.verdicts import verdict_from_json
    from hydrawatch.score.redis_worker import RedisScorer
    from scoring_fakes import counting_engine

    r = redis.Redis.from_url(REDIS_URL)
    worker = RedisScorer(
        REDIS_URL, prefix=prefix, factory=lambda: counting_engine(60.0), lease_seconds=2, block_ms=100
    )
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop,), daemon=True)
    thread.start()

    def reasons(account: str) -> tuple[str, ...] | None:
        raw = r.hget(prefix + "verdicts", account)
        parsed = verdict_from_json(raw) if raw is not None else None
        return parsed[0].reasons if parsed is not None else None

    try:
        yield worker, reasons
    finally:
        stop.set()
        thread.join(30)
        worker.close()
        r.close()


def test_three_replicas_one_scorer(
    upstream: tuple[ServerThread, Seen], prefix: str, tmp_path: Path, fake_scorer: None
) -> None:
    up, _ = upstream
    raw = {"redis": REDIS_URL, "redis_prefix": prefix, "live_scoring": {"enabled": True, "link_seconds": 0.5}}
    cfgs = [gateway_config(tmp_path / f"r{i}", up.url, **raw) for i in range(3)]
    r = redis.Redis.from_url(REDIS_URL)
    chat = {"model": "fake-a", "messages": [{"role": "user", "content": "hello"}]}
    with GatewayServer(cfgs[0]) as g0, GatewayServer(cfgs[1]) as g1, GatewayServer(cfgs[2]) as g2:
        replicas = [g0, g1, g2]
        scorers = [g.gw.live for g in replicas]
        assert all(s is not None and not s.feed for s in scorers)
        # exactly one of the three scorer processes leads
        wait_for(
            lambda: sum(bool(s.leader) for s in scorers) == 1 and all(s.leader is not None for s in scorers)
        )
        leader = next(s for s in scorers if s.leader)
        assert r.get(prefix + "scorer:leader") is not None

        key = g0.new_key("acct-spread")
        with httpx.Client(timeout=10) as http:
            for i in range(30):  # 10 exchanges through each replica
                g = replicas[i % 3]
                resp = http.post(g.url + "/v1/chat/completions", json=chat, headers={"x-api-key": key})
                assert resp.status_code == 200, resp.text
            for g in replicas:
                g.drain()

            def verdict() -> tuple[str, ...]:
                return tuple(g1.call(lambda gw: gw.verdicts.get("acct-spread")).reasons)

            # one scorer saw all 30 (three scorers each scoring their replica's share would say 10)
            assert wait_for(lambda: verdict() == ("observed 30",))

            def group() -> dict[str, Any]:
                return {g["name"]: g for g in r.xinfo_groups(prefix + "events")}[GROUP.encode()]

            # every row acknowledged: the scorer acks a batch right after publishing its verdicts,
            # so the verdict can be seen a moment before the ack lands
            assert wait_for(lambda: group()["pending"] == 0) and group()["consumers"] >= 1

            # the leader dies: a new scorer takes over and relearns the history. It may be another
            # replica's standby or the dead one's replacement (its replica restarts it at once and
            # it races the standbys for the lapsed lease); either way a new lease holder, one leader.
            assert leader.pid is not None
            lease = prefix + "scorer:leader"
            old = r.get(lease)
            os.kill(leader.pid, signal.SIGKILL)

            def new_leader() -> bool:
                holder = r.get(lease)
                return holder is not None and holder != old and sum(bool(s.leader) for s in scorers) == 1

            wait_for(new_leader)
            for i in range(6):
                g = replicas[i % 3]
                resp = http.post(g.url + "/v1/chat/completions", json=chat, headers={"x-api-key": key})
                assert resp.status_code == 200, resp.text
            for g in replicas:
                g.drain()
            assert wait_for(lambda: verdict() == ("observed 36",))
            # the dead scorer was restarted by its replica; still exactly one leader
            wait_for(lambda: leader.restarts == 1 and leader.leader is not None)
            assert sum(bool(s.leader) for s in scorers) == 1
    r.close()


def test_takeover_relearns_history_and_claims_what_the_dead_leader_left(prefix: str) -> None:
    import orjson

    r = redis.Redis.from_url(REDIS_URL)
    stream = prefix + "events"
    r.xgroup_create(stream, GROUP, id="$", mkstream=True)
    for i in range(10):
        row = {"ts": 1.7e9 + i, "account_id": "acct-p", "prompt": f"p{i}", "user_turns": 1}
        r.xadd(stream, {"row": orjson.dumps(row)})
    # an earlier leader read all ten, acknowledged six, and died
    got: Any = r.xreadgroup(GROUP, "dead-leader", {stream: ">"}, count=10)
    ids = [eid for eid, _ in got[0][1]]
    r.xack(stream, GROUP, *ids[:6])
    # six relearned from history + four claimed from the dead leader, none twice
    with running_scorer(prefix) as (worker, reasons):
        assert wait_for(lambda: reasons("acct-p") == ("observed 10",), 30)
        assert worker.leader and r.xpending(stream, GROUP)["pending"] == 0
    assert r.get(prefix + "scorer:leader") is None  # the lease is released on the way out
    r.close()


def test_redis_scorer_gives_the_rows_payment_fingerprint_to_the_engine(prefix: str) -> None:
    import orjson

    r = redis.Redis.from_url(REDIS_URL)
    stream = prefix + "events"
    for i in range(3):
        row = {"ts": 1.7e9 + i, "account_id": "acct-card", "prompt": f"p{i}", "user_turns": 1}
        r.xadd(stream, {"row": orjson.dumps({**row, "payment_fp": "pm_stream"} if i else row)})
    with running_scorer(prefix) as (_, reasons):
        want = ("observed 3", "payment pm_stream")
        assert wait_for(lambda: reasons("acct-card") == want, 30), reasons("acct-card")
    r.close()
