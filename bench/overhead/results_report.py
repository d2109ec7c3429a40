"""Turn a results dict (the JSON written by run.py) into the Markdown table."""

from __future__ import annotations

import math
from typing import Any

PROXIES = ("hydrawatch", "litellm")
BOUNDS_MS = (50.0, 100.0, 250.0, 500.0)


def _f(v: Any, nd: int = 2) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "n/a"
    if isinstance(v, float):
        return f"{v:.{nd}f}"
    return str(v)


def best_under_bound(
    levels: list[dict[str, Any]], bound_ms: float, max_error_rate: float = 0.001
) -> dict[str, Any] | None:
    """The level with the most req/s among those whose p99 <= bound and error rate <= max_error_rate."""
    ok = [
        lv
        for lv in levels
        if lv["p99_ms"] <= bound_ms and lv["errors"] <= max_error_rate * max(1, lv["requests"])
    ]
    return max(ok, key=lambda lv: lv["rps"]) if ok else None


def by_bound(levels: dict[str, list[dict[str, Any]]], bounds: tuple[float, ...]) -> list[dict[str, Any]]:
    """For each p99 bound: each proxy's best req/s under it and the hydrawatch / LiteLLM ratio."""
    rows = []
    for b in bounds:
        best = {k: best_under_bound(levels.get(k, []), b) for k in PROXIES}
        rows.append(
            {
                "p99_bound_ms": b,
                **{f"{k}_rps": (round(v["rps"], 1) if v else None) for k, v in best.items()},
                **{f"{k}_connections": (v["connections"] if v else None) for k, v in best.items()},
                "ratio": ratio(rps_of(best["hydrawatch"]), rps_of(best["litellm"])),
            }
        )
    return rows


def rps_of(level: dict[str, Any] | None) -> float | None:
    return float(level["rps"]) if level else None


def core_capacity(level: dict[str, Any] | None) -> float | None:
    """Requests per second one fully used core would serve at this level's CPU cost per request.

    Independent of how much of the core the machine's other jobs left the server.
    """
    cpu = (level or {}).get("cpu_ms_per_request")
    return round(1000.0 / cpu, 1) if cpu else None


def ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or b == 0:
        return None
    return round(a / b, 2)


def _row(*cells: object) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def _at(level: dict[str, Any] | None) -> str:
    return f"{_f(level['rps'], 0)} (c={level['connections']})" if level else "n/a"


def _header(res: dict[str, Any]) -> list[str]:
    m = res["machine"]
    pin = res["pinning"]
    return [
        f"# Gateway overhead: hydrawatch vs LiteLLM {res['litellm_version']} (same run, same upstream)",
        "",
        f"Run {res['started_utc']} ({'quick' if res['quick'] else 'full'}), {res['elapsed_s']:.0f} s; "
        f"command `{res['command']}`; hydrawatch revision {res['hydrawatch_revision']}.",
        f"Machine: {m['cpus']} CPUs ({m['cpu_model']}), shared with other jobs; load average (1 min): "
        f"{m['loadavg_start'][0]:.2f} at the start, {m['loadavg_min']:.2f}-{m['loadavg_max']:.2f} "
        "during the run, "
        f"{m['loadavg_end'][0]:.2f} at the end. "
        + (
            f"Pinning (taskset): proxies on CPU {pin['proxies']}; upstream stub and load generators on CPU "
            f"{pin['clients']}."
            if pin
            else "No CPU pinning."
        ),
        "",
    ]


def _summary(res: dict[str, Any]) -> list[str]:
    c1, st, tp = res.get("c1", {}), res.get("stream_c1", {}), res.get("throughput", {})
    out = [
        "## Summary (added = proxy minus the upstream alone, same percentile, same interleaved rounds)",
        "",
        _row("metric", "hydrawatch", "LiteLLM", "target"),
        "|---|---|---|---|",
    ]
    if c1:
        hw, ll = c1["added"]["hydrawatch"], c1["added"]["litellm"]
        out.append(_row("added latency p50, concurrency 1 (ms)", _f(hw["p50"]), _f(ll["p50"]), ""))
        out.append(
            _row("added latency p99, concurrency 1 (ms)", _f(hw["p99"]), _f(ll["p99"]), "hydrawatch <= 5")
        )
    if st:
        hw, ll = st["ttft_added"]["hydrawatch"], st["ttft_added"]["litellm"]
        out.append(_row("added TTFT p50, streams (ms)", _f(hw["p50"]), _f(ll["p50"]), "hydrawatch <= 2"))
        out.append(_row("added TTFT p99, streams (ms)", _f(hw["p99"]), _f(ll["p99"]), ""))
    if tp:
        b, pk = tp["best"], tp["peak"]
        bound = f"{tp['p99_bound_ms']:g}"
        out.append(_row(f"req/s per worker, p99 <= {bound} ms", _at(b["hydrawatch"]), _at(b["litellm"]), ""))
        out.append(
            _row("ratio hydrawatch / LiteLLM under that bound", _f(tp["ratio_under_bound"]), "", ">= 10")
        )
        out.append(_row("peak req/s per worker (any p99)", _at(pk["hydrawatch"]), _at(pk["litellm"]), ""))
        out.append(_row("ratio hydrawatch / LiteLLM at peak", _f(tp["ratio_peak"]), "", ""))
        cap = {k: core_capacity(pk.get(k)) for k in PROXIES}
        cpu_at = {k: (pk[k] or {}).get("cpu_ms_per_request") for k in PROXIES}
        out.append(
            _row("server CPU per request at peak (ms)", _f(cpu_at["hydrawatch"]), _f(cpu_at["litellm"]), "")
        )
        out.append(
            _row(
                "req/s per fully used core (1000 / CPU ms per request)",
                _f(cap["hydrawatch"], 0),
                _f(cap["litellm"], 0),
                "",
            )
        )
        out.append(_row("ratio of those", _f(ratio(cap["hydrawatch"], cap["litellm"])), "", ""))
    rss = res["peak_rss_mib"]
    out.append(_row("peak RSS during the run (MiB)", _f(rss["hydrawatch"], 1), _f(rss["litellm"], 1), ""))
    cpu = res.get("cpu_ms_per_request_c1", {})
    if cpu:
        out.append(
            _row(
                "proxy CPU per request, concurrency 1 (ms)",
                _f(cpu.get("hydrawatch")),
                _f(cpu.get("litellm")),
                "",
            )
        )
    return [*out, ""]


def _diagnosis(res: dict[str, Any]) -> list[str]:
    """Rows for the extra targets (``--diagnose``): every proxy other than the two compared."""
    c1, st, tp = res.get("c1", {}), res.get("stream_c1", {}), res.get("throughput", {})
    extra = [k for k in c1.get("added", {}) if k not in PROXIES]
    if not extra:
        return []
    cols = ["hydrawatch", *extra]
    out = [
        "## Diagnosis: the same gateway with parts switched off (same run)",
        "",
        _row("metric", *cols),
        "|---" * (len(cols) + 1) + "|",
        _row(
            "added latency p50 / p99, concurrency 1 (ms)",
            *(f"{_f(c1['added'][k]['p50'])} / {_f(c1['added'][k]['p99'])}" for k in cols),
        ),
    ]
    if st:
        out.append(
            _row(
                "added TTFT p50 / p99 (ms)",
                *(f"{_f(st['ttft_added'][k]['p50'])} / {_f(st['ttft_added'][k]['p99'])}" for k in cols),
            )
        )
    cpu = res.get("cpu_ms_per_request_c1", {})
    out.append(_row("CPU per request, concurrency 1 (ms)", *(_f(cpu.get(k)) for k in cols)))
    if tp:
        out.append(_row("peak req/s (connections)", *(_at(tp["peak"].get(k)) for k in cols)))
    out.append(_row("peak RSS (MiB)", *(_f(res["peak_rss_mib"].get(k), 1) for k in cols)))
    return [*out, ""]


def _latency_tables(res: dict[str, Any]) -> list[str]:
    c1, st = res.get("c1", {}), res.get("stream_c1", {})
    out: list[str] = []
    for title, sec, key in (
        ("Concurrency 1, non-streaming: latency (ms)", c1, "latency"),
        ("Concurrency 1, streaming: whole stream (ms)", st, "latency"),
        ("Concurrency 1, streaming: time to first SSE data chunk (ms)", st, "ttft"),
    ):
        if not sec:
            continue
        out += [
            f"## {title}",
            "",
            _row("target", "n", "errors", "p50", "p90", "p99", "max"),
            "|---|---|---|---|---|---|---|",
        ]
        for name, s in sec[key].items():
            errs = sum(sec["errors"][name].values())
            out.append(_row(name, s["n"], errs, _f(s["p50"]), _f(s["p90"]), _f(s["p99"]), _f(s["max"])))
        out.append("")
    return out


def _throughput_tables(tp: dict[str, Any]) -> list[str]:
    if not tp:
        return []
    out = [
        "## Sustained req/s per worker under a p99 bound",
        "",
        _row("p99 bound (ms)", "hydrawatch req/s", "LiteLLM req/s", "ratio"),
        "|---|---|---|---|",
    ]
    for r in tp.get("by_bound", []):
        hw = f"{_f(r['hydrawatch_rps'], 0)} (c={_f(r['hydrawatch_connections'])})"
        ll = f"{_f(r['litellm_rps'], 0)} (c={_f(r['litellm_connections'])})"
        out.append(_row(f"{r['p99_bound_ms']:g}", hw, ll, _f(r["ratio"])))
    out += [
        "",
        f"## Throughput (wrk, 1 thread, closed loop, {tp['seconds']:g} s per level, non-streaming)",
        "",
        "hydrawatch's req/s is sustained: requests served / (wrk's time + the time its scorer then "
        "needed to finish scoring them); served = req/s during wrk alone.",
        "",
        _row(
            "target",
            "connections",
            "req/s",
            "served req/s",
            "scoring drain s",
            "errors",
            "p50 ms",
            "p99 ms",
            "max ms",
            "server CPU ms/req",
        ),
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, levels in tp["levels"].items():
        for lv in levels:
            out.append(
                _row(
                    name,
                    lv["connections"],
                    f"{lv['rps']:.0f}",
                    _f(lv.get("rps_served"), 0),
                    _f(lv.get("scoring_drain_s")),
                    lv["errors"],
                    f"{lv['p50_ms']:.2f}",
                    f"{lv['p99_ms']:.2f}",
                    f"{lv['max_ms']:.2f}",
                    _f(lv.get("cpu_ms_per_request")),
                )
            )
    return [*out, ""]


def render(res: dict[str, Any]) -> str:
    lines = (
        _header(res)
        + _summary(res)
        + _diagnosis(res)
        + _latency_tables(res)
        + _throughput_tables(res.get("throughput", {}))
    )
    if res.get("hydrawatch_metrics"):
        lines += [
            "## hydrawatch counters at the end of the run (/metrics)",
            "",
            "```",
            *res["hydrawatch_metrics"],
            "```",
            "",
        ]
    lines += ["## Exact configurations", ""]
    for name, cfg in res["configs"].items():
        cmd = " ".join(cfg["command"])
        lines += [f"### {name}", "", f"Command: `{cmd}`", "", "```yaml", cfg["config"].rstrip(), "```", ""]
    if res.get("notes"):
        lines += ["## Notes", "", *(f"- {n}" for n in res["notes"]), ""]
    return "\n".join(lines)


def main() -> None:
    """Re-render the Markdown of a results JSON: ``python results_report.py RESULTS.json``."""
    import json
    import sys
    from pathlib import Path

    for name in sys.argv[1:]:
        path = Path(name)
        path.with_suffix(".md").write_text(render(json.loads(path.read_text())) + "\n")
        print(path.with_suffix(".md"))


if __name__ == "__main__":
    main()
