"""Run a scenario: write accounts and labels as actors are created, then merge every actor's
event stream by time (heapq k-way merge) straight to events.jsonl in bounded memory.

With ``workers > 1`` the actors are split round-robin over worker processes; each merges its
share and sends batches through a pipe (which blocks when full, so memory stays bounded), and
the parent merges the workers' streams. Merge keys ``(ts, account_id, seq)`` are unique, so the
output is byte-identical for any number of workers.
"""

from __future__ import annotations

import csv
import heapq
import multiprocessing as mp
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from multiprocessing.connection import Connection
from pathlib import Path

import orjson

from hydrawatch.simulate.campaigns import campaign_actors
from hydrawatch.simulate.exchange import Item
from hydrawatch.simulate.models import DAY
from hydrawatch.simulate.populations import KINDS
from hydrawatch.simulate.scenarios import Scenario, get_scenario
from hydrawatch.simulate.world import Actor, World

PROGRESS_EVERY_S = 3.0
BATCH = 2048


@dataclass(slots=True)
class Summary:
    scenario: str
    seed: int
    scale: float
    accounts: int
    campaign_accounts: int
    events: int
    campaign_events: int
    bytes: int
    seconds: float

    def to_json(self) -> dict[str, object]:
        return {k: getattr(self, k) for k in self.__slots__}


def scaled(n: int, scale: float, minimum: int = 1) -> int:
    return max(minimum, round(n * scale)) if n > 0 else 0


def make_world(sc: Scenario, seed: int, responses: bool | None) -> World:
    start = datetime.fromisoformat(sc.start).timestamp()
    return World(
        seed=seed,
        start=start,
        end=start + sc.days * DAY,
        release_ts=None if sc.new_model_day is None else start + sc.new_model_day * DAY,
        responses=sc.responses if responses is None else responses,
    )


def actors(scenario: Scenario, world: World, scale: float) -> Iterator[Actor]:
    for spec in scenario.populations:
        yield from KINDS[spec.kind](world, spec, scaled(spec.accounts, scale))
    for camp in scenario.campaigns:
        yield from campaign_actors(world, camp, scaled(camp.accounts, scale, camp.min_accounts))


def _worker(conn: Connection, sc: Scenario, world: World, scale: float, index: int, workers: int) -> None:
    streams = [a.events for k, a in enumerate(actors(sc, world, scale)) if k % workers == index]
    batch: list[Item] = []
    for item in heapq.merge(*streams):
        batch.append(item)
        if len(batch) >= BATCH:
            conn.send(batch)
            batch = []
    conn.send(batch)
    conn.send(None)
    conn.close()


def _received(conn: Connection) -> Iterator[Item]:
    while True:
        batch = conn.recv()
        if batch is None:
            return
        yield from batch


def simulate(
    scenario: str | Scenario,
    out: Path,
    seed: int = 0,
    scale: float = 1.0,
    responses: bool | None = None,
    progress: Callable[[str], None] | None = None,
    workers: int = 1,
) -> Summary:
    """Generate ``out/events.jsonl``, ``out/accounts.jsonl`` and ``out/labels.csv``."""
    sc = get_scenario(scenario) if isinstance(scenario, str) else scenario
    if scale <= 0:
        raise ValueError("scale must be positive")
    if workers < 1:
        raise ValueError("workers must be at least 1")
    world = make_world(sc, seed, responses)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    streams: list[Iterator[Item]] = []
    campaign_ids: set[str] = set()
    n_accounts = 0
    with (out / "accounts.jsonl").open("wb") as fa, (out / "labels.csv").open("w", newline="") as fl:
        labels = csv.writer(fl, lineterminator="\n")
        labels.writerow(["account_id", "campaign_id", "population"])
        for actor in actors(sc, world, scale):
            fa.write(orjson.dumps(actor.account.to_json(), option=orjson.OPT_APPEND_NEWLINE))
            labels.writerow([actor.account.account_id, actor.campaign_id or "", actor.population])
            n_accounts += 1
            if actor.campaign_id:
                campaign_ids.add(actor.account.account_id)
            if workers == 1:
                streams.append(actor.events)
    procs: list[mp.process.BaseProcess] = []
    if workers > 1:
        ctx = mp.get_context("spawn")
        for i in range(workers):
            recv, send = ctx.Pipe(duplex=False)
            proc = ctx.Process(target=_worker, args=(send, sc, world, scale, i, workers), daemon=True)
            proc.start()
            send.close()
            procs.append(proc)
            streams.append(_received(recv))
    n_events = n_bytes = n_campaign_events = 0
    next_report = t0 + PROGRESS_EVERY_S
    try:
        with (out / "events.jsonl").open("wb", buffering=1 << 20) as fe:
            write = fe.write
            for item in heapq.merge(*streams):
                n_bytes += write(item[3])
                n_events += 1
                if item[1] in campaign_ids:
                    n_campaign_events += 1
                if progress is not None and not n_events & 0xFFF and time.monotonic() >= next_report:
                    now = time.monotonic()
                    next_report = now + PROGRESS_EVERY_S
                    day = (item[0] - world.start) / DAY
                    progress(
                        f"{n_events:,} events, {n_bytes / 1e6:,.0f} MB, day {day:.1f}/{sc.days:g}, "
                        f"{n_events / (now - t0):,.0f} ev/s"
                    )
    finally:
        for p in procs:
            p.join(timeout=5)
            if p.is_alive():
                p.terminate()
    if any(p.exitcode not in (0, None) for p in procs):
        raise RuntimeError("a simulator worker process failed")
    return Summary(
        sc.name,
        seed,
        scale,
        n_accounts,
        len(campaign_ids),
        n_events,
        n_campaign_events,
        n_bytes,
        round(time.monotonic() - t0, 2),
    )


def stderr_progress(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)
