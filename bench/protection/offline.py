"""The live scorer alone, replayed over a simulated log in time order (no gateway, no HTTP).

A quick stand-in for ``replay.py`` while working on the scorer: the same engine the gateway's
scorer child runs (``score.engine.load_engine``, linkage passes on the events' clock), fed the
scenario's exchanges in time order; verdicts are read every ``--sync-seconds`` of scenario
time, as the replay does. An account counts as actioned from the first verdict whose risk
reaches the policy's throttle band (0.5) and as "above throttle" from one reaching 0.7.
Unlike ``replay.py`` nothing is refused, so each campaign's figure is what it got before its
accounts' first action, out of everything it sent.

    .venv/bin/python bench/protection/offline.py SIM_DIR [--link-seconds 300] [--sync-seconds 60]
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

from hydrawatch.events.schema import Exchange
from hydrawatch.features.request import describe_many
from hydrawatch.ingest import iter_accounts, iter_exchanges
from hydrawatch.score.engine import load_engine, to_verdict

THROTTLE = 0.5
ABOVE = 0.7


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("sim", type=Path, help="a directory written by hydrawatch simulate")
    ap.add_argument("--link-seconds", type=float, default=300.0)
    ap.add_argument("--sync-seconds", type=float, default=60.0)
    ap.add_argument("--json", type=Path, help="write the figures here too")
    ap.add_argument("--actions", type=Path, help="write each account's first action here (JSON lines)")
    ap.add_argument("--trace", type=float, default=0.0, help="print actioned accounts every N scenario hours")
    args = ap.parse_args()
    labels: dict[str, tuple[str, str]] = {}
    with (args.sim / "labels.csv").open() as fh:
        for r in csv.DictReader(fh):
            labels[r["account_id"]] = (r["campaign_id"], r["population"])
    engine = load_engine(link_seconds=args.link_seconds, link_clock="events")
    scorer = engine.scorer
    accounts_path = args.sim / "accounts.jsonl"
    payment: dict[str, str] = {}  # as the gateway's account store gives them, with the rows
    if accounts_path.exists():
        for acc in iter_accounts(accounts_path):
            if acc.payment_fingerprint:
                payment[acc.account_id] = acc.payment_fingerprint
    first: dict[str, float] = {}
    why: dict[str, tuple[float, list[str]]] = {}  # every actioned account: the first action's verdict
    above: set[str] = set()
    sent: dict[str, list[float]] = defaultdict(list)
    next_sync = -math.inf
    next_trace = -math.inf
    start = math.nan
    t0 = time.perf_counter()
    n = 0

    def take(verdicts: list[tuple[str, object]], now: float) -> None:
        for account, v in verdicts:
            verdict = to_verdict(v)
            risk = verdict.risk
            if risk >= THROTTLE and account not in first:
                first[account] = now
                why[account] = (risk, list(verdict.reasons))
            if risk >= ABOVE:
                above.add(account)

    batch: list[Exchange] = []
    next_progress = 20000

    def learn(batch: list[Exchange]) -> None:
        """Describe a batch at once (as the scorer child does with rows that arrive together)."""
        for ex, feats in zip(batch, describe_many(batch), strict=True):
            if engine.learn(ex, feats) and ex.account_id in payment:
                scorer.set_payment(ex.account_id, payment.pop(ex.account_id))
        batch.clear()

    for _, ex in iter_exchanges(args.sim / "events.jsonl"):
        n += 1
        if n == 1:
            start = ex.ts
        sent[ex.account_id].append(ex.ts)
        batch.append(ex)
        if len(batch) < 256 and ex.ts < next_sync and not engine.link_due():
            continue
        learn(batch)
        if args.trace and ex.ts >= next_trace:
            next_trace = ex.ts + args.trace * 3600
            groups: Counter[str] = Counter(labels.get(a, ("", "?"))[0] or "legit" for a in first)
            seen: Counter[str] = Counter(labels.get(a, ("", "?"))[0] or "legit" for a in sent)
            sizes = sorted(len(v) for a, v in sent.items() if labels.get(a, ("", ""))[0])
            med = sizes[len(sizes) // 2] if sizes else 0
            line = ", ".join(f"{g} {groups[g]}/{seen[g]}" for g in sorted(seen))
            print(f"[{(ex.ts - start) / 3600:5.1f} h] median campaign account n={med}: {line}", flush=True)
        if engine.link_due():
            take(engine.link(), ex.ts)
        if ex.ts >= next_sync:
            take(engine.verdicts(), ex.ts)
            next_sync = ex.ts + args.sync_seconds
        if n >= next_progress:
            next_progress = n + 20000
            print(f"{n:,} exchanges, {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
    learn(batch)
    per: dict[str, Counter[str]] = defaultdict(Counter)
    before_of: dict[str, list[int]] = defaultdict(list)  # campaign -> exchanges before action, per account
    for account, tss in sent.items():
        campaign, population = labels.get(account, ("", "unknown"))
        key = campaign or f"legit:{population}"
        t = first.get(account, math.inf)
        c = per[key]
        c["accounts"] += 1
        c["exchanges"] += len(tss)
        k_before = sum(1 for x in tss if x < t)
        c["before"] += k_before
        if campaign:
            before_of[key].append(k_before)
        c["actioned"] += account in first
        c["above"] += account in above
    out = {k: dict(v) for k, v in sorted(per.items())}
    print(f"{n:,} exchanges in {time.perf_counter() - t0:.0f} s; links {engine.links}")
    print("group | accounts | actioned | above throttle | exchanges | before action")
    for k, c in out.items():
        share = c["before"] / max(c["exchanges"], 1)
        print(
            f"{k} | {c['accounts']} | {c['actioned']} | {c['above']} | {c['exchanges']} | "
            f"{c['before']} ({share:.2%})"
        )
    for key, ks in sorted(before_of.items()):
        ks.sort()
        p50, p90 = ks[len(ks) // 2], ks[int(0.9 * len(ks))]
        print(f"{key}: exchanges before action per account p50 {p50}, p90 {p90}")
    for account, (risk, reasons) in sorted(why.items()):
        if labels.get(account, ("", ""))[0]:
            continue
        print(
            f"legitimate {account} ({labels[account][1]}) actioned at risk {risk:.2f}: {'; '.join(reasons)}"
        )
    if args.json:
        args.json.write_text(json.dumps(out, indent=2))
    if args.actions:
        with args.actions.open("w") as fh:
            for account, t in sorted(first.items()):
                campaign, population = labels.get(account, ("", "unknown"))
                risk, reasons = why[account]
                row = {"account_id": account, "campaign": campaign, "population": population, "ts": t}
                fh.write(json.dumps({**row, "risk": risk, "reasons": reasons}) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
