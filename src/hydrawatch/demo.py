"""``hydrawatch demo``: the main job on the embedded default, in one command.

Simulates a week of mixed traffic (legitimate hard cases and several campaigns),
hunts it, prints the report and saves it (JSON + HTML) next to the data.
"""

from __future__ import annotations

from pathlib import Path

import click

from hydrawatch.hunt.cli import hunt
from hydrawatch.simulate.cli import simulate


@click.command()
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("demo-out"),
    show_default=True,
    help="Folder for the simulated logs and the report.",
)
@click.option("--scenario", default="mixed", show_default=True, help="Simulator scenario to hunt.")
@click.option("--seed", type=int, default=7, show_default=True, help="Simulator seed.")
@click.option(
    "--scale", type=float, default=0.1, show_default=True, help="Simulator scale (1.0 = full week)."
)
@click.pass_context
def demo(ctx: click.Context, out_dir: Path, scenario: str, seed: int, scale: float) -> None:
    """Simulate a week of traffic with campaigns in it, hunt it, print and save the report."""
    out_dir.mkdir(parents=True, exist_ok=True)
    click.echo(
        f"[1/2] simulating scenario {scenario!r} (seed {seed}, scale {scale}) into {out_dir}/", err=True
    )
    ctx.invoke(simulate, scenario=scenario, out=out_dir, seed=seed, scale=scale)
    click.echo(f"[2/2] hunting {out_dir}/events.jsonl", err=True)
    ctx.invoke(
        hunt,
        events=(out_dir / "events.jsonl",),
        accounts=out_dir / "accounts.jsonl",
        json_out=out_dir / "report.json",
        html_out=out_dir / "report.html",
    )
    click.echo(
        f"report: {out_dir / 'report.json'} and {out_dir / 'report.html'}; "
        f"ground truth: {out_dir / 'labels.csv'}",
        err=True,
    )
