"""Ingest throughput: hydrawatch.ingest.load_events against duckdb.read_json on the same file.

    .venv/bin/python bench/ingest_bench.py --lines 1000000 --workers 1,2

``load_events`` is timed with its native engine (``engine="native"``, DuckDB SQL) and with
the Python parser (``engine="python"``, the default) at each ``--workers`` count (``--workers ''``
skips the Python runs).

Writes a synthetic contract JSONL (chat messages, params, usage, response text; about
600 bytes a record) unless --file is given, then times each loader in the same run and
prints records/s and the ratio to duckdb.read_json. The generator is self-contained
(no simulator) so the figure measures parsing alone.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import tempfile
import time
from pathlib import Path

import duckdb
import orjson

from hydrawatch.ingest import load_events

_WORDS = tuple(
    " ".join(
        [
            "analyse the data explain step by step reasoning behind answer write code review grade rubric",
            "summarise translate the following text into french please provide detailed internal thoughts",
            "imagine you are an expert data analyst and articulate each step of your chain of thought",
        ]
    ).split(" ")
)
_MODELS = ("frontier-large-2026-02", "frontier-small-2026-02", "frontier-large-2026-05")
_UAS = ("OpenAI/Python 1.52.0", "Anthropic/Python 0.40.0", "axios/1.7.2", "curl/8.5.0")


_POOL: dict[tuple[int, int], list[str]] = {}


def _text(rng: random.Random, lo: int, hi: int) -> str:
    pool = _POOL.get((lo, hi))
    if pool is None:
        r = random.Random(lo * 1000 + hi)
        pool = [" ".join(r.choice(_WORDS) for _ in range(r.randint(lo, hi))) for _ in range(5000)]
        _POOL[(lo, hi)] = pool
    return pool[rng.randrange(len(pool))]


def make_record(rng: random.Random, i: int) -> dict[str, object]:
    ts = 1_772_000_000 + i * 0.15 + rng.random()
    msgs: list[dict[str, object]] = [{"role": "user", "content": _text(rng, 6, 30)}]
    if rng.random() < 0.3:
        msgs = [
            {"role": "system", "content": _text(rng, 5, 15)},
            {"role": "user", "content": _text(rng, 5, 20)},
            {"role": "assistant", "content": _text(rng, 10, 30)},
            {"role": "user", "content": [{"type": "text", "text": _text(rng, 5, 20)}]},
        ]
    rec: dict[str, object] = {
        "ts": ts if i % 2 else time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + "Z",
        "account_id": f"acct_{rng.randrange(25_000):05d}",
        "model": rng.choice(_MODELS),
        "messages": msgs,
        "ip": f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(256)}",
        "user_agent": rng.choice(_UAS),
        "api_key_id": f"key_{rng.randrange(30_000):05d}",
        "params": {
            "max_tokens": rng.choice((512, 1024, 4096)),
            "temperature": 0.7,
            "stream": rng.random() < 0.5,
        },
        "input_tokens": rng.randint(20, 400),
        "output_tokens": rng.randint(50, 1500),
        "status": 200,
        "latency_ms": round(rng.uniform(200, 9000), 1),
        "response": _text(rng, 10, 40),
    }
    return rec


def generate(path: Path, lines: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    with open(path, "wb") as f:
        buf: list[bytes] = []
        for i in range(lines):
            buf.append(orjson.dumps(make_record(rng, i)))
            if len(buf) >= 10_000:
                f.write(b"\n".join(buf) + b"\n")
                buf.clear()
        if buf:
            f.write(b"\n".join(buf) + b"\n")


def cpu_seconds() -> float:
    """CPU time of this process (all threads) and of its finished children."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def time_hydrawatch(path: Path, workers: int, engine: str = "python") -> tuple[float, float, int]:
    con = duckdb.connect()
    c0, t0 = cpu_seconds(), time.perf_counter()
    stats = load_events(con, [path], workers=workers, engine=engine)
    dt, cpu = time.perf_counter() - t0, cpu_seconds() - c0
    rows = con.execute("SELECT count(*) FROM events").fetchall()
    assert rows[0][0] == stats.records_ok
    return dt, cpu, stats.records_ok


def time_duckdb(path: Path) -> tuple[float, float, int]:
    """``read_json`` of the file; if its sampled schema fails on a later record, again with the
    schema read from the whole file (``sample_size=-1``, which costs read_json a second pass)."""
    for sample in ("", ", sample_size=-1"):
        con = duckdb.connect()
        c0, t0 = cpu_seconds(), time.perf_counter()
        try:
            con.execute(
                "CREATE TABLE raw AS SELECT * FROM "
                f"read_json(?, format='newline_delimited', maximum_object_size=8388608{sample})",
                [str(path)],
            )
        except duckdb.InvalidInputException as e:
            print(f"read_json with a sampled schema failed ({str(e).splitlines()[0][:80]}...); full scan")
            continue
        dt, cpu = time.perf_counter() - t0, cpu_seconds() - c0
        rows = con.execute("SELECT count(*) FROM raw").fetchall()
        return dt, cpu, int(rows[0][0])
    raise SystemExit("read_json could not read the file")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--workers", default="1,2", help="comma-separated worker counts to time")
    ap.add_argument("--file", type=Path, help="time this JSONL (generated there first if missing)")
    ap.add_argument("--json", type=Path, help="also write the figures here")
    args = ap.parse_args()
    tmp = tempfile.TemporaryDirectory(prefix="ingest-bench-")
    path = args.file or Path(tmp.name) / "events.jsonl"
    if not path.exists():
        t0 = time.perf_counter()
        generate(path, args.lines)
        mb = os.path.getsize(path) / 1e6
        print(f"generated {args.lines:,} records, {mb:,.0f} MB in {time.perf_counter() - t0:.1f} s")
    load = os.getloadavg()[0]
    results: dict[str, object] = {
        "file_bytes": os.path.getsize(path),
        "cpus": os.cpu_count(),
        "loadavg_1m": load,
    }
    print(f"{os.cpu_count()} CPUs, load average {load:.1f} (wall times are only comparable when it is low)")
    ddb_s, ddb_cpu, ddb_n = time_duckdb(path)
    results["duckdb_read_json"] = {
        "seconds": round(ddb_s, 2),
        "cpu_seconds": round(ddb_cpu, 2),
        "records": ddb_n,
        "records_per_s": round(ddb_n / ddb_s),
    }
    print(
        f"duckdb.read_json        {ddb_n:>10,} rows {ddb_s:7.1f} s wall {ddb_cpu:7.1f} s CPU"
        f" {ddb_n / ddb_s:>9,.0f} rec/s"
    )
    runs = [("native", 1, "load_events native      ")]
    workers = [int(w) for w in args.workers.split(",") if w.strip()]
    runs += [("python", w, f"load_events python w={w} ") for w in workers]
    for engine, w, label in runs:
        s, cpu, n = time_hydrawatch(path, w, engine=engine)
        key = "hydrawatch_native" if engine == "native" else f"hydrawatch_python_workers_{w}"
        results[key] = {
            "seconds": round(s, 2),
            "cpu_seconds": round(cpu, 2),
            "records": n,
            "records_per_s": round(n / s),
            "wall_vs_read_json": round(s / ddb_s, 2),
            "cpu_vs_read_json": round(cpu / ddb_cpu, 2),
        }
        print(
            f"{label}{n:>10,} rows {s:7.1f} s wall {cpu:7.1f} s CPU {n / s:>9,.0f} rec/s"
            f"  ({s / ddb_s:.1f}x read_json wall time, {cpu / ddb_cpu:.1f}x its CPU time)"
        )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    tmp.cleanup()


if __name__ == "__main__":
    main()
