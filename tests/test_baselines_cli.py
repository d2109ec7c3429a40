import json

import orjson
import pytest
from click.testing import CliRunner

from hydrawatch.cli import main
from hydrawatch.report.model import Report

DAY0 = 1772409600.0


def write_events(path, rows):
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))


def sample_rows():
    rows = []
    # a scraper: 6,000 requests in 50 minutes from one IP (120 a minute), 10 tokens each
    rows += [
        {
            "ts": DAY0 + i * 0.5,
            "account_id": "scraper",
            "prompt": f"q {i}",
            "ip": "1.1.1.1",
            "output_tokens": 10,
        }
        for i in range(6000)
    ]
    rows += [
        {
            "ts": DAY0 + i * 3600,
            "account_id": "human",
            "prompt": f"hello {i}",
            "ip": "2.2.2.2",
            "output_tokens": 80,
        }
        for i in range(20)
    ]
    return rows


@pytest.fixture
def logs(tmp_path):
    ev = tmp_path / "events.jsonl"
    write_events(ev, [*sample_rows(), {"account_id": "broken"}, "not an object"])
    acc = tmp_path / "accounts.jsonl"
    acc.write_text(json.dumps({"account_id": "idle", "created_at": DAY0}) + "\n")
    return ev, acc


@pytest.mark.parametrize("name", ["daily-volume", "heavy-mean", "ip-burst"])
def test_threshold_baselines_write_the_report_contract(logs, tmp_path, name):
    ev, acc = logs
    out = tmp_path / f"{name}.json"
    res = CliRunner().invoke(main, ["baseline", name, str(ev), "--accounts", str(acc), "--json", str(out)])
    assert res.exit_code == 0, res.output
    report = Report.read(out)
    ids = {a.account_id for a in report.accounts}
    assert {"scraper", "human", "idle"} <= ids
    flagged = {a.account_id for a in report.accounts if a.flagged}
    expected = {"daily-volume": {"scraper"}, "heavy-mean": set(), "ip-burst": {"scraper"}}[name]
    assert flagged == expected
    assert report.meta["detector"] == name


def test_daily_volume_reason_and_time(logs, tmp_path):
    ev, _ = logs
    out = tmp_path / "r.json"
    res = CliRunner().invoke(main, ["baseline", "daily-volume", str(ev), "--json", str(out)])
    assert res.exit_code == 0, res.output
    scraper = next(a for a in Report.read(out).accounts if a.account_id == "scraper")
    assert scraper.reasons == ["6,000 requests on 2026-03-02 > 5,000"]
    assert scraper.first_flagged_ts == DAY0 + 86400


def test_prada_runs_with_an_explicit_delta(logs, tmp_path):
    ev, acc = logs
    out = tmp_path / "p.json"
    args = ["baseline", "prada", str(ev), "--accounts", str(acc), "--json", str(out), "--max-queries", "300"]
    res = CliRunner().invoke(main, [*args, "--delta", "0.5"])
    assert res.exit_code == 0, res.output
    report = Report.read(out)
    assert report.meta["delta"] == 0.5
    assert {a.account_id for a in report.accounts} >= {"scraper", "human", "idle"}


def test_prada_calibrate_prints_a_delta(logs):
    ev, _ = logs
    res = CliRunner().invoke(main, ["baseline", "prada", str(ev), "--calibrate", "--max-queries", "200"])
    assert res.exit_code == 0, res.output
    assert "delta for benign FPR <= 0.20%" in res.output


def test_missing_json_option_and_unknown_name_are_usage_errors(logs):
    ev, _ = logs
    assert CliRunner().invoke(main, ["baseline", "daily-volume", str(ev)]).exit_code == 2
    assert CliRunner().invoke(main, ["baseline", "nope", str(ev), "--json", "x"]).exit_code == 2


def test_unreadable_input_is_a_clear_error_not_a_traceback(tmp_path):
    bad = tmp_path / "e.csv"
    bad.write_text("not,a,known\nformat,at,all\n")
    res = CliRunner().invoke(main, ["baseline", "ip-burst", str(bad), "--json", str(tmp_path / "o.json")])
    assert res.exception is None or isinstance(res.exception, SystemExit)
