"""The bench loop: for each scenario and seed, simulate, run every detector as a child process, score."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from hydrawatch.bench.detectors import Detector
from hydrawatch.bench.labels import LabelsError, read_labels
from hydrawatch.bench.measure import Measured, run_measured, tail
from hydrawatch.bench.scenarios import SimRun, SimulationError, load_timeline, simulate
from hydrawatch.bench.score import RunScore, ScoreError, run_score_from_json, score_report
from hydrawatch.report.model import Report, ReportError

Progress = Callable[[str], None]


@dataclass(slots=True)
class RunRecord:
    """One detector on one simulated (scenario, seed)."""

    scenario: str
    seed: int
    detector: str
    events: int
    ok: bool
    error: str | None = None
    wall_s: float | None = None
    peak_rss_mb: float | None = None
    score: RunScore | None = None
    reused: bool = False  # scored from an earlier run's saved report and measurements

    @property
    def events_per_s(self) -> float | None:
        if not self.ok or not self.wall_s:
            return None
        return self.events / self.wall_s

    def to_json(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario,
            "seed": self.seed,
            "detector": self.detector,
            "events": self.events,
            "ok": self.ok,
            "error": self.error,
            "wall_s": self.wall_s,
            "events_per_s": self.events_per_s,
            "peak_rss_mb": self.peak_rss_mb,
            "reused": self.reused,
            "score": None if self.score is None else self.score.to_json(),
        }


def record_from_json(d: dict[str, Any]) -> RunRecord:
    """Rebuild a ``RunRecord`` from ``RunRecord.to_json()``."""
    return RunRecord(
        str(d["scenario"]),
        int(d["seed"]),
        str(d["detector"]),
        int(d["events"]),
        bool(d["ok"]),
        d.get("error"),
        d.get("wall_s"),
        d.get("peak_rss_mb"),
        None if d.get("score") is None else run_score_from_json(d["score"]),
        bool(d.get("reused", False)),
    )


def _measurement_path(work: Path, name: str) -> Path:
    return work / f"{name}.run.json"


def _reusable(work: Path, detector: Detector, events: int, argv: list[str]) -> Measured | None:
    """The saved measurement of an earlier successful run of the same command on the same log."""
    path, out = _measurement_path(work, detector.name), work / f"{detector.name}.json"
    if not (path.exists() and out.exists()):
        return None
    try:
        saved = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return None
    # the same command on the same files (the events path carries the simulator's fingerprint)
    if not isinstance(saved, dict) or saved.get("argv") != argv or saved.get("events") != events:
        return None
    if not saved.get("ok"):
        return None
    return Measured(argv, 0, float(saved["wall_s"]), int(saved["peak_rss_bytes"]), "", None)


def run_detector(
    sim: SimRun,
    detector: Detector,
    events: int,
    work: Path,
    timeout_s: float,
    score_inputs: Any,
    reuse: bool = False,
) -> RunRecord:
    """Run one detector on one simulated run; every failure becomes a failed record, never an exception.

    With ``reuse``, an earlier successful run of the same command on the same log (its report and
    measurements are kept in ``work``) is scored again instead of being rerun.
    """
    out = work / f"{detector.name}.json"
    argv = detector.argv(sim.events, sim.accounts, out)
    m = _reusable(work, detector, events, argv) if reuse else None
    reused = m is not None
    if m is None:
        out.unlink(missing_ok=True)
        m = run_measured(argv, timeout_s=timeout_s, log_path=work / f"{detector.name}.stderr.txt")
        saved = {
            "template": detector.template,
            "argv": argv,
            "events": events,
            "ok": m.ok,
            "returncode": m.returncode,
            "error": m.error,
            "wall_s": m.wall_s,
            "peak_rss_bytes": m.peak_rss_bytes,
        }
        _measurement_path(work, detector.name).write_bytes(orjson.dumps(saved))
    rec = RunRecord(sim.scenario, sim.seed, detector.name, events, False, None, m.wall_s, m.peak_rss_mb)
    rec.reused = reused
    if not m.ok:
        rec.error = f"{m.error or f'exit code {m.returncode}'}: {tail(m.stderr_tail, lines=4, chars=400)}"
        return rec
    labels, timeline = score_inputs
    try:
        report = Report.read(out)
        rec.score = score_report(labels, report, timeline)
    except FileNotFoundError:
        rec.error = f"no report written to {out}"
        return rec
    except (ReportError, ScoreError) as e:
        rec.error = f"bad report: {e}"
        return rec
    rec.ok = True
    return rec


def run_bench(
    scenarios: Sequence[str],
    seeds: Sequence[int],
    scale: float,
    detectors: Sequence[Detector],
    out_dir: Path,
    cache: Path,
    *,
    timeout_s: float = 3600.0,
    reuse: bool = False,
    progress: Progress | None = None,
) -> list[RunRecord]:
    say = progress or (lambda _msg: None)
    records: list[RunRecord] = []
    for scenario in scenarios:
        for seed in seeds:
            tag = f"{scenario} seed {seed}"
            say(f"{tag}: simulating (scale {scale:g})")
            try:
                sim = simulate(scenario, seed, scale, cache, timeout_s=timeout_s)
                labels_all = read_labels(sim.labels)
                timeline = load_timeline(sim)
            except (SimulationError, LabelsError, OSError) as e:
                say(f"{tag}: cannot simulate: {e}")
                records += [
                    RunRecord(scenario, seed, d.name, 0, False, f"simulation failed: {tail(str(e), 4, 400)}")
                    for d in detectors
                ]
                continue
            # accounts with no traffic cannot be judged from traffic: score those the log shows
            labels = labels_all.restricted_to(timeline.accounts)
            work = out_dir / "runs" / f"{scenario}-seed{seed}-scale{scale:g}"
            work.mkdir(parents=True, exist_ok=True)
            say(f"{tag}: {timeline.n_events:,} events, {len(labels.by_account):,} accounts")
            for det in detectors:
                say(f"{tag}: {det.name} ...")
                rec = run_detector(sim, det, timeline.n_events, work, timeout_s, (labels, timeline), reuse)
                records.append(rec)
                if rec.ok and rec.score is not None:
                    s = rec.score
                    again = " (reused)" if rec.reused else ""
                    say(
                        f"{tag}: {det.name}{again}: {rec.wall_s:.1f} s, {rec.peak_rss_mb:.0f} MB, "
                        f"recall {_f(s.recall)}, precision {_f(s.precision)}, legit FPR {_f(s.legit_fpr)}"
                    )
                else:
                    say(f"{tag}: {det.name}: FAILED {rec.error}")
    return records


def _f(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.3f}"
