"""Gateway overhead benchmark: the upstream alone vs hydrawatch vs LiteLLM, in one run.

    .venv/bin/python bench/overhead/run.py [--quick]

Starts the upstream stub, ``hydrawatch serve`` (1 worker; auth, quotas, live scoring and
event recording on) and LiteLLM proxy (1 worker, master-key auth) on random free ports
with temp state dirs, then measures, interleaving the three targets:

1. concurrency 1, non-streaming: latency; added = proxy minus upstream alone (same percentile);
2. concurrency 1, streaming: time to the first SSE data chunk (TTFT) and whole-stream latency;
3. throughput with wrk (closed loop, ramped connections): the best req/s whose p99 stays
   under ``--p99-bound-ms``, and the peak req/s.

Peak RSS of each server (psutil, whole process tree) and the load average are recorded.
Results: ``bench/overhead/results/overhead-<UTC time>[-quick].{json,md}``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_servers import RssMonitor, stop
from bench_targets import LITELLM, Started, start_hydrawatch, start_litellm, start_upstream
from c1_loadgen import Series, Target, interleaved
from chat_workload import chat_bodies
from gateway_probe import SCORING_GAUGES, backlog, drain
from latency_stats import added, summarize
from results_report import BOUNDS_MS, best_under_bound, by_bound, ratio, render, rps_of
from wrkrun import WrkResult, available, run_wrk

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
PATH = "/v1/chat/completions"
# distinct request bodies for the throughput ramp: more than a gateway serves in a full run
# (about 60,000 at 2,000 req/s), so none is sent to it twice
N_BODIES = 200_000
NO_SCORING = "hydrawatch-no-scoring"  # --diagnose: the same gateway with live scoring off

# hydrawatch: the built-in defaults (auth, policy, quotas, live scoring, event recording all
# on) except the quota limits, raised so that the benchmark's one account is never refused
# (the default standard tier allows 300 requests a minute). Every request still makes a
# quota reservation and settles it; only the limit values differ.
GATEWAY_CONFIG = """\
quotas:
  tiers:
    standard:
      tokens-minute: 1000000000000
      tokens-day: 1000000000000
      requests-minute: 1000000000
      requests-day: 1000000000
  campaign: {tokens-minute: 1000000000000, tokens-day: 1000000000000, requests-minute: 1000000000}
"""


DIAGNOSE_EXTRA = "live_scoring: {enabled: false}\n"


class TimeLimit(Exception):
    pass


def _on_alarm(signum: int, frame: object) -> None:
    raise TimeLimit("total time limit reached")


def plan(quick: bool) -> dict[str, Any]:
    if quick:
        return {
            "c1_rounds": 4,
            "c1_per_round": 25,
            "st_rounds": 4,
            "st_per_round": 15,
            "warmup": 20,
            "levels": [1, 4, 16],
            "seconds": 2.0,
            "time_limit": 420,
        }
    return {
        "c1_rounds": 10,
        "c1_per_round": 100,
        "st_rounds": 10,
        "st_per_round": 40,
        "warmup": 50,
        "levels": [1, 2, 4, 8, 16, 32, 64],
        "seconds": 4.0,
        "time_limit": 1500,
    }


def machine() -> dict[str, Any]:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpus": os.cpu_count(), "cpu_model": model}


def git_revision() -> str:
    try:
        rev = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(ROOT), "status", "--porcelain", "--", "src/hydrawatch"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
        return rev + (" (+ uncommitted changes in src/hydrawatch)" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def litellm_version() -> str:
    py = LITELLM.parent / "python"
    try:
        out = subprocess.run(
            [str(py), "-c", "from importlib.metadata import version; print(version('litellm'))"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


class Loads:
    """Load-average samples taken at phase boundaries and between throughput levels."""

    def __init__(self) -> None:
        self.samples: list[float] = []

    def take(self) -> tuple[float, float, float]:
        la = os.getloadavg()
        self.samples.append(round(la[0], 2))
        return (round(la[0], 2), round(la[1], 2), round(la[2], 2))


def _is_gateway(name: str) -> bool:
    return name.startswith("hydrawatch")


def c1_phase(
    targets: list[Target], servers: dict[str, Started], p: dict[str, Any], stream: bool, deadline: float
) -> tuple[dict[str, Series], dict[str, float]]:
    """Interleaved concurrency-1 rounds; a gateway's backlog is drained after each of its blocks."""
    rounds, per = (p["st_rounds"], p["st_per_round"]) if stream else (p["c1_rounds"], p["c1_per_round"])
    bodies = chat_bodies(p["warmup"] + rounds * (per + 1) + 10, stream=stream)
    cpu0 = {k: s.server.cpu_seconds() for k, s in servers.items()}

    async def settle(t: Target) -> None:
        if _is_gateway(t.name):
            await asyncio.to_thread(drain, servers[t.name].server.base)

    res = asyncio.run(
        interleaved(
            targets,
            bodies,
            rounds=rounds,
            per_round=per,
            stream=stream,
            warmup=p["warmup"],
            deadline=deadline,
            after_block=settle,
        )
    )
    cpu = {}
    for k, s in servers.items():
        sent = len(res[k].total_ms) + sum(res[k].errors.values())
        cpu[k] = round((s.server.cpu_seconds() - cpu0[k]) * 1000 / max(1, sent), 3)
    return res, cpu


def throughput_phase(
    targets: list[Target],
    servers: dict[str, Started],
    p: dict[str, Any],
    client_cores: str | None,
    tmp: Path,
    deadline: float,
    loads: Loads,
) -> dict[str, list[WrkResult]]:
    """wrk at each connection level, targets interleaved; each target starts where it left off in
    one list of distinct bodies, so no body reaches a gateway twice (its text-features cache would
    answer a repeated prompt; a target that ran past the list is named in the notes)."""
    n_bodies = N_BODIES
    bodies_file = tmp / "bodies.jsonl"
    bodies_file.write_bytes(b"\n".join(chat_bodies(n_bodies, stream=False, seed=11)) + b"\n")
    sent = {t.name: 0 for t in targets}
    out: dict[str, list[WrkResult]] = {t.name: [] for t in targets}
    for i, conns in enumerate(p["levels"]):
        k = i % len(targets)
        for t in targets[k:] + targets[:k]:
            if time.monotonic() + p["seconds"] + 5 > deadline:
                print("  time limit: throughput ramp cut short", flush=True)
                return out
            srv = servers[t.name].server
            cpu0 = srv.cpu_seconds()
            r = run_wrk(
                f"http://{t.host}:{t.port}{t.path}",
                bodies_file,
                t.headers,
                connections=conns,
                seconds=p["seconds"],
                cores=client_cores,
                offset=sent[t.name] % n_bodies,
            )
            sent[t.name] += r.requests
            if _is_gateway(t.name):
                r.repeated_bodies = max(0, min(r.requests, sent[t.name] - n_bodies)) or None
                r.backlog_after = backlog(srv.base)
                # sustained rate: the exchanges served count as done once they are also
                # scored, so the time the scorer needed past wrk's end is added to wrk's time
                scoring_s = drain(srv.base, gauges=SCORING_GAUGES)
                r.drain_s = round(scoring_s + drain(srv.base), 3)
                r.rps_served = r.rps
                busy = r.requests / r.rps if r.rps > 0 else p["seconds"]
                r.rps = round(r.rps * busy / (busy + scoring_s), 1)
                r.scoring_drain_s = scoring_s
            r.cpu_ms_per_request = round((srv.cpu_seconds() - cpu0) * 1000 / max(1, r.requests), 3)
            out[t.name].append(r)
            extra = (
                f"  backlog {r.backlog_after} drained in {r.drain_s:.1f} s" if r.drain_s is not None else ""
            )
            print(
                f"  {t.name:<10} c={conns:<3} {r.rps:8.0f} req/s  p50 {r.p50_ms:7.2f} ms  "
                f"p99 {r.p99_ms:8.2f} ms  errors {r.errors}  cpu {r.cpu_ms_per_request:.2f} ms/req{extra}",
                flush=True,
            )
        loads.take()
    return out


def metrics_lines(base: str) -> list[str]:
    want = (
        "hydrawatch_events_recorded_total",
        "hydrawatch_events_dropped_total",
        "hydrawatch_decisions_total",
        "hydrawatch_requests_total",
        "hydrawatch_quota_denied_total",
        "hydrawatch_upstream_errors_total",
        "hydrawatch_live_scoring_pending",
        "hydrawatch_events_pending",
    )
    try:
        with urllib.request.urlopen(base + "/metrics", timeout=10) as r:
            text = r.read().decode()
    except OSError as e:
        return [f"(metrics unavailable: {e})"]
    return [ln for ln in text.splitlines() if ln.startswith(want)]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small request counts (about 3 minutes)")
    ap.add_argument(
        "--p99-bound-ms", type=float, default=50.0, help="p99 bound for sustained req/s (default 50)"
    )
    ap.add_argument(
        "--time-limit",
        type=float,
        default=None,
        help="seconds for the whole run (default 420 quick, 1500 full)",
    )
    ap.add_argument("--no-pin", action="store_true", help="do not pin servers and load generators to CPUs")
    ap.add_argument("--no-wrk", action="store_true", help="skip the throughput phase")
    ap.add_argument(
        "--diagnose",
        action="store_true",
        help=f"also measure {NO_SCORING} (live_scoring disabled) to split the gateway's overhead",
    )
    ap.add_argument("--out", type=Path, default=HERE / "results")
    ap.add_argument("--keep-temp", action="store_true", help="keep the temp dir (server logs, state)")
    a = ap.parse_args(argv)
    p = plan(a.quick)
    limit = a.time_limit or p["time_limit"]
    t_start = time.monotonic()
    deadline = t_start + limit
    signal.signal(signal.SIGALRM, _on_alarm)
    signal.alarm(int(limit) + 120)  # hard stop; servers are still stopped in `finally`

    pin = (os.cpu_count() or 1) >= 2 and not a.no_pin
    proxy_cores, client_cores = ("1", "0") if pin else (None, None)
    if pin:
        os.sched_setaffinity(0, {0})  # this process is the concurrency-1 load generator
    do_wrk = not a.no_wrk and available()
    if not a.no_wrk and not do_wrk:
        print("wrk not found (apt-get install wrk): throughput phase skipped", file=sys.stderr)

    tmp = Path(tempfile.mkdtemp(prefix="hw-overhead-"))
    loads = Loads()
    started: dict[str, Started] = {}
    res: dict[str, Any] = {
        "started_utc": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "command": " ".join(
            ["python bench/overhead/run.py", *(shlex.quote(x) for x in (argv or sys.argv[1:]))]
        ),
        "quick": a.quick,
        "plan": p,
        "machine": machine(),
        "hydrawatch_revision": git_revision(),
        "litellm_version": litellm_version(),
        "pinning": {"proxies": proxy_cores, "clients": client_cores} if pin else None,
        "notes": [],
    }
    res["machine"]["loadavg_start"] = loads.take()
    print(f"load average {res['machine']['loadavg_start']}; temp dir {tmp}", flush=True)
    exit_code = 0
    try:
        started["upstream"] = start_upstream(tmp, client_cores)
        started["hydrawatch"] = start_hydrawatch(tmp, started["upstream"].server, proxy_cores, GATEWAY_CONFIG)
        if a.diagnose:
            started[NO_SCORING] = start_hydrawatch(
                tmp, started["upstream"].server, proxy_cores, GATEWAY_CONFIG + DIAGNOSE_EXTRA, NO_SCORING
            )
        print("starting LiteLLM (about 30 s)...", flush=True)
        started["litellm"] = start_litellm(tmp, started["upstream"].server, proxy_cores)
        with urllib.request.urlopen(started["hydrawatch"].server.base + "/healthz", timeout=10) as r:
            health = json.loads(r.read())
        res["hydrawatch_health"] = health
        if health.get("live_scoring") in (None, False, "off"):
            res["notes"].append(
                "hydrawatch reported live_scoring off (/healthz): scoring was NOT on in this run"
            )
        res["configs"] = {k: {"command": s.command, "config": s.config_text} for k, s in started.items()}
        targets = [Target(k, "127.0.0.1", s.server.port, PATH, s.headers) for k, s in started.items()]
        servers = {k: s for k, s in started.items() if k != "upstream"}

        with RssMonitor([s.server for s in started.values()]):
            print("concurrency 1, non-streaming...", flush=True)
            r1, cpu = c1_phase(targets, servers, p, False, deadline)
            lat = {k: summarize(v.total_ms) for k, v in r1.items()}
            res["c1"] = {
                "latency": lat,
                "errors": {k: dict(v.errors) for k, v in r1.items()},
                "added": {k: added(lat[k], lat["upstream"]) for k in servers},
            }
            res["cpu_ms_per_request_c1"] = cpu
            res["machine"]["loadavg_after_c1"] = loads.take()
            for k in started:
                print(
                    f"  {k:<10} p50 {lat[k]['p50']:8.3f} ms  p99 {lat[k]['p99']:8.3f} ms  n={lat[k]['n']} "
                    f"errors={dict(r1[k].errors)}",
                    flush=True,
                )

            print("concurrency 1, streaming...", flush=True)
            r2, _ = c1_phase(targets, servers, p, True, deadline)
            ttft = {k: summarize(v.ttft_ms) for k, v in r2.items()}
            whole = {k: summarize(v.total_ms) for k, v in r2.items()}
            res["stream_c1"] = {
                "ttft": ttft,
                "latency": whole,
                "errors": {k: dict(v.errors) for k, v in r2.items()},
                "ttft_added": {k: added(ttft[k], ttft["upstream"]) for k in servers},
            }
            res["machine"]["loadavg_after_stream"] = loads.take()
            for k in started:
                print(
                    f"  {k:<10} TTFT p50 {ttft[k]['p50']:8.3f} ms  p99 {ttft[k]['p99']:8.3f} ms  "
                    f"errors={dict(r2[k].errors)}",
                    flush=True,
                )

            if do_wrk:
                print(f"throughput (wrk, {p['seconds']:g} s per level)...", flush=True)
                lv = throughput_phase(targets, started, p, client_cores, tmp, deadline, loads)
                levels = {k: [x.to_json() for x in v] for k, v in lv.items()}
                best = {k: best_under_bound(v, a.p99_bound_ms) for k, v in levels.items()}
                peak = {k: max(v, key=lambda x: float(x["rps"])) if v else None for k, v in levels.items()}
                res["throughput"] = {
                    "p99_bound_ms": a.p99_bound_ms,
                    "seconds": p["seconds"],
                    "levels": levels,
                    "best": best,
                    "peak": peak,
                    "ratio_under_bound": ratio(rps_of(best["hydrawatch"]), rps_of(best["litellm"])),
                    "ratio_peak": ratio(rps_of(peak["hydrawatch"]), rps_of(peak["litellm"])),
                    "by_bound": by_bound(levels, BOUNDS_MS),
                }
                repeated = sorted({k for k, v in lv.items() for x in v if x.repeated_bodies})
                if repeated:
                    res["notes"].append(
                        f"{', '.join(repeated)} ran past the {N_BODIES} distinct bodies: some prompts were "
                        "sent twice (answered from the gateway's text-features cache); see repeated_bodies"
                    )
                if best["litellm"] is None:
                    res["notes"].append(
                        f"LiteLLM never kept p99 <= {a.p99_bound_ms:g} ms: no under-bound ratio"
                    )
            res["hydrawatch_metrics"] = metrics_lines(started["hydrawatch"].server.base)
        res["peak_rss_mib"] = {k: round(s.server.peak_rss_bytes / 2**20, 1) for k, s in started.items()}
    except TimeLimit:
        res["notes"].append("the run hit its hard time limit; figures are partial")
        exit_code = 2
    except RuntimeError as e:
        print(f"error: {e}", file=sys.stderr)
        res["notes"].append(f"error: {e}")
        exit_code = 1
    finally:
        signal.alarm(0)
        for k in reversed(list(started)):
            stop(started[k].server)
        if not a.keep_temp and exit_code == 0:
            shutil.rmtree(tmp, ignore_errors=True)
    res["machine"]["loadavg_end"] = loads.take()
    res["machine"]["loadavg_min"] = min(loads.samples)
    res["machine"]["loadavg_max"] = max(loads.samples)
    res["elapsed_s"] = round(time.monotonic() - t_start, 1)
    res["notes"] += [
        "added = proxy percentile minus upstream-alone percentile, from the same interleaved rounds",
        "hydrawatch config: built-in defaults except quota limits raised (see its config); quotas are still "
        "reserved and settled on every request",
        "LiteLLM: master-key auth, no database (so no virtual keys, budgets or spend logs)",
        "CPU per request: the process tree's user+system CPU during the phase / requests sent to it "
        "(includes background work such as event writes and scoring)",
    ]
    if exit_code == 0 or "c1" in res:
        a.out.mkdir(parents=True, exist_ok=True)
        stem = a.out / f"overhead-{res['started_utc'].replace(':', '')}{'-quick' if a.quick else ''}"
        stem.with_suffix(".json").write_text(json.dumps(res, indent=2, default=str) + "\n")
        if "peak_rss_mib" in res and "configs" in res:
            stem.with_suffix(".md").write_text(render(res) + "\n")
        print(f"results: {stem}.json / .md", flush=True)
    return exit_code


if __name__ == "__main__":
    raise SystemExit(main())
