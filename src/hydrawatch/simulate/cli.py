"""``hydrawatch simulate``: write a scenario's events, accounts and ground-truth labels."""

from __future__ import annotations

from pathlib import Path

import click
import orjson


@click.command("simulate")
@click.option("--scenario", "scenario", type=str, help="Scenario name (see --list).")
@click.option("--out", "out", type=click.Path(file_okay=False, path_type=Path), help="Output directory.")
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed (same seed, same files).")
@click.option(
    "--scale", type=float, default=1.0, show_default=True, help="Multiplies account counts (and volume)."
)
@click.option(
    "--responses/--no-responses",
    "responses",
    default=None,
    help="Include response texts (default: per scenario; off for 'disclosed').",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Generator processes (output is identical for any number).",
)
@click.option("--list", "list_only", is_flag=True, help="List scenarios and exit.")
@click.option("--quiet", is_flag=True, help="No progress on stderr.")
def simulate(
    scenario: str | None,
    out: Path | None,
    seed: int,
    scale: float,
    responses: bool | None,
    workers: int,
    list_only: bool,
    quiet: bool,
) -> None:
    """Generate exchange logs with ground truth (legitimate users and campaigns).

    Writes OUT/events.jsonl (exchange-log contract, in time order), OUT/accounts.jsonl and
    OUT/labels.csv (account_id,campaign_id,population)."""
    from hydrawatch.simulate.scenarios import SCENARIOS

    if list_only:
        for sc in SCENARIOS.values():
            click.echo(f"{sc.name:20s} {sc.description}")
        return
    if not scenario or out is None:
        raise click.UsageError("--scenario and --out are required (or use --list)")
    if scenario not in SCENARIOS:
        raise click.BadParameter(
            f"unknown scenario {scenario!r}; choose from: {', '.join(SCENARIOS)}", param_hint="--scenario"
        )
    if scale <= 0:
        raise click.BadParameter("must be positive", param_hint="--scale")
    from hydrawatch.simulate.writer import simulate as run
    from hydrawatch.simulate.writer import stderr_progress

    summary = run(
        scenario,
        out,
        seed=seed,
        scale=scale,
        responses=responses,
        progress=None if quiet else stderr_progress,
        workers=workers,
    )
    click.echo(orjson.dumps(summary.to_json()).decode())
