"""``hydrawatch hunt EVENTS [--accounts FILE] [--json OUT] [--html OUT] [--replay-every DURATION]``."""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Callable
from pathlib import Path

import click

from hydrawatch.hunt.sampling import DEFAULT_TEXT_BUDGET

_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(text: str) -> float:
    """``90s``, ``30m``, ``6h``, ``1d`` or plain seconds -> seconds (> 0)."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*", text)
    if not m:
        raise click.BadParameter(f"{text!r} is not a duration like 6h, 30m, 1d")
    v = float(m.group(1)) * _UNITS.get(m.group(2) or "s", 1.0)
    if v <= 0:
        raise click.BadParameter("duration must be positive")
    return v


def _progress() -> Callable[[str], None]:
    """Progress lines on stderr, each with the time since the hunt started."""
    t0 = time.perf_counter()

    def say(msg: str) -> None:
        click.echo(f"[{time.perf_counter() - t0:6.0f} s] {msg}", err=True)

    return say


@click.command("hunt")
@click.argument(
    "events", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option(
    "--accounts",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="accounts.jsonl (payment fingerprints, sign-up data).",
)
@click.option(
    "--json",
    "json_out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the report contract (JSON) here.",
)
@click.option(
    "--html",
    "html_out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write a standalone HTML report here.",
)
@click.option(
    "--replay-every",
    default=None,
    help="Replay detection on growing time prefixes (e.g. 6h) "
    "and record when each account was first flagged.",
)
@click.option("--workers", type=int, default=0, show_default=True, help="Ingest worker processes (0 = auto).")
@click.option(
    "--max-campaigns", type=int, default=20, show_default=True, help="Campaigns shown in the terminal."
)
@click.option(
    "--text-budget",
    type=click.IntRange(min=0),
    default=DEFAULT_TEXT_BUDGET,
    show_default=True,
    help="Describe the prompts of at most about this many events; larger logs get a time-bucket "
    "sample (0 = every event).",
)
@click.option(
    "--db",
    "db_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="Keep the working tables in this DuckDB file (default: in memory, or a temporary file for "
    "inputs over 1 GB).",
)
@click.option(
    "--tmp-dir",
    type=click.Path(file_okay=False, exists=True),
    default=None,
    help="Directory for temporary files (default: $TMPDIR).",
)
@click.option(
    "--memory-limit",
    default=None,
    help="DuckDB memory limit, e.g. 4GB (default 3GB when the working tables are on disk).",
)
@click.option("--quiet", is_flag=True, help="No progress on stderr.")
def hunt(
    events: tuple[Path, ...],
    accounts: Path | None,
    json_out: Path | None,
    html_out: Path | None,
    replay_every: str | None,
    workers: int,
    max_campaigns: int,
    text_budget: int,
    db_path: str | None,
    tmp_dir: str | None,
    memory_limit: str | None,
    quiet: bool,
) -> None:
    """Find distillation campaigns in exchange logs and explain every flag."""
    from hydrawatch.hunt.pipeline import hunt_files
    from hydrawatch.hunt.render import render_html, render_text
    from hydrawatch.ingest import IngestError

    every = parse_duration(replay_every) if replay_every else None
    try:
        outcome, ev_stats, acc_stats = hunt_files(
            list(events),
            accounts,
            workers=workers,
            replay_every=every,
            db_path=db_path,
            tmp_dir=tmp_dir,
            memory_limit=memory_limit,
            text_budget=text_budget,
            say=(lambda _: None) if quiet else _progress(),
        )
    except IngestError as e:
        raise click.ClickException(str(e)) from e
    click.echo(render_text(outcome.report, max_campaigns=max_campaigns))
    if json_out is not None:
        outcome.report.write(json_out)
        click.echo(f"report written to {json_out}")
    if html_out is not None:
        html_out.write_text(render_html(outcome.report), encoding="utf-8")
        click.echo(f"HTML report written to {html_out}")
    t = outcome.timings
    click.echo("timings: " + ", ".join(f"{k} {v:.1f}" for k, v in t.items()))
    for note in outcome.notes:
        click.echo(f"note: {note}")
    click.echo(ev_stats.summary(), err=False)
    if acc_stats is not None:
        click.echo("accounts: " + acc_stats.summary())
    sys.stdout.flush()
