"""``hydrawatch bench``: score hydrawatch and today's baselines on simulated scenarios."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
import orjson

from hydrawatch.bench.detectors import BUILTIN, DetectorSpecError, parse_detectors
from hydrawatch.bench.scenarios import SCENARIOS, simulator_fingerprint

QUICK_SCALE = 0.1


def _seeds(text: str) -> list[int]:
    try:
        seeds = [int(x) for x in text.replace(" ", "").split(",") if x]
    except ValueError as e:
        raise click.BadParameter(f"seeds must be integers separated by commas: {text!r}") from e
    if not seeds:
        raise click.BadParameter("give at least one seed")
    return seeds


def _git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def _render(path: Path) -> None:
    from hydrawatch.bench.aggregate import summarise
    from hydrawatch.bench.runner import record_from_json
    from hydrawatch.bench.table import markdown

    try:
        data = orjson.loads(path.read_bytes())
        records = [record_from_json(r) for r in data["runs"]]
        meta = dict(data.get("meta") or {})
    except (OSError, orjson.JSONDecodeError, KeyError, TypeError, ValueError) as e:
        raise click.ClickException(f"{path}: not a bench results file: {e}") from e
    rows, overall = summarise(records)
    click.echo(markdown(rows, overall, records, meta))


def _progress(msg: str) -> None:
    click.echo(f"[bench {datetime.now(UTC).strftime('%H:%M:%S')}] {msg}", err=True)


@click.command(
    help="Simulate scenarios with ground truth, run every detector on them as a child process and score its "
    "report: precision, recall, legitimate FPR (overall and per population), attribution ARI, harvest before "
    "stop, time, events/s and peak memory. Built-in detectors: " + ", ".join(BUILTIN) + "."
)
@click.option(
    "--scenario",
    "scenarios",
    multiple=True,
    metavar="NAME",
    help=f"Scenario to run (repeatable). Default: {', '.join(SCENARIOS)}.",
)
@click.option("--seeds", default=None, metavar="1,2,3", help="Seeds (default 1,2,3; --quick: 1).")
@click.option(
    "--scale", type=float, default=None, help=f"Simulator scale (default 1; --quick: {QUICK_SCALE})."
)
@click.option(
    "--detector",
    "detectors",
    multiple=True,
    metavar="NAME[=CMD]",
    help="A built-in by name, or NAME=COMMAND with {events}, {accounts}, {out} placeholders (repeatable). "
    "Default: every built-in.",
)
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default=None, help="Results directory.")
@click.option(
    "--cache",
    type=click.Path(file_okay=False),
    default=None,
    help="Where simulated runs are kept and reused (default: a hydrawatch-bench folder in the temp dir).",
)
@click.option("--timeout", type=float, default=3600.0, show_default=True, help="Per child process, seconds.")
@click.option(
    "--reuse",
    is_flag=True,
    help="Score saved reports of earlier successful runs of the same command on the same log instead of "
    "rerunning them (e.g. rerun only a changed detector).",
)
@click.option(
    "--render",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="Print the Markdown tables of a stored results JSON (e.g. bench/results/latest.json); runs nothing.",
)
@click.option("--quick", is_flag=True, help=f"One seed at scale {QUICK_SCALE} (a CI smoke test).")
def bench(
    scenarios: tuple[str, ...],
    seeds: str | None,
    scale: float | None,
    detectors: tuple[str, ...],
    out_dir: str | None,
    cache: str | None,
    timeout: float,
    reuse: bool,
    render: str | None,
    quick: bool,
) -> None:
    from hydrawatch.bench.aggregate import summarise
    from hydrawatch.bench.runner import run_bench
    from hydrawatch.bench.table import markdown, to_json

    if render is not None:
        _render(Path(render))
        return
    seed_list = _seeds(seeds) if seeds else ([1] if quick else [1, 2, 3])
    scale_f = scale if scale is not None else (QUICK_SCALE if quick else 1.0)
    if scale_f <= 0:
        raise click.BadParameter("--scale must be > 0")
    try:
        dets = parse_detectors(detectors)
    except DetectorSpecError as e:
        raise click.BadParameter(str(e), param_hint="--detector") from e
    names = list(scenarios) or list(SCENARIOS)
    out = Path(out_dir) if out_dir else Path("bench/results") / ("quick" if quick else "")
    out.mkdir(parents=True, exist_ok=True)
    cache_dir = (Path(cache) if cache else Path(tempfile.gettempdir()) / "hydrawatch-bench") / (
        f"sim-{simulator_fingerprint()}"
    )
    cache_dir.mkdir(parents=True, exist_ok=True)
    started = datetime.now(UTC)
    meta: dict[str, Any] = {
        "scenarios": names,
        "seeds": seed_list,
        "scale": scale_f,
        "detectors": {d.name: d.template for d in dets},
        "started": started.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "commit": _git_commit(),
        "simulator": cache_dir.name,
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
    }
    t0 = time.perf_counter()
    records = run_bench(
        names, seed_list, scale_f, dets, out, cache_dir, timeout_s=timeout, reuse=reuse, progress=_progress
    )
    meta["wall_s"] = round(time.perf_counter() - t0, 1)
    rows, overall = summarise(records)
    md = markdown(rows, overall, records, meta)
    data = to_json(rows, overall, records, meta)
    (out / "latest.md").write_text(md, encoding="utf-8")
    blob = orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY)
    (out / "latest.json").write_bytes(blob)
    (out / f"bench-{started.strftime('%Y%m%dT%H%M%SZ')}.json").write_bytes(blob)
    click.echo(md)
    _progress(f"done in {meta['wall_s']} s; wrote {out / 'latest.md'} and {out / 'latest.json'}")
    sys.stdout.flush()
