"""Run a command as a child process and measure its wall time and peak memory (RSS of the process tree)."""

from __future__ import annotations

import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psutil


@dataclass(slots=True)
class Measured:
    argv: list[str]
    returncode: int | None  # None: killed on timeout or could not start
    wall_s: float
    peak_rss_bytes: int
    stderr_tail: str
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and self.error is None

    @property
    def peak_rss_mb(self) -> float:
        return self.peak_rss_bytes / 2**20


def tail(text: str, lines: int = 12, chars: int = 2000) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])[-chars:]


def tree_rss(proc: psutil.Process) -> int:
    """RSS of a process and all its descendants (0 when it has gone)."""
    total = 0
    try:
        procs = [proc, *proc.children(recursive=True)]
    except psutil.Error:
        return 0
    for p in procs:
        try:
            total += p.memory_info().rss
        except psutil.Error:
            continue
    return total


def _kill_tree(proc: psutil.Process) -> None:
    try:
        kids = proc.children(recursive=True)
    except psutil.Error:
        kids = []
    for p in [*kids, proc]:
        try:
            p.kill()
        except psutil.Error:
            continue


def run_measured(
    argv: list[str],
    *,
    timeout_s: float = 3600.0,
    poll_s: float = 0.05,
    cwd: str | Path | None = None,
    log_path: str | Path | None = None,
) -> Measured:
    """Run ``argv`` to completion, polling the RSS of its process tree; never raises for a failing child."""
    with tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        try:
            popen = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=err, cwd=cwd)
        except OSError as e:
            return Measured(argv, None, 0.0, 0, "", f"could not start {argv[0]!r}: {e}")
        ps = psutil.Process(popen.pid)
        peak = 0
        error: str | None = None
        while True:
            peak = max(peak, tree_rss(ps))
            try:
                popen.wait(timeout=poll_s)
                break
            except subprocess.TimeoutExpired:
                if time.perf_counter() - t0 > timeout_s:
                    _kill_tree(ps)
                    popen.wait()
                    error = f"timed out after {timeout_s:.0f} s"
                    break
        wall = time.perf_counter() - t0
        err.seek(0)
        stderr = err.read().decode("utf-8", "replace")
    if log_path is not None:
        Path(log_path).write_text(stderr, encoding="utf-8")
    rc = None if error else popen.returncode
    return Measured(argv, rc, wall, peak, tail(stderr), error)
