"""Protection replay: a simulated scenario through ``hydrawatch serve``, in time order.

For each seed: ``hydrawatch simulate --scenario mixed --scale S --seed N``; one gateway key per
account (admin API; accounts marked verified, ``enterprise`` sign-ups on the enterprise tier,
and each account's payment fingerprint, as an account database would have them); then every
exchange of ``events.jsonl`` is sent through the gateway in time order, as fast as the gateway
answers (``--concurrency`` requests in flight), with its original timestamp in
``X-Hydrawatch-Replay-Ts`` (the benchmark-only ``replay_clock``: quotas, recording, scoring and
audit run on the scenario's clock), its IP in ``X-Forwarded-For`` (the bench is a trusted
proxy), its user agent and client fingerprint (``x-ja4``). The upstream
(``replay_upstream.py``) answers each exchange with its own recorded status and output tokens.

The scorer runs as in production (the embedded child, default policy), except that its
linkage pass is timed by the events' clock (``live_scoring.link_clock: events``, every
``--link-seconds`` of scenario time), and the replay waits for the scorer to catch up every
``--sync-seconds`` of scenario time, so the scorer is never further behind the traffic than
that (on a live system it keeps up in real time).

Then ``measure.py`` turns what the clients got and the audit log into the figures (labels
read by this script only). Results: ``--out DIR``/protection-<UTC>-s<seeds>.json and .md.

    .venv/bin/python bench/protection/replay.py --seeds 1,2             # scale 0.1, ~20-40 min per seed here
    .venv/bin/python bench/protection/replay.py --seeds 1 --limit 5000  # smoke run
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT / "bench" / "overhead"))
from bench_servers import free_port, start, stop, wait_ready  # noqa: E402
from measure import Label, Outcome, first_actions, measure  # noqa: E402

HW = str(Path(sys.executable).with_name("hydrawatch"))
ADMIN = "bench-admin-" + os.urandom(8).hex()

CONFIG = """\
admin_token: {admin}
trusted_proxies: ["127.0.0.1/32"]
replay_clock: true        # BENCHMARK ONLY
keys: {{cache_seconds: 60}}
record: {{prompts: full, flush_seconds: 2.0}}
live_scoring: {{enabled: true, link_seconds: {link}, link_clock: events}}
"""


# --------------------------------------------------------------------------- requests
def _anthropic(ev: dict[str, Any]) -> bool:
    p = ev.get("params") or {}
    return "thinking" in p or str(ev.get("user_agent") or "").startswith("Anthropic")


def build_request(ev: dict[str, Any], rid: str, key: str) -> tuple[str, bytes, dict[str, str]]:
    """(path, body, headers) of one recorded exchange, in the API its client used."""
    p = dict(ev.get("params") or {})
    headers = {
        "x-request-id": rid,
        "x-hydrawatch-replay-ts": repr(float(ev["ts"])),
        "content-type": "application/json",
    }
    if ev.get("ip"):
        headers["x-forwarded-for"] = str(ev["ip"])
    if ev.get("user_agent"):
        headers["user-agent"] = str(ev["user_agent"])
    if ev.get("client_fingerprint"):
        headers["x-ja4"] = str(ev["client_fingerprint"])
    msgs = ev.get("messages") or []
    if _anthropic(ev):
        headers["x-api-key"] = key
        headers["anthropic-version"] = "2023-06-01"
        body: dict[str, Any] = {
            "model": ev.get("model") or "replay",
            "max_tokens": p.pop("max_tokens", None) or 1024,
            "messages": [
                {
                    "role": "assistant" if m.get("role") == "assistant" else "user",
                    "content": m.get("content", ""),
                }
                for m in msgs
            ],
        }
        if ev.get("system"):
            body["system"] = ev["system"]
        for k in ("temperature", "top_p", "thinking", "stream"):
            if k in p:
                body[k] = p[k]
        if p.get("tools"):
            body["tools"] = [
                {
                    "name": (t.get("function") or {}).get("name", f"tool{i}"),
                    "input_schema": {"type": "object"},
                }
                for i, t in enumerate(p["tools"])
                if isinstance(t, dict)
            ]
        return "/v1/messages", orjson.dumps(body), headers
    headers["authorization"] = f"Bearer {key}"
    out: list[dict[str, Any]] = []
    if ev.get("system"):
        out.append({"role": "system", "content": ev["system"]})
    for m in msgs:
        role = m.get("role", "user")
        item: dict[str, Any] = {"role": role, "content": m.get("content", "")}
        if role == "tool":
            item["tool_call_id"] = "call_replay"
        out.append(item)
    body = {"model": ev.get("model") or "replay", "messages": out}
    for k in (
        "max_tokens",
        "temperature",
        "top_p",
        "logprobs",
        "top_logprobs",
        "stream",
        "tools",
        "reasoning_effort",
    ):
        if k in p:
            body[k] = p[k]
    return "/v1/chat/completions", orjson.dumps(body), headers


# ----------------------------------------------------------------------------- setup
def simulate(work: Path, scenario: str, seed: int, scale: float) -> Path:
    d = work / f"{scenario}-s{seed}-x{scale:g}"
    if not (d / "events.jsonl").exists():
        subprocess.run(
            [
                HW,
                "simulate",
                "--scenario",
                scenario,
                "--scale",
                str(scale),
                "--seed",
                str(seed),
                "--out",
                str(d),
                "--quiet",
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    return d


def load_events(path: Path, limit: int | None) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    with path.open("rb") as f:
        for line in f:
            ev = orjson.loads(line)
            ev.pop("response", None)
            out.append(ev)
            if limit is not None and len(out) >= limit:
                break
    out.sort(key=lambda e: e["ts"])
    return out


def load_labels(path: Path) -> dict[str, Label]:
    with path.open(encoding="utf-8") as f:
        return {r["account_id"]: Label(r["campaign_id"] or None, r["population"]) for r in csv.DictReader(f)}


def metric(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return 0.0


# ---------------------------------------------------------------------------- replay
async def provision(http: httpx.AsyncClient, base: str, accounts: list[dict[str, Any]]) -> dict[str, str]:
    hdr = {"authorization": f"Bearer {ADMIN}"}
    keys: dict[str, str] = {}
    for a in accounts:
        aid = a["account_id"]
        r = await http.post(base + "/admin/keys", json={"account_id": aid, "name": "replay"}, headers=hdr)
        r.raise_for_status()
        keys[aid] = r.json()["key"]
        upd: dict[str, Any] = {"verified": bool(a.get("verified"))}
        if a.get("signup_path") == "enterprise":
            upd["tier"] = "enterprise"
        # the provider's account database knows each account's card fingerprint
        pay = a.get("payment_fingerprint")
        if isinstance(pay, str) and pay:
            upd["payment_fingerprint"] = pay
        (await http.post(base + f"/admin/accounts/{aid}", json=upd, headers=hdr)).raise_for_status()
    return keys


async def wait_scored(http: httpx.AsyncClient, base: str, timeout: float = 600.0) -> float:
    """Wait until the scorer has no backlog; the seconds waited."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        text = (await http.get(base + "/metrics")).text
        if (
            metric(text, "hydrawatch_live_scoring_pending") == 0
            and metric(text, "hydrawatch_live_scoring_down") == 0
        ):
            return time.monotonic() - t0
        await asyncio.sleep(0.05)
    raise RuntimeError("the scorer did not catch up")


async def replay(
    base: str,
    events: list[dict[str, Any]],
    keys: dict[str, str],
    *,
    concurrency: int,
    sync_seconds: float,
) -> tuple[list[int], dict[str, Any]]:
    statuses = [-1] * len(events)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    stats: dict[str, Any] = {"sync_wait_s": 0.0, "syncs": 0, "errors": 0}
    async with httpx.AsyncClient(timeout=120.0, limits=limits) as http:
        sem = asyncio.Semaphore(concurrency)
        inflight: set[asyncio.Task[None]] = set()

        async def one(i: int) -> None:
            ev = events[i]
            path, body, headers = build_request(ev, f"ev-{i}", keys[ev["account_id"]])
            try:
                r = await http.post(base + path, content=body, headers=headers)
                await r.aread()
                statuses[i] = r.status_code
            except httpx.HTTPError:
                stats["errors"] += 1
            finally:
                sem.release()

        t0 = time.monotonic()
        next_sync = events[0]["ts"] + sync_seconds if events else 0.0
        for i, ev in enumerate(events):
            if ev["ts"] >= next_sync:
                if inflight:
                    await asyncio.gather(*inflight)
                stats["sync_wait_s"] += await wait_scored(http, base)
                stats["syncs"] += 1
                next_sync = ev["ts"] + sync_seconds
            await sem.acquire()
            t = asyncio.get_running_loop().create_task(one(i))
            inflight.add(t)
            t.add_done_callback(inflight.discard)
            if i and i % 5000 == 0:
                el = time.monotonic() - t0
                day = (ev["ts"] - events[0]["ts"]) / 86400
                print(
                    f"  {i}/{len(events)} events, scenario day {day:.2f}, {el:.0f} s, {i / el:.0f} req/s",
                    flush=True,
                )
        if inflight:
            await asyncio.gather(*inflight)
        stats["replay_s"] = time.monotonic() - t0
        stats["final_scoring_wait_s"] = await wait_scored(http, base)
    return statuses, stats


def run_seed(args: argparse.Namespace, seed: int, tmp: Path) -> dict[str, Any]:
    sim = simulate(args.work, args.scenario, seed, args.scale)
    events = load_events(sim / "events.jsonl", args.limit)
    labels = load_labels(sim / "labels.csv")
    accounts = [
        orjson.loads(line) for line in (sim / "accounts.jsonl").read_bytes().splitlines() if line.strip()
    ]
    run = tmp / f"seed{seed}"
    run.mkdir(parents=True)
    plan = run / "plan.tsv"
    with plan.open("w", encoding="utf-8") as f:
        for i, ev in enumerate(events):
            status, inp, out = (
                ev.get("status") or 200,
                ev.get("input_tokens") or 0,
                ev.get("output_tokens") or 0,
            )
            f.write(f"ev-{i}\t{int(status)}\t{int(inp)}\t{int(out)}\n")
    (run / "gw.yaml").write_text(CONFIG.format(admin=ADMIN, link=args.link_seconds))
    up_port, gw_port = free_port(), free_port()
    up = start(
        "upstream",
        [sys.executable, str(HERE / "replay_upstream.py"), "--plan", str(plan), "--port", str(up_port)],
        up_port,
        run,
    )
    gw = None
    try:
        wait_ready(up, "/ledger", timeout=60)
        gw = start(
            "hydrawatch",
            [HW, "serve", "--config", str(run / "gw.yaml"), "--state", str(run / "state"),
             "--upstream", f"{up.base}/v1", "--port", str(gw_port)],
            gw_port,
            run,
        )  # fmt: skip
        wait_ready(gw, "/healthz", timeout=120)

        async def go() -> tuple[list[int], dict[str, Any], dict[str, int], str]:
            async with httpx.AsyncClient(timeout=30.0) as http:
                keys = await provision(http, gw.base, accounts)
                while (await http.get(gw.base + "/healthz")).json().get("live_scoring") != "on":
                    await asyncio.sleep(0.2)
                statuses, stats = await replay(
                    gw.base, events, keys, concurrency=args.concurrency, sync_seconds=args.sync_seconds
                )
                ledger = (await http.get(up.base + "/ledger")).json()
                metrics_text = (await http.get(gw.base + "/metrics")).text
            return statuses, stats, ledger, metrics_text

        cpu0 = gw.cpu_seconds()
        statuses, stats, ledger, metrics_text = asyncio.run(go())
        stats["gateway_cpu_s"] = gw.cpu_seconds() - cpu0
    finally:
        if gw is not None:
            stop(gw)
        stop(up)
    audit = (
        [
            orjson.loads(line)
            for line in (run / "state" / "audit.jsonl").read_bytes().splitlines()
            if line.strip()
        ]
        if (run / "state" / "audit.jsonl").exists()
        else []
    )
    outcomes = [
        Outcome(
            account_id=ev["account_id"],
            ts=float(ev["ts"]),
            recorded_status=int(ev.get("status") or 200),
            recorded_output=int(ev.get("output_tokens") or 0),
            status=statuses[i],
            output=int(ledger.get(f"ev-{i}", 0)) if statuses[i] == 200 else 0,
        )
        for i, ev in enumerate(events)
    ]
    first, above = first_actions(audit)
    result = measure(outcomes, labels, first, above)
    counts: dict[str, int] = {}
    for s in statuses:
        counts[str(s)] = counts.get(str(s), 0) + 1
    result["run"] = {
        "seed": seed,
        "events": len(events),
        "scenario_days": (events[-1]["ts"] - events[0]["ts"]) / 86400 if events else 0,
        "statuses": counts,
        "audit_records": len(audit),
        "live_scoring_dropped": metric(metrics_text, "hydrawatch_live_scoring_dropped_total"),
        "live_scoring_restarts": metric(metrics_text, "hydrawatch_live_scoring_restarts_total"),
        "events_dropped": metric(metrics_text, "hydrawatch_events_dropped_total"),
        **stats,
    }
    return result


# ---------------------------------------------------------------------------- report
def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.2f}%"


def render(res: dict[str, Any]) -> str:
    lines = [
        f"# Protection replay: {res['scenario']} scenario, scale {res['scale']:g}",
        "",
        f"Command: `{res['command']}`  ",
        f"Revision: {res['revision']}; {res['utc']}; "
        f"load average at start/end: {res['load_start']} / {res['load_end']}",
        "",
        "Bars (tracker issue 4): each campaign gets < 5% of what it would get unprotected before it is "
        "throttled or blocked; <= 0.2% of legitimate accounts see an action above throttle.",
        "",
    ]
    for seed in res["seeds"]:
        r = res["results"][str(seed)]
        run = r["run"]
        lines += [
            f"## Seed {seed}",
            "",
            f"{run['events']} exchanges over {run['scenario_days']:.1f} scenario days replayed in "
            f"{run['replay_s']:.0f} s ({run['events'] / run['replay_s']:.0f} req/s); "
            f"statuses {run['statuses']}; scorer rows dropped {run['live_scoring_dropped']:g}, "
            f"restarts {run['live_scoring_restarts']:g}; "
            f"waits for the scorer {run['sync_wait_s']:.0f} s over {run['syncs']} syncs.",
            "",
            "| campaign | accounts | actioned (above throttle) | unprotected exchanges "
            "| before action: exchanges / tokens | served overall: exchanges / tokens "
            "| served before action per account p50 / p90 | hours to first action p50 / p90 |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for cid, c in r["campaigns"].items():
            q = c["served_before_action_per_account"] or {}
            h = c["hours_first_exchange_to_action"] or {}
            lines.append(
                f"| {cid} | {c['accounts']} | {c['accounts_actioned']} ({c['accounts_above_throttle']}) | "
                f"{c['unprotected_exchanges']} | "
                f"{_pct(c['before_action_exchange_share'])} / {_pct(c['before_action_token_share'])} | "
                f"{_pct(c['served_exchange_share'])} / {_pct(c['served_token_share'])} | "
                f"{q.get('p50', '-')} / {q.get('p90', '-')} | "
                + (f"{h['p50']:.1f} / {h['p90']:.1f}" if h else "-")
                + " |"
            )
        a = r["all_campaigns"]
        lines += [
            f"| all | | | {a['unprotected_exchanges']} | "
            f"{_pct(a['before_action_exchange_share'])} / {_pct(a['before_action_token_share'])} | "
            f"{_pct(a['served_exchange_share'])} / {_pct(a['served_token_share'])} | | |",
            "",
        ]
        lg = r["legitimate"]
        lines += [
            f"Legitimate accounts with an action above throttle: {lg['accounts_above_throttle']} of "
            f"{lg['accounts']} ({_pct(lg['share_above_throttle'])}); with any action (throttle included): "
            f"{lg['accounts_any_action']} ({_pct(lg['share_any_action'])}).",
            "",
            "| population | accounts | above throttle | any action | exchanges "
            "| refused by the gateway: 403 | 429 |",
            "|---|---|---|---|---|---|---|",
        ]
        for name, p in lg["populations"].items():
            lines.append(
                f"| {name} | {p['accounts']} | {p['accounts_above_throttle']} | {p['accounts_any_action']} | "
                f"{p['exchanges']} | {p['refused_403']} | {p['refused_429']} |"
            )
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", default="1,2")
    ap.add_argument("--scenario", default="mixed")
    ap.add_argument("--scale", type=float, default=0.1)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--link-seconds", type=float, default=300.0, help="linkage pass every N scenario seconds")
    ap.add_argument(
        "--sync-seconds", type=float, default=60.0, help="wait for the scorer every N scenario seconds"
    )
    ap.add_argument("--limit", type=int, default=None, help="replay only the first N exchanges (smoke runs)")
    ap.add_argument("--work", type=Path, default=Path("/work/runs/protection"), help="simulated scenarios")
    ap.add_argument("--out", type=Path, default=HERE / "results")
    ap.add_argument("--keep", action="store_true", help="keep the run directory (logs, state, audit)")
    args = ap.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    rev = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    res: dict[str, Any] = {
        "scenario": args.scenario,
        "scale": args.scale,
        "seeds": seeds,
        "command": " ".join([".venv/bin/python", "bench/protection/replay.py", *sys.argv[1:]]),
        "revision": rev + (" (uncommitted changes)" if dirty else ""),
        "utc": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "load_start": " ".join(f"{x:.1f}" for x in os.getloadavg()),
        "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "results": {},
    }
    tmp = Path(tempfile.mkdtemp(prefix="hw-protection-", dir=args.work))
    for seed in seeds:
        print(f"seed {seed}: simulating and replaying", flush=True)
        res["results"][str(seed)] = run_seed(args, seed, tmp)
        print(json.dumps(res["results"][str(seed)]["all_campaigns"]), flush=True)
        print(
            json.dumps(
                {k: v for k, v in res["results"][str(seed)]["legitimate"].items() if k != "populations"}
            ),
            flush=True,
        )
    res["load_end"] = " ".join(f"{x:.1f}" for x in os.getloadavg())
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = res["utc"].replace(":", "").replace("-", "")
    # the seeds in the name: runs of different seeds started in the same second do not collide
    suffix = "-s" + "-".join(str(x) for x in seeds) + ("-smoke" if args.limit else "")
    (args.out / f"protection-{stamp}{suffix}.json").write_text(json.dumps(res, indent=1, default=str))
    (args.out / f"protection-{stamp}{suffix}.md").write_text(render(res))
    print(render(res))
    if not args.keep:
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
    else:
        print(f"run directory kept: {tmp}")


if __name__ == "__main__":
    main()
