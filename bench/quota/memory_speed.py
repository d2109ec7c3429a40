"""Cost of one reserve + settle on the in-process store (what the gateway adds per request).

Usage: .venv/bin/python bench/quota/memory_speed.py [--n 50000]
"""

from __future__ import annotations

import argparse
import asyncio
import time

from hydrawatch.policy import AccountInfo, Policy, Verdict
from hydrawatch.quota import Reservation, Usage, load_limits, make_quota_store


async def run(n: int) -> dict[str, float]:
    store = make_quota_store(load_limits(None), None)
    policy = Policy.load(None)
    lat: list[float] = []
    t_all = time.perf_counter()
    for i in range(n):
        t0 = time.perf_counter()
        d = policy.decide(
            AccountInfo(f"a{i % 1000}"), Verdict(0.3 if i % 10 else 0.6, "c" if i % 7 == 0 else None)
        )
        r = await store.reserve(
            f"a{i % 1000}", d.campaign_id, Usage(500, 256), tier="enterprise", factor=d.throttle_factor
        )
        if isinstance(r, Reservation):
            await store.settle(r, Usage(480, 100))
        lat.append(time.perf_counter() - t0)
    total = time.perf_counter() - t_all
    lat.sort()
    return {
        "n": n,
        "per_s": round(n / total),
        "p50_us": round(1e6 * lat[n // 2], 1),
        "p99_us": round(1e6 * lat[int(n * 0.99)], 1),
        "max_us": round(1e6 * lat[-1], 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=50_000)
    print(asyncio.run(run(ap.parse_args().n)))


if __name__ == "__main__":
    main()
