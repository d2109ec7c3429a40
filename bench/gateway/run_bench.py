"""Gateway overhead benchmark: latency added at concurrency 1, stream TTFB, throughput.

Starts a raw-ASGI fake upstream and ``hydrawatch serve`` (embedded mode, or ``--redis URL``)
as subprocesses, then drives both directly and through the gateway with the same
keep-alive client, interleaved in blocks so machine noise hits both alike.

    .venv/bin/python bench/gateway/run_bench.py                     # embedded
    .venv/bin/python bench/gateway/run_bench.py --redis redis://127.0.0.1:6379/0
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psutil

sys.path.insert(0, str(Path(__file__).parent))
from loadgen import Stats, concurrent, sequential

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent / "hydrawatch"
BODY = json.dumps(
    {
        "model": "bench-model",
        "max_tokens": 256,
        "messages": [{"role": "user", "content": "Say hello to the bench."}],
    }
).encode()
STREAM_BODY = json.dumps(
    {"model": "bench-model", "stream": True, "messages": [{"role": "user", "content": "Stream a hello."}]}
).encode()
CONFIG = """
quotas:
  tiers:
    standard:
      tokens-minute: 1000000000
      tokens-day: 1000000000000
      requests-minute: 100000000
      requests-day: 10000000000
  campaign: {{}}
record: {{prompts: full}}
{redis}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"process exited: {proc.args}")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise SystemExit(f"{url} did not come up")


def cpu_s(proc: subprocess.Popen[bytes]) -> float:
    t = psutil.Process(proc.pid).cpu_times()
    return float(t.user + t.system)


def summary(name: str, st: Stats, attr: str = "total_ms") -> dict[str, float]:
    out = {"n": len(st.samples), "errors": st.errors}
    out.update({f"p{q}": round(st.pct(q, attr), 3) for q in (50, 90, 99)})
    print(
        f"  {name:<28} n={out['n']:<6} p50={out['p50']:.3f} ms  p90={out['p90']:.3f} ms"
        f"  p99={out['p99']:.3f} ms"
        f"  errors={st.errors}"
    )
    return out


async def interleaved(
    up: int, gw: int, body: bytes, gw_headers: dict[str, str], n: int, block: int
) -> tuple[Stats, Stats]:
    direct, through = Stats(), Stats()
    for _ in range(max(1, n // block)):
        for port, hdr, acc in ((up, {}, direct), (gw, gw_headers, through)):
            s = await sequential("127.0.0.1", port, "/v1/chat/completions", body, hdr, block)
            acc.samples += s.samples
            acc.errors += s.errors
    return direct, through


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument(
        "--requests", type=int, default=2000, help="sequential requests per target (concurrency 1)"
    )
    ap.add_argument("--stream-requests", type=int, default=400)
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--seconds", type=float, default=8.0)
    ap.add_argument("--redis", default=None)
    ap.add_argument("--out", type=Path, default=None, help="write the figures as JSON")
    a = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="hw-gw-bench-"))
    prefix = f"hwbench:{secrets.token_hex(4)}:"
    cfg = tmp / "gateway.yaml"
    redis_line = f"redis: '{a.redis}'\nredis_prefix: '{prefix}'" if a.redis else ""
    cfg.write_text(CONFIG.format(redis=redis_line))
    env = {k: v for k, v in os.environ.items() if not k.startswith("HYDRAWATCH_")}
    up_port, gw_port = free_port(), free_port()
    procs: list[subprocess.Popen[bytes]] = []
    try:
        up = subprocess.Popen(
            [sys.executable, str(HERE / "fake_upstream.py"), "--port", str(up_port)], env=env
        )
        procs.append(up)
        key = (
            subprocess.run(
                [str(BIN), "keys", "create", "bench", "--config", str(cfg), "--state", str(tmp / "state")],
                env=env,
                capture_output=True,
                text=True,
                check=True,
            )
            .stdout.strip()
            .splitlines()[-1]
        )
        gw = subprocess.Popen(
            [
                str(BIN),
                "serve",
                "--config",
                str(cfg),
                "--state",
                str(tmp / "state"),
                "--upstream",
                f"http://127.0.0.1:{up_port}/v1",
                "--port",
                str(gw_port),
            ],
            env=env,
        )
        procs.append(gw)
        wait_http(f"http://127.0.0.1:{up_port}/", up)
        wait_http(f"http://127.0.0.1:{gw_port}/healthz", gw)
        health = httpx.get(f"http://127.0.0.1:{gw_port}/healthz").json()
        deadline = time.monotonic() + 180
        while health["live_scoring"] == "loading" and time.monotonic() < deadline:  # let the models load
            time.sleep(1)
            health = httpx.get(f"http://127.0.0.1:{gw_port}/healthz").json()
        hdr = {"authorization": f"Bearer {key}"}
        results: dict[str, object] = {
            "mode": "redis" if a.redis else "embedded",
            "live_scoring": health["live_scoring"],
        }
        print(f"load average before: {os.getloadavg()[0]:.2f}")
        results["loadavg"] = round(os.getloadavg()[0], 2)
        print(
            f"gateway bench ({results['mode']}, live scoring {health['live_scoring']}), {os.cpu_count()} CPUs"
        )
        asyncio.run(interleaved(up_port, gw_port, BODY, hdr, 200, 100))  # warm-up

        print(f"non-streaming, concurrency 1, {a.requests} requests per target:")
        cpu0 = cpu_s(gw)
        d, g = asyncio.run(interleaved(up_port, gw_port, BODY, hdr, a.requests, 100))
        cpu_per_req = (cpu_s(gw) - cpu0) / max(1, len(g.samples)) * 1000
        print(
            f"  gateway CPU per request: {cpu_per_req:.3f} ms (user+system, includes background event writes)"
        )
        rd, rg = summary("direct to upstream", d), summary("through the gateway", g)
        added = {f"p{q}": round(rg[f"p{q}"] - rd[f"p{q}"], 3) for q in (50, 90, 99)}
        print(
            f"  added by the gateway: p50 {added['p50']:.3f} ms, p90 {added['p90']:.3f} ms,"
            f" p99 {added['p99']:.3f} ms"
        )
        results["nonstream_c1"] = {
            "direct": rd,
            "gateway": rg,
            "added": added,
            "gateway_cpu_ms_per_request": round(cpu_per_req, 3),
        }

        print(f"streaming (SSE, {24} deltas), concurrency 1, {a.stream_requests} requests per target:")
        d, g = asyncio.run(interleaved(up_port, gw_port, STREAM_BODY, hdr, a.stream_requests, 50))
        fd, fg = (
            summary("direct: first byte", d, "first_byte_ms"),
            summary("gateway: first byte", g, "first_byte_ms"),
        )
        td, tg = summary("direct: whole stream", d), summary("gateway: whole stream", g)
        ttfb = {f"p{q}": round(fg[f"p{q}"] - fd[f"p{q}"], 3) for q in (50, 90, 99)}
        print(f"  time-to-first-byte added: p50 {ttfb['p50']:.3f} ms, p99 {ttfb['p99']:.3f} ms")
        results["stream_c1"] = {
            "direct_ttfb": fd,
            "gateway_ttfb": fg,
            "direct": td,
            "gateway": tg,
            "ttfb_added": ttfb,
        }

        print(f"throughput, {a.clients} clients, {a.seconds:.0f} s each:")
        st, rps_d = asyncio.run(
            concurrent("127.0.0.1", up_port, "/v1/chat/completions", BODY, {}, a.clients, a.seconds)
        )
        sd = summary("direct", st)
        st, rps_g = asyncio.run(
            concurrent("127.0.0.1", gw_port, "/v1/chat/completions", BODY, hdr, a.clients, a.seconds)
        )
        sg = summary("gateway", st)
        print(f"  requests/s: direct {rps_d:.0f}, through the gateway {rps_g:.0f}")
        results["throughput"] = {
            "clients": a.clients,
            "direct_rps": round(rps_d),
            "gateway_rps": round(rps_g),
            "direct": sd,
            "gateway": sg,
        }
        metrics = httpx.get(f"http://127.0.0.1:{gw_port}/metrics").text
        rec = [
            ln
            for ln in metrics.splitlines()
            if ln.startswith(("hydrawatch_events_recorded_total", "hydrawatch_events_dropped_total"))
        ]
        print("  " + "; ".join(rec))
        if a.out:
            a.out.write_text(json.dumps(results, indent=2))
    finally:
        for p in reversed(procs):
            p.terminate()
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                p.kill()
        if a.redis:
            import redis

            r = redis.Redis.from_url(a.redis)
            names = list(r.scan_iter(match=prefix + "*"))
            if names:
                r.delete(*names)


if __name__ == "__main__":
    main()
