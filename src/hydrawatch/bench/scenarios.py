"""Simulated scenarios for the bench: generated once per (scenario, seed, scale) into a cache directory."""

from __future__ import annotations

import hashlib
import importlib.util
import shutil
from dataclasses import dataclass
from pathlib import Path

from hydrawatch.bench.detectors import hydrawatch_program
from hydrawatch.bench.measure import run_measured
from hydrawatch.bench.timeline import Timeline

SCENARIOS: tuple[str, ...] = (
    "naive-scraper",
    "hydra-lockstep",
    "hydra-narrow-pivot",
    "hydra-stealth",
    "legit-only",
    "mixed",
)
DONE_MARK = ".complete"


class SimulationError(RuntimeError):
    """The simulator failed or wrote incomplete output."""


@dataclass(frozen=True, slots=True)
class SimRun:
    scenario: str
    seed: int
    scale: float
    dir: Path

    @property
    def events(self) -> Path:
        return self.dir / "events.jsonl"

    @property
    def accounts(self) -> Path:
        return self.dir / "accounts.jsonl"

    @property
    def labels(self) -> Path:
        return self.dir / "labels.csv"

    @property
    def timeline_path(self) -> Path:
        return self.dir / "timeline.parquet"


def simulator_fingerprint() -> str:
    """A short hash of the simulator's files, so a changed simulator never reuses stale cached runs."""
    spec = importlib.util.find_spec("hydrawatch.simulate")  # locates the package without importing it
    h = hashlib.sha256()
    for root in (spec.submodule_search_locations or []) if spec else []:
        for p in sorted(Path(root).rglob("*")):
            if p.is_file() and "__pycache__" not in p.parts:
                h.update(str(p.relative_to(root)).encode())
                h.update(p.read_bytes())
    return h.hexdigest()[:12]


def sim_dir(cache: Path, scenario: str, seed: int, scale: float) -> Path:
    return cache / f"{scenario}-seed{seed}-scale{scale:g}"


def simulate(scenario: str, seed: int, scale: float, cache: Path, timeout_s: float = 3600.0) -> SimRun:
    """Simulate into the cache (reused when already complete) with ``hydrawatch simulate``."""
    run = SimRun(scenario, seed, scale, sim_dir(cache, scenario, seed, scale))
    if (run.dir / DONE_MARK).exists():
        return run
    if run.dir.exists():
        shutil.rmtree(run.dir)
    run.dir.mkdir(parents=True)
    argv = [
        *hydrawatch_program(),
        "simulate",
        "--scenario",
        scenario,
        "--out",
        str(run.dir),
        "--seed",
        str(seed),
        "--scale",
        f"{scale:g}",
    ]
    m = run_measured(argv, timeout_s=timeout_s)
    if not m.ok:
        raise SimulationError(
            f"simulate {scenario} seed {seed} failed: {m.error or m.returncode}\n{m.stderr_tail}"
        )
    for p in (run.events, run.labels):
        if not p.exists():
            raise SimulationError(f"simulate {scenario} seed {seed} wrote no {p.name}")
    if not run.accounts.exists():
        run.accounts.write_text("")
    (run.dir / DONE_MARK).write_text("ok\n")
    return run


def load_timeline(run: SimRun) -> Timeline:
    """Per-account (ts, output_tokens) of the run's events via the ingest stage, cached as Parquet."""
    if run.timeline_path.exists():
        return Timeline.read(run.timeline_path)
    import duckdb

    from hydrawatch import ingest

    con = duckdb.connect()
    try:
        ingest.load_events(con, [str(run.events)], table="events")
    except ingest.IngestError as e:
        raise SimulationError(f"cannot read {run.events}: {e}") from e
    cols = con.execute(
        "SELECT account_id, ts, coalesce(output_tokens, 0) AS tok FROM events WHERE ts IS NOT NULL"
    ).fetchnumpy()
    con.close()
    tl = Timeline.from_arrays(cols["account_id"], cols["ts"], cols["tok"])
    tl.write(run.timeline_path)
    return tl
