"""Side by side: hydrawatch and the LiteLLM proxy in front of the same fake upstream.

LiteLLM is not a project dependency; install it into its own virtualenv first:
    python3 -m venv /tmp/litellm-venv && /tmp/litellm-venv/bin/pip install 'litellm[proxy]==1.100.5'
    .venv/bin/python bench/gateway/compare_litellm.py --litellm /tmp/litellm-venv/bin/litellm

Both run one worker process, embedded defaults (hydrawatch: keys, quotas, policy, event
recording on; LiteLLM: master key, no database). Blocks of requests alternate between the
targets so machine noise hits both alike.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).parent))
from loadgen import Stats, concurrent, sequential
from run_bench import BIN, BODY, CONFIG, HERE, free_port, summary, wait_http

LITELLM_CONFIG = """
model_list:
  - model_name: bench-model
    litellm_params:
      model: openai/bench-model
      api_base: http://127.0.0.1:{port}/v1
      api_key: sk-upstream
general_settings:
  master_key: sk-litellm-bench
litellm_settings:
  telemetry: false
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--litellm", required=True, help="path to the litellm executable")
    ap.add_argument("--requests", type=int, default=1000)
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--seconds", type=float, default=8.0)
    ap.add_argument("--out", type=Path, default=None)
    a = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="hw-vs-litellm-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("HYDRAWATCH_")}
    env.update(LITELLM_LOCAL_MODEL_COST_MAP="True", LITELLM_TELEMETRY="False", LITELLM_LOG="ERROR")
    up_port, hw_port, ll_port = free_port(), free_port(), free_port()
    (tmp / "hw.yaml").write_text(CONFIG.format(redis="live_scoring: false"))
    (tmp / "litellm.yaml").write_text(LITELLM_CONFIG.format(port=up_port))
    procs: list[subprocess.Popen[bytes]] = []
    try:
        up = subprocess.Popen(
            [sys.executable, str(HERE / "fake_upstream.py"), "--port", str(up_port)], env=env
        )
        procs.append(up)
        key = (
            subprocess.run(
                [
                    str(BIN),
                    "keys",
                    "create",
                    "bench",
                    "--config",
                    str(tmp / "hw.yaml"),
                    "--state",
                    str(tmp / "st"),
                ],
                env=env,
                capture_output=True,
                text=True,
                check=True,
            )
            .stdout.strip()
            .splitlines()[-1]
        )
        hw = subprocess.Popen(
            [
                str(BIN),
                "serve",
                "--config",
                str(tmp / "hw.yaml"),
                "--state",
                str(tmp / "st"),
                "--upstream",
                f"http://127.0.0.1:{up_port}/v1",
                "--port",
                str(hw_port),
            ],
            env=env,
        )
        procs.append(hw)
        ll = subprocess.Popen(
            [a.litellm, "--config", str(tmp / "litellm.yaml"), "--port", str(ll_port), "--num_workers", "1"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        procs.append(ll)
        wait_http(f"http://127.0.0.1:{up_port}/", up)
        wait_http(f"http://127.0.0.1:{hw_port}/healthz", hw)
        wait_http(f"http://127.0.0.1:{ll_port}/health/liveliness", ll)
        targets = {
            "direct": (up_port, {}, up),
            "hydrawatch": (hw_port, {"authorization": f"Bearer {key}"}, hw),
            "litellm": (ll_port, {"authorization": "Bearer sk-litellm-bench"}, ll),
        }
        for port, hdr, _ in targets.values():  # warm-up
            asyncio.run(sequential("127.0.0.1", port, "/v1/chat/completions", BODY, hdr, 50))
        print(
            f"load average: {os.getloadavg()[0]:.2f}; concurrency 1, {a.requests} requests per target, "
            "blocks of 100 alternating"
        )
        stats = {name: Stats() for name in targets}
        cpu = dict.fromkeys(targets, 0.0)
        for _ in range(max(1, a.requests // 100)):
            for name, (port, hdr, proc) in targets.items():
                p = psutil.Process(proc.pid)
                c0 = sum(p.cpu_times()[:2]) + sum(
                    sum(ch.cpu_times()[:2]) for ch in p.children(recursive=True)
                )
                s = asyncio.run(sequential("127.0.0.1", port, "/v1/chat/completions", BODY, hdr, 100))
                c1 = sum(p.cpu_times()[:2]) + sum(
                    sum(ch.cpu_times()[:2]) for ch in p.children(recursive=True)
                )
                cpu[name] += c1 - c0
                stats[name].samples += s.samples
                stats[name].errors += s.errors
        results: dict[str, object] = {"loadavg": round(os.getloadavg()[0], 2)}
        base = summary("direct", stats["direct"])
        for name in ("hydrawatch", "litellm"):
            r = summary(name, stats[name])
            r["added_p50"] = round(r["p50"] - base["p50"], 3)
            r["added_p99"] = round(r["p99"] - base["p99"], 3)
            r["cpu_ms_per_request"] = round(cpu[name] / max(1, len(stats[name].samples)) * 1000, 3)
            print(
                f"    added p50 {r['added_p50']:.2f} ms, p99 {r['added_p99']:.2f} ms, "
                f"CPU {r['cpu_ms_per_request']:.2f} ms/request"
            )
            results[name] = r
        print(f"throughput, {a.clients} clients, {a.seconds:.0f} s:")
        for name in ("hydrawatch", "litellm"):
            port, hdr, _ = targets[name]
            st, rps = asyncio.run(
                concurrent("127.0.0.1", port, "/v1/chat/completions", BODY, hdr, a.clients, a.seconds)
            )
            print(
                f"  {name:<11} {rps:7.1f} req/s  p50 {st.pct(50):.1f} ms  p99 {st.pct(99):.1f} ms"
                f"  errors {st.errors}"
            )
            results[f"{name}_rps"] = round(rps, 1)
        if a.out:
            a.out.write_text(json.dumps(results, indent=2))
    finally:
        for p in reversed(procs):
            p.terminate()
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
        time.sleep(0.2)


if __name__ == "__main__":
    main()
