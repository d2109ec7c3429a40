"""How the hunt's time and memory grow with the log: 1M -> 10M -> 28.8M exchanges.

    .venv/bin/python bench/hunt_scale.py FILE [FILE ...] [--out DIR] [--hunt-arg=--workers=2]

For each file, in the same run and one after the other (no other work of ours in parallel):

1. the baseline: a bare DuckDB scan and group-by of the same file
   (``SELECT account_id, count(*), sum(output_tokens) ... GROUP BY account_id`` over
   ``read_json``), which is the least any tool must pay to read the log once;
2. ``hydrawatch hunt FILE --json OUT``.

Each runs as a child process (wall time, peak RSS of its process tree, CPU seconds). The table
gives events/s and the hunt's time as a ratio of the baseline's, so figures from a shared,
noisy machine stay comparable. Results go to DIR/hunt-scale.md and DIR/hunt-scale.json.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

import psutil

from hydrawatch.bench.measure import run_measured

BASELINE = """
import sys, duckdb
con = duckdb.connect()
con.execute("SET threads = 2")
rows = con.execute(
    "SELECT account_id, count(*), sum(output_tokens) FROM read_json(?, format='newline_delimited', "
    "maximum_object_size=67108864, columns={'account_id': 'VARCHAR', 'output_tokens': 'BIGINT'}) "
    "GROUP BY account_id",
    [sys.argv[1]],
).fetchall()
print(len(rows), sum(r[1] for r in rows))
"""


def _cpu_children() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def _count_lines(path: Path) -> int:
    n = 0
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 24):
            n += chunk.count(b"\n")
    return n


def measure(argv: list[str], log: Path) -> dict[str, float | int | bool]:
    cpu0 = _cpu_children()
    m = run_measured(argv, timeout_s=4 * 3600.0, log_path=log)
    return {
        "ok": m.ok,
        "wall_s": round(m.wall_s, 1),
        "cpu_s": round(_cpu_children() - cpu0, 1),
        "peak_rss_mb": round(m.peak_rss_mb),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("files", nargs="+", type=Path)
    ap.add_argument("--out", type=Path, default=Path("bench/results"))
    ap.add_argument("--hunt-arg", action="append", default=[], help="extra argument for hydrawatch hunt")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    exe = str(Path(sys.executable).with_name("hydrawatch"))
    rows = []
    for f in args.files:
        events = _count_lines(f)
        print(f"{f}: {events:,} events, {f.stat().st_size / 1e9:.1f} GB", flush=True)
        base = measure([sys.executable, "-c", BASELINE, str(f)], args.out / f"{f.stem}-baseline.log")
        print(f"  baseline {base}", flush=True)
        report = args.out / f"{f.stem}-report.json"
        hunt = measure(
            [exe, "hunt", str(f), "--json", str(report), *args.hunt_arg], args.out / f"{f.stem}-hunt.log"
        )
        print(f"  hunt     {hunt}", flush=True)
        rows.append(
            {
                "file": f.name,
                "events": events,
                "bytes": f.stat().st_size,
                "baseline": base,
                "hunt": hunt,
                "hunt_events_per_s": round(events / max(float(hunt["wall_s"]), 1e-9)),
                "ratio_wall": round(float(hunt["wall_s"]) / max(float(base["wall_s"]), 1e-9), 1),
                "ratio_cpu": round(float(hunt["cpu_s"]) / max(float(base["cpu_s"]), 1e-9), 1),
            }
        )
    meta = {
        "when": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "cpus": psutil.cpu_count(),
        "ram_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "hunt_args": args.hunt_arg,
    }
    (args.out / "hunt-scale.json").write_text(json.dumps({"meta": meta, "runs": rows}, indent=2))
    lines = [
        f"# hunt scale ({meta['when']}, {meta['cpus']} CPUs, {meta['ram_gb']} GB RAM)",
        "",
        "| events | GB | baseline wall s | baseline RSS MB | hunt wall s | hunt CPU s | hunt peak RSS MB "
        "| hunt events/s | hunt / baseline (wall) | hunt / baseline (CPU) |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        b, h = r["baseline"], r["hunt"]
        lines.append(
            f"| {r['events']:,} | {r['bytes'] / 1e9:.1f} | {b['wall_s']} | {b['peak_rss_mb']} "
            f"| {h['wall_s']} | {h['cpu_s']} | {h['peak_rss_mb']} | {r['hunt_events_per_s']:,} "
            f"| {r['ratio_wall']} | {r['ratio_cpu']} |"
        )
    (args.out / "hunt-scale.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0 if all(r["hunt"]["ok"] and r["baseline"]["ok"] for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
