"""Quota accuracy through the gateway: N ``hydrawatch serve --redis`` replicas (separate
processes, one Redis, a random key prefix) x M concurrent SDK clients against an upstream
whose real usage differs from the gateway's estimate.

Prints one table row per run:
  overshoot   worst (counter - limit) / limit over every account and campaign token limit (bar <= 1%)
  mismatched  counters whose final value differs from the usage the upstream really produced for
              the requests the gateway admitted (cancelled streams: what was sent) (bar: 0)
  pending     reservations never settled (bar: 0)

Usage: .venv/bin/python bench/replicas/quota_accuracy.py [--replicas 3] [--clients 200]
       [--per-client 5] [--accounts 40] [--seed 1] [--margin M]   (no --margin: the default)
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import redis
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from workload import Sdks, compare, expected_totals, make_plans, overshoots, read_counters, run_clients

from hydrawatch.gateway.keystore import RedisKeyStore
from hydrawatch.policy import Verdict, make_verdict_cache

ROOT = Path(__file__).resolve().parents[2]
PY = ROOT / ".venv" / "bin" / "python"
HW = ROOT / ".venv" / "bin" / "hydrawatch"
REDIS_URL = "redis://127.0.0.1:6379/0"
TIER = {"tokens-day": 14_000, "input-tokens-day": 5_000, "output-tokens-day": 10_000, "requests-day": 1000}
CAMPAIGN = {"tokens-day": 250_000, "input-tokens-day": 100_000, "output-tokens-day": 180_000}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2.0).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up")


def limits_map() -> dict[tuple[str, str], int]:
    out = {("account", k): v for k, v in TIER.items()}
    out.update({("campaign", k): v for k, v in CAMPAIGN.items()})
    return out


async def setup_accounts(
    prefix: str, secret: str, accounts: list[str], campaign_of: dict[str, str]
) -> dict[str, str]:
    import redis.asyncio as aioredis

    store = RedisKeyStore(aioredis.Redis.from_url(REDIS_URL), prefix, secret)
    keys = {a: (await store.create_key(a))[0] for a in accounts}
    await store.close()
    verdicts = make_verdict_cache(REDIS_URL, key_prefix=prefix)
    for a, c in campaign_of.items():
        await verdicts.put(a, Verdict(0.3, c, ("bench campaign member",)))
    await verdicts.close()
    return keys


def settle_wait(r: redis.Redis, qprefix: str, timeout: float = 60.0) -> None:
    """Until no reservation is pending and the counters stop changing."""
    last: Any = None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        counters, pending = read_counters(r, qprefix)
        if pending == 0 and counters == last:
            return
        last = counters
        time.sleep(1.0)


def run(args: argparse.Namespace, margin: float | None) -> dict[str, Any]:
    prefix = f"hwbench:{secrets.token_hex(5)}:"
    secret = secrets.token_hex(32)
    procs: list[subprocess.Popen[bytes]] = []
    r = redis.Redis.from_url(REDIS_URL)
    tmp = Path(tempfile.mkdtemp(prefix="hw-replicas-"))
    try:
        up_port = free_port()
        procs.append(
            subprocess.Popen(
                [
                    str(PY),
                    str(Path(__file__).with_name("usage_upstream.py")),
                    "--port",
                    str(up_port),
                    "--ratio-low",
                    str(args.ratio_low),
                    "--ratio-high",
                    str(args.ratio_high),
                ],
            )
        )
        up_url = f"http://127.0.0.1:{up_port}"
        quotas: dict[str, Any] = {"tiers": {"standard": TIER}, "campaign": CAMPAIGN, "timeout_ms": 5000}
        if margin is not None:
            quotas["input_estimate_margin"] = margin
        cfg = {
            "redis": REDIS_URL,
            "redis_prefix": prefix,
            "upstreams": [{"base_url": up_url + "/v1", "models": ["*"]}],
            "live_scoring": False,
            "keys": {"secret": secret, "cache_seconds": 1},
            "quotas": quotas,
        }
        (tmp / "gw.yaml").write_text(yaml.safe_dump(cfg))
        ports = [free_port() for _ in range(args.replicas)]
        for i, port in enumerate(ports):
            (tmp / f"r{i}").mkdir()
            procs.append(
                subprocess.Popen(
                    [
                        str(HW),
                        "serve",
                        "--config",
                        str(tmp / "gw.yaml"),
                        "--port",
                        str(port),
                        "--log-level",
                        "error",
                    ],
                    cwd=tmp / f"r{i}",
                )
            )
        wait_http(up_url + "/truth")
        urls = [f"http://127.0.0.1:{p}" for p in ports]
        for u in urls:
            wait_http(u + "/healthz")
        plans = make_plans(
            args.seed, clients=args.clients, per_client=args.per_client, accounts=args.accounts
        )
        campaign_of = {p.account: p.campaign for p in plans if p.campaign}
        accounts = sorted({p.account for p in plans})
        keys = asyncio.run(setup_accounts(prefix, secret, accounts, campaign_of))

        async def drive() -> list[Any]:
            sdks = Sdks(urls, keys)
            try:
                return await run_clients(sdks, plans, len(urls))
            finally:
                await sdks.aclose()

        t0 = time.perf_counter()
        outcomes = asyncio.run(drive())
        elapsed = time.perf_counter() - t0
        qprefix = prefix + "quota:"
        settle_wait(r, qprefix)
        truth = httpx.get(up_url + "/truth", timeout=30.0).json()
        expected, tally, unanswered = expected_totals(plans, outcomes, truth)
        counters, pending = read_counters(r, qprefix)
        bad = compare(counters, expected, unanswered)
        worst = overshoots(counters, limits_map())
        return {
            "margin": "default" if margin is None else margin,
            "requests": len(plans),
            "elapsed": elapsed,
            "tally": tally,
            "counters": sum(1 for k in counters if k[2] != "requests"),
            "mismatched": bad,
            "pending": pending,
            "worst": worst[:3],
            "errors": sorted({o.error for o in outcomes if o.status not in (200, 429)})[:5],
        }
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                p.kill()
        names = list(r.scan_iter(match=prefix + "*", count=1000))
        if names:
            r.delete(*names)
        r.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--replicas", type=int, default=3)
    ap.add_argument("--clients", type=int, default=200)
    ap.add_argument("--per-client", type=int, default=5)
    ap.add_argument("--accounts", type=int, default=40)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--margin", type=float, action="append", help="input_estimate_margin (repeatable)")
    ap.add_argument("--ratio-low", type=float, default=3.0, help="real chars per input token, lowest")
    ap.add_argument("--ratio-high", type=float, default=4.6, help="real chars per input token, highest")
    args = ap.parse_args()
    margins: list[float | None] = list(args.margin) if args.margin else [None]
    print(
        f"{args.replicas} replicas x {args.clients} clients x {args.per_client} requests, "
        f"{args.accounts} accounts (half in one campaign), seed {args.seed}, "
        f"real input = chars / U({args.ratio_low}, {args.ratio_high}); load average {os.getloadavg()[0]:.1f}"
    )
    print(
        "| margin | requests | completed / streamed / cancelled / 429 / other | campaign verdict missed | "
        "token counters | mismatched | pending | max overshoot | req/s |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for m in margins:
        res = run(args, m)
        t = res["tally"]
        other = sum(v for k, v in t.items() if k.startswith("status") and k != "status 429")
        other += t["connection error"]
        worst = res["worst"][0] if res["worst"] else None
        ws = f"{worst[3] * 100:.2f}% ({worst[0][0]} {worst[0][2]})" if worst else "-"
        print(
            f"| {res['margin']} | {res['requests']} | {t['completed']} / {t['completed (stream)']} / "
            f"{t['cancelled stream']} / {t['status 429']} / {other} | {t['campaign verdict missed']} | "
            f"{res['counters']} | {len(res['mismatched'])} | {res['pending']} | {ws} | "
            f"{res['requests'] / res['elapsed']:.0f} |"
        )
        if res["mismatched"]:
            print("  mismatched (key, counter, expected):", res["mismatched"][:5])
        if res["errors"]:
            print("  client errors:", res["errors"])
        print("  outcomes:", dict(sorted(t.items())))
        print("  worst three:", [(w[0], w[1], w[2], f"{w[3] * 100:.2f}%") for w in res["worst"]])


if __name__ == "__main__":
    main()
