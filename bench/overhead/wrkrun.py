"""Closed-loop throughput with ``wrk`` (C, one thread): one level of concurrency at a time."""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from bench_servers import pinned

LUA = Path(__file__).resolve().parent / "wrk_post.lua"


@dataclass
class WrkResult:
    connections: int
    seconds: float
    requests: int
    errors: int  # connect/read/write/timeout errors and non-2xx/3xx answers
    rps: float  # successful requests per second
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    cpu_ms_per_request: float | None = None  # the server's CPU per request, filled in by the caller
    backlog_after: int | None = None  # gateway: exchanges still to score/record when wrk stopped
    drain_s: float | None = None  # gateway: seconds until that backlog was 0
    scoring_drain_s: float | None = None  # gateway: seconds until everything served was scored
    rps_served: float | None = None  # gateway: req/s during wrk alone (rps then counts the scoring drain)
    repeated_bodies: int | None = None  # gateway: requests whose body it had been sent before

    def to_json(self) -> dict[str, float | int]:
        return {
            k: (round(v, 3) if isinstance(v, float) else v) for k, v in self.__dict__.items() if v is not None
        }


def available() -> bool:
    return shutil.which("wrk") is not None


def parse_done_line(stdout: str, connections: int) -> WrkResult:
    """The JSON line ``wrk_post.lua`` prints in ``done()``; ValueError when it is missing."""
    for line in reversed(stdout.splitlines()):
        line = line.strip()
        if line.startswith("{") and '"requests"' in line:
            d = json.loads(line)
            secs = d["duration_us"] / 1e6
            errors = d["err_connect"] + d["err_read"] + d["err_write"] + d["err_timeout"] + d["err_status"]
            ok = max(0, d["requests"] - d["err_status"])
            return WrkResult(
                connections,
                secs,
                d["requests"],
                errors,
                ok / secs if secs > 0 else 0.0,
                d["lat_p50_us"] / 1000,
                d["lat_p90_us"] / 1000,
                d["lat_p99_us"] / 1000,
                d["lat_max_us"] / 1000,
            )
    raise ValueError(f"no summary line in wrk output: {stdout[-300:]!r}")


def run_wrk(
    url: str,
    bodies_file: Path,
    headers: dict[str, str],
    *,
    connections: int,
    seconds: float,
    cores: str | None,
    timeout_s: float = 10.0,
    offset: int = 0,
) -> WrkResult:
    """One wrk run; wrk's thread starts at body number ``offset`` of ``bodies_file``."""
    cmd = [
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        f"--timeout={timeout_s:g}s",
        "-s",
        str(LUA),
        url,
        "--",
        str(bodies_file),
        str(offset),
        *(f"{k}: {v}" for k, v in headers.items()),
    ]
    out = subprocess.run(pinned(cmd, cores), capture_output=True, text=True, timeout=seconds + timeout_s + 30)
    if out.returncode != 0:
        raise RuntimeError(f"wrk failed ({out.returncode}): {out.stderr.strip()[-300:]}")
    return parse_done_line(out.stdout, connections)
