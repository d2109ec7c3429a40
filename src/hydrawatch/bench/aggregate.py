"""Summaries of bench runs: per (scenario, detector) over seeds, and overall per detector."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from hydrawatch.bench.runner import RunRecord
from hydrawatch.bench.score import RunScore, ratio

OVERALL = "overall"


@dataclass(frozen=True, slots=True)
class Stat:
    """Mean with min and max over runs (a single pooled figure has lo == hi == mean)."""

    mean: float
    lo: float
    hi: float
    n: int

    def to_json(self) -> dict[str, float | int]:
        return {"mean": self.mean, "min": self.lo, "max": self.hi, "n": self.n}


def stat(values: Iterable[float | None]) -> Stat | None:
    vals = [float(v) for v in values if v is not None]
    if not vals:
        return None
    return Stat(sum(vals) / len(vals), min(vals), max(vals), len(vals))


def single(value: float | None) -> Stat | None:
    return None if value is None else Stat(value, value, value, 1)


@dataclass(slots=True)
class Row:
    scenario: str
    detector: str
    runs: int
    failed: int
    errors: list[str] = field(default_factory=list)
    precision: Stat | None = None
    recall: Stat | None = None
    legit_fpr: Stat | None = None
    worst_population: str | None = None
    worst_population_fpr: Stat | None = None
    ari: Stat | None = None
    harvest_share: Stat | None = None
    time_s: Stat | None = None
    events_per_s: Stat | None = None
    peak_mb: Stat | None = None

    def to_json(self) -> dict[str, Any]:
        def j(s: Stat | None) -> dict[str, float | int] | None:
            return None if s is None else s.to_json()

        return {
            "scenario": self.scenario,
            "detector": self.detector,
            "runs": self.runs,
            "failed": self.failed,
            "errors": self.errors,
            "precision": j(self.precision),
            "recall": j(self.recall),
            "legit_fpr": j(self.legit_fpr),
            "worst_population": self.worst_population,
            "worst_population_fpr": j(self.worst_population_fpr),
            "ari": j(self.ari),
            "harvest_share": j(self.harvest_share),
            "time_s": j(self.time_s),
            "events_per_s": j(self.events_per_s),
            "peak_mb": j(self.peak_mb),
        }


def _ok_scores(records: Sequence[RunRecord]) -> list[tuple[RunRecord, RunScore]]:
    return [(r, r.score) for r in records if r.ok and r.score is not None]


def population_rates(records: Sequence[RunRecord]) -> dict[str, tuple[bool, int, int]]:
    """Pooled over runs: population -> (is campaign, accounts, flagged)."""
    out: dict[str, tuple[bool, int, int]] = {}
    for _, s in _ok_scores(records):
        for name, p in s.populations.items():
            camp, n, f = out.get(name, (False, 0, 0))
            out[name] = (camp or p.campaign, n + p.accounts, f + p.flagged)
    return out


def _worst(records: Sequence[RunRecord]) -> tuple[str | None, Stat | None]:
    pooled = population_rates(records)
    legit = {k: ratio(f, n) for k, (camp, n, f) in pooled.items() if not camp}
    rated = {k: v for k, v in legit.items() if v is not None}
    if not rated:
        return None, None
    name = max(sorted(rated), key=lambda k: rated[k])
    per_run = [s.populations[name].rate for _, s in _ok_scores(records) if name in s.populations]
    return name, stat(per_run)


def _base_row(scenario: str, detector: str, records: Sequence[RunRecord]) -> Row:
    return Row(
        scenario,
        detector,
        runs=len(records),
        failed=sum(1 for r in records if not r.ok),
        errors=[f"seed {r.seed}: {r.error}" for r in records if not r.ok and r.error],
    )


def scenario_row(scenario: str, detector: str, records: Sequence[RunRecord]) -> Row:
    """Mean and min-max over seeds of each metric."""
    row = _base_row(scenario, detector, records)
    ok = _ok_scores(records)
    row.precision = stat(s.precision for _, s in ok)
    row.recall = stat(s.recall for _, s in ok)
    row.legit_fpr = stat(s.legit_fpr for _, s in ok)
    row.worst_population, row.worst_population_fpr = _worst(records)
    row.ari = stat(s.ari for _, s in ok)
    row.harvest_share = stat(s.harvest_share for _, s in ok)
    row.time_s = stat(r.wall_s for r, _ in ok)
    row.events_per_s = stat(r.events_per_s for r, _ in ok)
    row.peak_mb = stat(r.peak_rss_mb for r, _ in ok)
    return row


def overall_row(detector: str, records: Sequence[RunRecord]) -> Row:
    """Pooled over every scenario and seed: counts summed, ARI averaged, time summed, peak maximised."""
    row = _base_row(OVERALL, detector, records)
    ok = _ok_scores(records)
    tp = sum(s.true_positives for _, s in ok)
    row.precision = single(ratio(tp, sum(s.flagged for _, s in ok)))
    row.recall = single(ratio(tp, sum(s.campaign_accounts for _, s in ok)))
    row.legit_fpr = single(ratio(sum(s.false_positives for _, s in ok), sum(s.legit_accounts for _, s in ok)))
    row.worst_population, _ = _worst(records)
    pooled = population_rates(records)
    if row.worst_population is not None:
        _, n, f = pooled[row.worst_population]
        row.worst_population_fpr = single(ratio(f, n))
    row.ari = stat(s.ari for _, s in ok)
    harvested = [h for _, s in ok if s.harvest is not None for h in s.harvest]
    timed_all = all(s.harvest is not None for _, s in ok if s.campaign_accounts)
    if harvested and timed_all:
        row.harvest_share = single(
            ratio(sum(h.exchanges_before_stop for h in harvested), sum(h.exchanges for h in harvested))
        )
    total_s = sum(r.wall_s or 0.0 for r, _ in ok)
    row.time_s = single(total_s if ok else None)
    n_events = sum(r.events for r, _ in ok)
    row.events_per_s = single(n_events / total_s if total_s > 0 else None)
    row.peak_mb = single(max((r.peak_rss_mb or 0.0 for r, _ in ok), default=None) if ok else None)
    return row


def summarise(records: Sequence[RunRecord]) -> tuple[list[Row], list[Row]]:
    """(rows per scenario and detector, overall rows per detector), in first-seen order."""
    scenarios = list(dict.fromkeys(r.scenario for r in records))
    detectors = list(dict.fromkeys(r.detector for r in records))
    rows = [
        scenario_row(sc, d, [r for r in records if r.scenario == sc and r.detector == d])
        for sc in scenarios
        for d in detectors
    ]
    overall = [overall_row(d, [r for r in records if r.detector == d]) for d in detectors]
    return rows, overall
