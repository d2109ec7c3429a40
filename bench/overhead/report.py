"""Turn a results dict (the JSON written by run.py) into the Markdown table."""

from __future__ import annotations

import math
from typing import Any

PROXIES = ("hydrawatch", "litellm")


def _f(v: Any, nd: int = 2) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "n/a"
    if isinstance(v, float):
        return f"{v:.{nd}f}"
    return str(v)


def best_under_bound(levels: list[dict[str, Any]], bound_ms: float, max_error_rate: float = 0.001) -> dict[str, Any] | None:
    """The level with the most req/s among those whose p99 <= bound and error rate <= max_error_rate."""
    ok = [lv for lv in levels
          if lv["p99_ms"] <= bound_ms and lv["errors"] <= max_error_rate * max(1, lv["requests"])]
    return max(ok, key=lambda lv: lv["rps"]) if ok else None


def ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or b == 0:
        return None
    return round(a / b, 2)


def render(res: dict[str, Any]) -> str:
    c1, st, tp = res.get("c1", {}), res.get("stream_c1", {}), res.get("throughput", {})
    m = res["machine"]
    lines = [
        f"# Gateway overhead: hydrawatch vs LiteLLM {res['litellm_version']} (same run, same upstream)",
        "",
        f"Run {res['started_utc']} ({'quick' if res['quick'] else 'full'}), {res['elapsed_s']:.0f} s; "
        f"command `{res['command']}`.",
        f"Machine: {m['cpus']} CPUs ({m['cpu_model']}), load average (1 min) at start {m['loadavg_start'][0]:.2f}, "
        f"during the run {m['loadavg_min']:.2f}-{m['loadavg_max']:.2f}, at the end {m['loadavg_end'][0]:.2f} "
        "(shared with other jobs). "
        + (f"Pinning: proxies on CPU {res['pinning']['proxies']}, upstream stub and load generators on CPU "
           f"{res['pinning']['clients']} (taskset)." if res["pinning"] else "No CPU pinning."),
        "",
        "## Summary (added = proxy minus the upstream alone, same percentile)",
        "",
        "| metric | hydrawatch | LiteLLM | target |",
        "|---|---|---|---|",
    ]
    if c1:
        a = c1["added"]
        lines.append(f"| added latency p50, concurrency 1 (ms) | {_f(a['hydrawatch']['p50'])} | {_f(a['litellm']['p50'])} | |")
        lines.append(f"| added latency p99, concurrency 1 (ms) | {_f(a['hydrawatch']['p99'])} | {_f(a['litellm']['p99'])} | hydrawatch <= 5 |")
    if st:
        a = st["ttft_added"]
        lines.append(f"| added TTFT p50, streams (ms) | {_f(a['hydrawatch']['p50'])} | {_f(a['litellm']['p50'])} | hydrawatch <= 2 |")
        lines.append(f"| added TTFT p99, streams (ms) | {_f(a['hydrawatch']['p99'])} | {_f(a['litellm']['p99'])} | |")
    if tp:
        b = tp["best"]
        hw, ll = b.get("hydrawatch"), b.get("litellm")
        lines.append(
            f"| req/s per worker with p99 <= {tp['p99_bound_ms']:g} ms | {_f(hw and hw['rps'], 0)}"
            f"{' (c=' + str(hw['connections']) + ')' if hw else ''} | {_f(ll and ll['rps'], 0)}"
            f"{' (c=' + str(ll['connections']) + ')' if ll else ''} | ratio >= 10 |")
        lines.append(f"| ratio hydrawatch / LiteLLM (under the p99 bound) | {_f(tp['ratio_under_bound'])} | | >= 10 |")
        pk = tp["peak"]
        lines.append(f"| peak req/s per worker (any p99) | {_f(pk['hydrawatch']['rps'], 0)} (c={pk['hydrawatch']['connections']}) "
                     f"| {_f(pk['litellm']['rps'], 0)} (c={pk['litellm']['connections']}) | |")
        lines.append(f"| ratio hydrawatch / LiteLLM (peak) | {_f(tp['ratio_peak'])} | | |")
    rss = res["peak_rss_mib"]
    lines.append(f"| peak RSS during the run (MiB) | {_f(rss['hydrawatch'], 1)} | {_f(rss['litellm'], 1)} | |")
    cpu = res.get("cpu_ms_per_request_c1", {})
    if cpu:
        lines.append(f"| proxy CPU per request, concurrency 1 (ms, user+sys) | {_f(cpu.get('hydrawatch'))} | {_f(cpu.get('litellm'))} | |")
    lines.append("")
    for title, sec, key in (("Concurrency 1, non-streaming: latency (ms)", c1, "latency"),
                            ("Concurrency 1, streaming: whole stream (ms)", st, "latency"),
                            ("Concurrency 1, streaming: time to first SSE data chunk (ms)", st, "ttft")):
        if not sec:
            continue
        lines += [f"## {title}", "", "| target | n | errors | p50 | p90 | p99 | max |", "|---|---|---|---|---|---|---|"]
        for name, s in sec[key].items():
            errs = sum(sec["errors"][name].values())
            lines.append(f"| {name} | {s['n']} | {errs} | {_f(s['p50'])} | {_f(s['p90'])} | {_f(s['p99'])} | {_f(s['max'])} |")
        lines.append("")
    if tp:
        lines += [f"## Throughput (wrk, 1 thread, closed loop, {tp['seconds']:g} s per level, non-streaming)", "",
                  "| target | connections | req/s | errors | p50 ms | p99 ms | max ms |", "|---|---|---|---|---|---|---|"]
        for name, levels in tp["levels"].items():
            for lv in levels:
                lines.append(f"| {name} | {lv['connections']} | {lv['rps']:.0f} | {lv['errors']} | {lv['p50_ms']:.2f} | "
                             f"{lv['p99_ms']:.2f} | {lv['max_ms']:.2f} |")
        lines.append("")
    if res.get("hydrawatch_metrics"):
        lines += ["## hydrawatch counters at the end of the run (/metrics)", "", "```"]
        lines += res["hydrawatch_metrics"]
        lines += ["```", ""]
    lines += ["## Exact configurations", ""]
    for name, cfg in res["configs"].items():
        lines += [f"### {name}", "", f"Command: `{' '.join(cfg['command'])}`", "", "```yaml", cfg["config"].rstrip(), "```", ""]
    if res.get("notes"):
        lines += ["## Notes", ""] + [f"- {n}" for n in res["notes"]] + [""]
    return "\n".join(lines)
