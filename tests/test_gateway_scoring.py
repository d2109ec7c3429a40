"""The embedded scorer runs as a child process of the gateway, fed through a pipe.

These tests drive ``ScorerProcess`` with a stand-in engine (``scoring_fakes``) so they do
not wait for the real models: rows reach the child, verdicts come back into the cache,
nothing is lost when the child dies, backpressure is bounded and counted, and shutdown
leaves no process behind."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from hydrawatch.gateway.scoring import ScorerProcess, scorer_argv
from hydrawatch.policy import InMemoryVerdictCache, Verdict

TESTS = str(Path(__file__).resolve().parent)
FAKE = ("--engine", "scoring_fakes:counting_engine")
T = TypeVar("T")


@pytest.fixture(autouse=True)
def fake_on_path(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("PYTHONPATH", TESTS + os.pathsep + os.environ.get("PYTHONPATH", ""))
    yield


def row(account: str, i: int = 0) -> dict[str, Any]:
    return {"ts": 1_700_000_000.0 + i, "account_id": account, "prompt": f"hello {i}", "user_turns": 1}


def run(fn: Callable[[], Awaitable[T]]) -> T:
    return asyncio.run(asyncio.wait_for(fn(), 90))


async def until(cond: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.02)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_rows_are_scored_in_a_child_and_verdicts_come_back() -> None:
    async def go() -> tuple[Verdict, int | None, ScorerProcess]:
        cache = InMemoryVerdictCache()
        sp = ScorerProcess(scorer_argv("--pipe", *FAKE), cache, feed=True)
        await sp.start()
        for i in range(12):
            assert sp.submit(row("acct-a", i))
        await sp.drain(30)
        pid = sp.pid
        await until(lambda: sp.state == "on")
        v = await cache.get("acct-a")
        await sp.close()
        return v, pid, sp

    v, pid, sp = run(go)
    assert pid is not None and pid != os.getpid()
    assert v.reasons == ("observed 12",) and v.risk == pytest.approx(0.12)
    assert sp.pending() == 0 and sp.dropped == 0 and sp.restarts == 0
    assert not alive(pid), "close() stops the child"


def test_a_dead_scorer_is_restarted_and_no_row_is_lost() -> None:
    async def go() -> tuple[ScorerProcess, Verdict, Verdict, bool]:
        cache = InMemoryVerdictCache()
        sp = ScorerProcess(scorer_argv("--pipe", *FAKE), cache, feed=True)
        await sp.start()
        for i in range(5):
            sp.submit(row("acct-x", i))
        await sp.drain(30)
        first = sp.pid
        assert first is not None
        os.kill(first, signal.SIGKILL)
        await until(lambda: sp.down)
        was_down = sp.down
        for i in range(7):  # handed over while no scorer runs: kept until one has scored them
            assert sp.submit(row("acct-y", i))
        assert sp.pending() == 7
        await sp.drain(30)
        assert sp.pid not in (None, first)
        vx, vy = await cache.get("acct-x"), await cache.get("acct-y")
        await sp.close()
        return sp, vx, vy, was_down

    sp, vx, vy, was_down = run(go)
    assert was_down and sp.restarts == 1 and sp.dropped == 0 and sp.pending() == 0
    assert vx.reasons == ("observed 5",)  # published by the first child before it died
    assert vy.reasons == ("observed 7",)  # every row given while it was dead reached the new one


def test_a_row_that_kills_the_scorer_twice_is_dropped() -> None:
    async def go() -> tuple[ScorerProcess, Verdict]:
        cache = InMemoryVerdictCache()
        sp = ScorerProcess(scorer_argv("--pipe", *FAKE), cache, feed=True)
        await sp.start()
        sp.submit(row("crash-me"))
        sp.submit(row("acct-after", 1))
        await sp.drain(60)
        v = await cache.get("acct-after")
        await sp.close()
        return sp, v

    sp, v = run(go)
    assert sp.restarts == 2 and sp.dropped == 1
    assert v.reasons == ("observed 1",)


def test_backpressure_is_bounded_counted_and_never_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_ENGINE_LOAD_S", "3")  # the scorer is still loading: rows queue up

    async def go() -> tuple[ScorerProcess, list[bool], float, Verdict]:
        cache = InMemoryVerdictCache()
        sp = ScorerProcess(scorer_argv("--pipe", *FAKE), cache, feed=True, maxsize=10)
        await sp.start()
        t0 = time.perf_counter()
        accepted = [sp.submit(row("acct-b", i)) for i in range(15)]
        took = time.perf_counter() - t0
        await sp.drain(30)
        v = await cache.get("acct-b")
        await sp.close()
        return sp, accepted, took, v

    sp, accepted, took, v = run(go)
    assert accepted == [True] * 10 + [False] * 5
    assert sp.dropped == 5 and sp.pending() == 0
    assert took < 1.0  # submit returned at once although the scorer was not reading
    assert v.reasons == ("observed 10",)


def test_scorer_in_redis_mode_is_not_fed() -> None:
    sp = ScorerProcess(["true"], None, feed=False)
    assert not sp.submit(row("a")) and sp.pending() == 0
