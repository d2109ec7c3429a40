"""The bench tables as Markdown (for people and the README) and JSON (to compare runs)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from hydrawatch.bench.aggregate import OVERALL, Row, Stat, population_rates
from hydrawatch.bench.runner import RunRecord
from hydrawatch.bench.score import ratio

COLUMNS = (
    "scenario",
    "detector",
    "precision",
    "recall",
    "legit FPR",
    "worst hard-case FPR",
    "ARI",
    "harvest before stop",
    "time s",
    "events/s",
    "peak MB",
)


def _num(x: float) -> str:
    return f"{x:.3f}"


def _pct(x: float) -> str:
    return f"{100 * x:.2f}%"


def _int(x: float) -> str:
    return f"{x:,.0f}"


def _sec(x: float) -> str:
    return f"{x:,.1f}"


def cell(s: Stat | None, fmt: Callable[[float], str] = _num) -> str:
    """``mean`` or ``mean (min-max)`` when the runs disagree; ``n/a`` when undefined."""
    if s is None:
        return "n/a"
    if s.n > 1 and fmt(s.lo) != fmt(s.hi):
        return f"{fmt(s.mean)} ({fmt(s.lo)}–{fmt(s.hi)})"
    return fmt(s.mean)


def row_cells(r: Row) -> list[str]:
    if r.failed == r.runs:
        err = (r.errors[0] if r.errors else "failed").replace("|", "\\|").replace("\n", " ")
        return [r.scenario, r.detector, f"FAILED ({r.failed}/{r.runs}): {err[:160]}", *[""] * 8]
    worst = "n/a"
    if r.worst_population is not None and r.worst_population_fpr is not None:
        worst = cell(r.worst_population_fpr, _pct)
        if r.worst_population_fpr.hi > 0:  # name the population only when it has false positives
            worst += f" ({r.worst_population})"
    det = r.detector if not r.failed else f"{r.detector} ({r.failed}/{r.runs} failed)"
    return [
        r.scenario,
        det,
        cell(r.precision),
        cell(r.recall),
        cell(r.legit_fpr, _pct),
        worst,
        cell(r.ari),
        cell(r.harvest_share, _pct),
        cell(r.time_s, _sec),
        cell(r.events_per_s, _int),
        cell(r.peak_mb, _int),
    ]


def _md_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def population_table(records: Sequence[RunRecord]) -> tuple[list[str], list[list[str]], dict[str, Any]]:
    """Per population (pooled over all runs): the share flagged by each detector."""
    detectors = list(dict.fromkeys(r.detector for r in records))
    per_det = {d: population_rates([r for r in records if r.detector == d]) for d in detectors}
    pops: dict[str, bool] = {}
    for rates in per_det.values():
        for name, (camp, _, _) in rates.items():
            pops[name] = pops.get(name, False) or camp
    order = sorted(pops, key=lambda k: (pops[k], k))  # legitimate first
    header = ["population", "kind", "accounts (all runs)", *detectors]
    rows: list[list[str]] = []
    data: dict[str, Any] = {}
    for name in order:
        n_acc = max((per_det[d][name][1] for d in detectors if name in per_det[d]), default=0)
        cells = [name, "campaign (recall)" if pops[name] else "legitimate (FPR)", f"{n_acc:,}"]
        data[name] = {"campaign": pops[name], "accounts": n_acc, "rate": {}}
        for d in detectors:
            got = per_det[d].get(name)
            rate = None if got is None else ratio(got[2], got[1])
            data[name]["rate"][d] = rate
            cells.append("n/a" if rate is None else (_num(rate) if pops[name] else _pct(rate)))
        rows.append(cells)
    return header, rows, data


def markdown(
    rows: Sequence[Row], overall: Sequence[Row], records: Sequence[RunRecord], meta: dict[str, Any]
) -> str:
    parts = [
        "## hydrawatch bench",
        "",
        f"Scenarios: {', '.join(meta.get('scenarios', []))}; seeds {meta.get('seeds')}; "
        f"scale {meta.get('scale')}; "
        f"{meta.get('started', '')}. Values are means over seeds with (min–max) when they differ. "
        "FPR: share of legitimate accounts flagged; worst hard-case FPR: the legitimate population with the "
        "highest FPR; ARI: attribution over campaign accounts; harvest before stop: share of campaign "
        "exchanges served before each account was first flagged (n/a: the detector does not time its flags).",
        "",
        "### Overall (pooled over scenarios and seeds)",
        "",
        _md_table(COLUMNS[1:], [row_cells(r)[1:] for r in overall]),
        "",
        "### Per scenario",
        "",
        _md_table(COLUMNS, [row_cells(r) for r in rows]),
        "",
        "### Per population (share of accounts flagged, pooled over all runs)",
        "",
    ]
    header, prow, _ = population_table(records)
    parts += [_md_table(header, prow), ""]
    failures = [r for r in records if not r.ok]
    if failures:
        parts += ["### Failed runs", ""]
        parts += [
            f"- {r.scenario} seed {r.seed} {r.detector}: {(r.error or '').splitlines()[0][:300]}"
            for r in failures
        ]
        parts.append("")
    return "\n".join(parts)


def to_json(
    rows: Sequence[Row], overall: Sequence[Row], records: Sequence[RunRecord], meta: dict[str, Any]
) -> dict[str, Any]:
    _, _, pops = population_table(records)
    return {
        "meta": meta,
        "overall": [r.to_json() for r in overall],
        "rows": [r.to_json() for r in rows if r.scenario != OVERALL],
        "populations": pops,
        "runs": [r.to_json() for r in records],
    }
