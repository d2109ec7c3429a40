"""Quota accuracy under contention: N gateway-like worker processes x M concurrent clients
hammer reserve/settle on shared limits through Redis.

Prints, for every counter, the final value, its limit and the sum of the actual usage the
workers settled against it, then:
  overshoot: the worst (final - limit) / limit over all token limits (bar: <= 1%)
  lost usage: counters whose final value differs from the usage settled into them (bar: none)

All reservations fall in one quota window (every worker uses the same ``now``), so the final
counter values are exactly comparable with the settled usage.

Usage: .venv/bin/python bench/quota/quota_contention.py [--workers 3] [--clients 200] [--ops 20]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import secrets
import sys
import time
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context
from typing import Any

REDIS_URL = "redis://127.0.0.1:6379/0"


@dataclass(frozen=True)
class Setup:
    redis_url: str
    prefix: str
    now: float
    accounts: int
    campaign_every: int  # every n-th account belongs to the campaign
    clients: int
    ops: int
    seed: int
    input_jitter: float  # actual input tokens = estimate x U(1 - j, 1 + j)
    start_at: float
    margin: float  # quotas.input_estimate_margin


def quota_config(prefix: str, margin: float = 0.2) -> dict[str, Any]:
    return {
        "quotas": {
            "key_prefix": prefix,
            "input_estimate_margin": margin,
            "timeout_ms": 5000,
            "tiers": {
                "standard": {
                    "tokens-minute": 20_000,
                    "output-tokens-minute": 12_000,
                    "tokens-day": 10_000_000,
                    "requests-minute": 200,
                }
            },
            "campaign": {"tokens-minute": 150_000, "input-tokens-minute": 60_000, "requests-minute": 5_000},
        }
    }


def worker(setup: Setup, worker_id: int) -> dict[str, Any]:
    return asyncio.run(_worker(setup, worker_id))


async def _worker(setup: Setup, worker_id: int) -> dict[str, Any]:
    from hydrawatch.quota import Reservation, Usage, load_limits, make_quota_store

    store = make_quota_store(load_limits(quota_config(setup.prefix, setup.margin)), setup.redis_url)
    settled: dict[str, int] = defaultdict(int)  # counter key -> sum of actual usage settled into it
    stats = {"reserved": 0, "denied": 0, "state_errors": 0}
    latencies: list[float] = []
    rng = random.Random(setup.seed * 1000 + worker_id)

    async def client(c: int) -> None:
        for _ in range(setup.ops):
            a = rng.randrange(setup.accounts)
            campaign = "camp-1" if a % setup.campaign_every == 0 else None
            prompt = rng.randint(50, 1500)
            max_tokens = rng.choice([64, 256, 512, 1024])
            t0 = time.perf_counter()
            r = await store.reserve(f"acct-{a}", campaign, Usage(prompt, max_tokens), setup.now)
            latencies.append(time.perf_counter() - t0)
            if r.state_error:
                stats["state_errors"] += 1
            if not isinstance(r, Reservation):
                stats["denied"] += 1
                await asyncio.sleep(rng.random() * 0.005)
                continue
            stats["reserved"] += 1
            await asyncio.sleep(rng.random() * 0.003)  # the upstream call
            j = setup.input_jitter
            actual = Usage(round(prompt * rng.uniform(1 - j, 1 + j)), rng.randint(0, max_tokens))
            await store.settle(r, actual)
            for key, metric in r.charged:
                settled[key] += actual.amount(metric)

    while time.time() < setup.start_at:
        await asyncio.sleep(0.01)
    t0 = time.perf_counter()
    await asyncio.gather(*(client(c) for c in range(setup.clients)))
    elapsed = time.perf_counter() - t0
    await store.close()
    latencies.sort()
    return {
        "settled": dict(settled),
        "stats": stats,
        "elapsed": elapsed,
        "p50_ms": 1000 * latencies[len(latencies) // 2],
        "p99_ms": 1000 * latencies[int(len(latencies) * 0.99)],
    }


def run(
    workers: int = 3,
    clients: int = 200,
    ops: int = 20,
    redis_url: str = REDIS_URL,
    seed: int = 1,
    input_jitter: float = 0.2,
    accounts: int = 40,
    margin: float = 0.2,
) -> dict[str, Any]:
    """Run the contention test; returns the figures (and deletes its Redis keys)."""
    import redis

    from hydrawatch.quota import load_limits
    from hydrawatch.quota.plan import plan_charges
    from hydrawatch.quota.usage import Usage

    prefix = f"hwbench:{secrets.token_hex(6)}:"
    now = time.time()
    setup = Setup(
        redis_url, prefix, now, accounts, 2, clients, ops, seed, input_jitter, time.time() + 1.5, margin
    )
    ctx = get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
        results = list(pool.map(worker, [setup] * workers, range(workers)))

    settled: dict[str, int] = defaultdict(int)
    for res in results:
        for k, v in res["settled"].items():
            settled[k] += v
    limits = load_limits(quota_config(prefix))
    caps: dict[str, tuple[str, int]] = {}
    for a in range(accounts):
        camp = "camp-1" if a % 2 == 0 else None
        for c in plan_charges(limits, f"acct-{a}", camp, Usage(0, 0, 0), now):
            caps[c.key] = (c.limit.metric, c.cap)

    client = redis.Redis.from_url(redis_url)
    try:
        counters: list[dict[str, Any]] = []
        for key, (metric, cap) in sorted(caps.items()):
            raw = client.get(prefix + key)
            final = int(raw) if raw is not None else 0
            row = {"key": key, "metric": metric, "limit": cap, "final": final, "settled": settled.get(key, 0)}
            counters.append(row)
        pending = sum(1 for _ in client.scan_iter(match=prefix + "res:*", count=1000))
    finally:
        keys = list(client.scan_iter(match=prefix + "*", count=1000))
        if keys:
            client.delete(*keys)
    token_counters = [c for c in counters if c["metric"] != "requests"]
    worst = max(token_counters, key=lambda c: (c["final"] - c["limit"]) / c["limit"])
    stats = {k: sum(r["stats"][k] for r in results) for k in results[0]["stats"]}
    elapsed = max(r["elapsed"] for r in results)
    return {
        "workers": workers,
        "clients_per_worker": clients,
        "ops_per_client": ops,
        "input_jitter": input_jitter,
        "input_estimate_margin": margin,
        **stats,
        "ops_per_s": round((stats["reserved"] * 2 + stats["denied"]) / elapsed),
        "reserve_p50_ms": round(max(r["p50_ms"] for r in results), 2),
        "reserve_p99_ms": round(max(r["p99_ms"] for r in results), 2),
        "counters": len(counters),
        "counters_at_limit": sum(1 for c in token_counters if c["final"] >= 0.95 * c["limit"]),
        "max_overshoot": round(max(0.0, (worst["final"] - worst["limit"]) / worst["limit"]), 6),
        "worst_counter": worst,
        "lost_usage_counters": [c for c in counters if c["final"] != c["settled"]],
        "unsettled_reservations": pending,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workers", type=int, default=3)
    ap.add_argument("--clients", type=int, default=200)
    ap.add_argument("--ops", type=int, default=20)
    ap.add_argument("--redis", default=REDIS_URL)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--input-jitter", type=float, default=0.2)
    ap.add_argument("--margin", type=float, default=0.2, help="quotas.input_estimate_margin")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = ap.parse_args()
    out = run(
        args.workers, args.clients, args.ops, args.redis, args.seed, args.input_jitter, margin=args.margin
    )
    if args.json:
        print(json.dumps(out, indent=2))
    else:
        for k, v in out.items():
            print(f"{k:>24}: {v}")
        ok = out["max_overshoot"] <= 0.01 and not out["lost_usage_counters"] and out["state_errors"] == 0
        print(f"{'bar':>24}: {'PASS' if ok else 'FAIL'} (overshoot <= 1%, no usage lost, no state errors)")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "src"))
    sys.exit(main())
