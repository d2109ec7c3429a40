"""The ``hydrawatch simulate`` command: listing, running, and clear errors instead of tracebacks."""

from __future__ import annotations

from pathlib import Path

import orjson
from click.testing import CliRunner

from hydrawatch.cli import main
from hydrawatch.simulate import SCENARIOS


def test_list_prints_every_scenario() -> None:
    res = CliRunner().invoke(main, ["simulate", "--list"])
    assert res.exit_code == 0
    for name in SCENARIOS:
        assert name in res.output


def test_run_writes_the_three_files_and_a_summary(tmp_path: Path) -> None:
    out = tmp_path / "o"
    res = CliRunner().invoke(
        main,
        [
            "simulate",
            "--scenario",
            "legit-only",
            "--out",
            str(out),
            "--scale",
            "0.01",
            "--seed",
            "3",
            "--quiet",
        ],
    )
    assert res.exit_code == 0, res.output
    summary = orjson.loads(res.output.strip().splitlines()[-1])
    assert summary["scenario"] == "legit-only" and summary["seed"] == 3
    assert summary["campaign_accounts"] == 0 and summary["events"] > 0
    lines = (out / "events.jsonl").read_bytes().splitlines()
    assert len(lines) == summary["events"]
    assert sum(len(x) + 1 for x in lines) == summary["bytes"]
    assert len((out / "accounts.jsonl").read_bytes().splitlines()) == summary["accounts"]


def test_unknown_scenario_is_a_clear_error() -> None:
    res = CliRunner().invoke(main, ["simulate", "--scenario", "nope", "--out", "/tmp/x"])
    assert res.exit_code == 2
    assert "unknown scenario 'nope'" in res.output and "mixed" in res.output
    assert "Traceback" not in res.output


def test_missing_options_and_bad_scale_are_usage_errors(tmp_path: Path) -> None:
    res = CliRunner().invoke(main, ["simulate", "--scenario", "mixed"])
    assert res.exit_code == 2 and "--out" in res.output
    res = CliRunner().invoke(
        main, ["simulate", "--scenario", "mixed", "--out", str(tmp_path), "--scale", "0"]
    )
    assert res.exit_code == 2 and "positive" in res.output
    res = CliRunner().invoke(
        main, ["simulate", "--scenario", "mixed", "--out", str(tmp_path), "--scale", "abc"]
    )
    assert res.exit_code == 2
