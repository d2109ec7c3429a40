"""``hydrawatch baseline NAME EVENTS [--accounts FILE] --json OUT``: run one of today's detectors."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click
import duckdb

from hydrawatch.baselines.registry import DESCRIPTIONS, NAMES, runner


def _calibrate(con: duckdb.DuckDBPyConnection, max_fpr: float, options: dict[str, float | int]) -> None:
    from hydrawatch.baselines.prada import Prada, calibrate_delta

    prada = Prada(**options)  # type: ignore[arg-type]
    _, results = prada.run(con, stop_on_flag=False)
    min_ws = [r.min_w for r in results.values()]
    delta = calibrate_delta(min_ws, max_fpr)
    tested = sorted(w for w in min_ws if w is not None)
    click.echo(f"accounts: {len(min_ws):,}; tested (>= {prada.min_queries} queries): {len(tested):,}")
    if tested:
        qs = {q: tested[min(len(tested) - 1, int(q * len(tested)))] for q in (0.0, 0.01, 0.05, 0.5)}
        click.echo("min W per account: " + ", ".join(f"q{int(q * 100)}={w:.4f}" for q, w in qs.items()))
    click.echo(f"delta for benign FPR <= {max_fpr:.2%}: {delta:.4f}")


@click.command(
    help="Run a baseline detector and write the report contract. NAME: "
    + "; ".join(f"{k} ({v})" for k, v in DESCRIPTIONS.items())
)
@click.argument("name", type=click.Choice(NAMES))
@click.argument("events", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--accounts", "accounts", type=click.Path(exists=True, dir_okay=False), help="Accounts file.")
@click.option("--json", "json_out", type=click.Path(dir_okay=False), help="Write the report here.")
@click.option(
    "--delta", type=float, default=None, help="prada: Shapiro-Wilk threshold (default: calibrated)."
)
@click.option(
    "--min-queries", type=int, default=50, show_default=True, help="prada: distances before testing."
)
@click.option(
    "--max-queries", type=int, default=2000, show_default=True, help="prada: queries examined per account."
)
@click.option(
    "--calibrate", is_flag=True, help="prada: treat EVENTS as benign and print the calibrated delta."
)
@click.option(
    "--max-fpr", type=float, default=0.002, show_default=True, help="prada --calibrate: benign FPR budget."
)
def baseline(
    name: str,
    events: tuple[str, ...],
    accounts: str | None,
    json_out: str | None,
    delta: float | None,
    min_queries: int,
    max_queries: int,
    calibrate: bool,
    max_fpr: float,
) -> None:
    if calibrate and name != "prada":
        raise click.UsageError("--calibrate applies to prada only")
    if not calibrate and not json_out:
        raise click.UsageError("--json OUT is required")
    from hydrawatch.baselines.loading import load_event_files
    from hydrawatch.baselines.prada import DEFAULT_DELTA
    from hydrawatch.baselines.verdicts import build_report

    t0 = time.perf_counter()
    con = duckdb.connect()
    from hydrawatch.ingest import IngestError

    try:
        summary = load_event_files(con, [Path(p) for p in events], accounts)
    except IngestError as e:
        raise click.ClickException(f"cannot read the input: {e}") from e
    click.echo(summary, err=True)
    options: dict[str, float | int] = {"min_queries": min_queries, "max_queries": max_queries}
    if delta is not None:
        options["delta"] = delta
    if calibrate:
        _calibrate(con, max_fpr, options)
        return
    flags = runner(name, **options)(con) if name == "prada" else runner(name)(con)
    meta: dict[str, object] = {"detector": name, "rule": DESCRIPTIONS[name]}
    if name == "prada":
        meta["delta"] = options.get("delta", DEFAULT_DELTA)
    report = build_report(con, flags, meta)
    assert json_out is not None
    report.write(json_out)
    n_flagged = sum(1 for a in report.accounts if a.flagged)
    click.echo(
        f"{name}: {n_flagged:,} of {len(report.accounts):,} accounts flagged, {len(report.campaigns):,} "
        f"campaign(s), {time.perf_counter() - t0:.1f} s -> {json_out}",
        err=True,
    )
    sys.stderr.flush()
