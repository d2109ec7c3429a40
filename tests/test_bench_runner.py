import json
import sys

import orjson
import pytest
from click.testing import CliRunner

from hydrawatch.bench.aggregate import summarise
from hydrawatch.bench.detectors import BUILTIN, Detector, DetectorSpecError, parse_detectors
from hydrawatch.bench.measure import run_measured
from hydrawatch.bench.runner import run_bench
from hydrawatch.bench.scenarios import DONE_MARK, sim_dir, simulator_fingerprint
from hydrawatch.bench.table import markdown, to_json
from hydrawatch.cli import main

DAY0 = 1772409600.0

ORACLE = """
import csv, json, sys
events, out, labels, mode = sys.argv[1:5]
rows = list(csv.DictReader(open(labels)))
accounts = []
for r in rows:
    camp = r["campaign_id"] or None
    if mode == "missing" and r["account_id"] == "u1":
        continue
    flagged = camp is not None or (mode == "noisy" and r["account_id"] == "u1")
    accounts.append({"account_id": r["account_id"], "risk": 1.0 if flagged else 0.0, "flagged": flagged,
                     "campaign_id": camp if flagged else None, "reasons": [],
                     "first_flagged_ts": DAY0 + 120 if flagged and mode == "timed" else None})
json.dump({"accounts": accounts, "campaigns": []}, open(out, "w"))
""".replace("DAY0", repr(DAY0))


def make_cached_run(cache, scenario="toy", seed=1, scale=0.1):
    d = sim_dir(cache, scenario, seed, scale)
    d.mkdir(parents=True)
    rows = []
    for acc, n in [("c1", 10), ("c2", 10), ("u1", 4), ("u2", 4)]:
        rows += [
            {"ts": DAY0 + 60 * i, "account_id": acc, "prompt": "p", "output_tokens": 5} for i in range(n)
        ]
    (d / "events.jsonl").write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    (d / "accounts.jsonl").write_text("")
    (d / "labels.csv").write_text(
        "account_id,campaign_id,population\nc1,K,hydra\nc2,K,hydra\nu1,,chat\nu2,,vpn\nghost,,chat\n"
    )
    (d / DONE_MARK).write_text("ok\n")
    return d


@pytest.fixture
def oracle(tmp_path):
    script = tmp_path / "oracle.py"
    script.write_text(ORACLE)
    return script


def det(name, script, labels, mode):
    return Detector(name, f"{sys.executable} {script} {{events}} {{out}} {labels} {mode}")


def test_run_bench_scores_good_failing_and_bad_detectors(tmp_path, oracle):
    cache = tmp_path / "cache"
    d = make_cached_run(cache)
    labels = d / "labels.csv"
    dets = [
        det("perfect", oracle, labels, "timed"),
        det("noisy", oracle, labels, "noisy"),
        det("liar", oracle, labels, "missing"),
        Detector(
            "crash", f"{sys.executable} -c \"import sys; sys.stderr.write('boom here'); sys.exit(3)\" {{out}}"
        ),
    ]
    msgs: list[str] = []
    recs = run_bench(["toy"], [1], 0.1, dets, tmp_path / "out", cache, progress=msgs.append)
    by = {r.detector: r for r in recs}
    assert by["perfect"].ok and by["perfect"].events == 28
    s = by["perfect"].score
    assert s.recall == 1.0 and s.precision == 1.0 and s.legit_fpr == 0.0 and s.ari == pytest.approx(1.0)
    # the 'ghost' label has no traffic: not required in the report, not counted
    assert s.accounts == 4
    # flagged at DAY0+120: each campaign account got 3 of its 10 exchanges
    assert s.harvest_share == pytest.approx(6 / 20)
    assert by["noisy"].score.legit_fpr == 0.5 and by["noisy"].score.harvest_share is None
    assert not by["liar"].ok and "account u1 missing" in by["liar"].error
    assert not by["crash"].ok and "exit code 3" in by["crash"].error and "boom here" in by["crash"].error
    assert by["perfect"].peak_rss_mb > 0 and by["perfect"].wall_s > 0
    assert any("perfect" in m for m in msgs)
    assert (tmp_path / "out" / "runs" / "toy-seed1-scale0.1" / "crash.stderr.txt").read_text() == "boom here"

    rows, overall = summarise(recs)
    md = markdown(rows, overall, recs, {"scenarios": ["toy"], "seeds": [1], "scale": 0.1})
    assert "| toy | perfect | 1.000 | 1.000 | 0.00% | 0.00% | 1.000 | 30.00% |" in md
    assert "| toy | noisy | 0.667 | 1.000 | 50.00% | 100.00% (chat) | 1.000 | n/a |" in md
    assert "FAILED (1/1)" in md and "Failed runs" in md
    assert "| hydra | campaign (recall) |" in md
    data = to_json(rows, overall, recs, {})
    assert json.loads(orjson.dumps(data))["overall"][0]["recall"]["mean"] == 1.0


def test_simulation_failure_marks_every_detector_failed(tmp_path, oracle):
    recs = run_bench(
        ["no-such-scenario-xyz"], [1], 0.1, [det("p", oracle, "x", "timed")], tmp_path / "o", tmp_path / "c"
    )
    assert len(recs) == 1 and not recs[0].ok and "simulation failed" in recs[0].error


def test_bench_cli_writes_markdown_and_json(tmp_path, oracle):
    cache = tmp_path / "cache"
    d = make_cached_run(cache / f"sim-{simulator_fingerprint()}", seed=2, scale=0.5)
    spec = f"oracle={sys.executable} {oracle} {{events}} {{out}} {d / 'labels.csv'} timed"
    out = tmp_path / "res"
    args = ["bench", "--scenario", "toy", "--seeds", "2", "--scale", "0.5", "--cache", str(cache)]
    res = CliRunner().invoke(main, [*args, "--out", str(out), "--detector", spec])
    assert res.exit_code == 0, res.output
    assert "| toy | oracle | 1.000 | 1.000 |" in (out / "latest.md").read_text()
    data = json.loads((out / "latest.json").read_text())
    assert data["meta"]["seeds"] == [2] and data["runs"][0]["ok"]
    assert data["populations"]["vpn"]["rate"]["oracle"] == 0.0
    assert not data["runs"][0]["reused"]
    res = CliRunner().invoke(main, [*args, "--out", str(out), "--detector", spec, "--reuse"])
    assert res.exit_code == 0, res.output
    assert json.loads((out / "latest.json").read_text())["runs"][0]["reused"]
    # the stored results render again without running anything
    res = CliRunner().invoke(main, ["bench", "--render", str(out / "latest.json")])
    assert res.exit_code == 0, res.output
    assert "| toy | oracle | 1.000 | 1.000 |" in res.output


def test_bench_cli_rejects_bad_options(tmp_path):
    assert CliRunner().invoke(main, ["bench", "--seeds", "a,b"]).exit_code == 2
    assert CliRunner().invoke(main, ["bench", "--detector", "nope"]).exit_code == 2
    assert CliRunner().invoke(main, ["bench", "--detector", "x=echo no-out"]).exit_code == 2


def test_parse_detectors():
    assert [d.name for d in parse_detectors([])] == list(BUILTIN)
    (d,) = parse_detectors(["mine=my-tool --in {events} --acc {accounts} --json {out}"])
    assert d.argv("/e f/ev.jsonl", "a.jsonl", "o.json") == [
        "my-tool",
        "--in",
        "/e f/ev.jsonl",
        "--acc",
        "a.jsonl",
        "--json",
        "o.json",
    ]
    (h,) = parse_detectors(["hydrawatch"])
    assert h.argv("e", "a", "o")[-6:] == ["hunt", "e", "--accounts", "a", "--json", "o"]
    with pytest.raises(DetectorSpecError):
        parse_detectors(["=x {out}"])
    with pytest.raises(DetectorSpecError):
        parse_detectors(["x=unterminated 'quote {out}"])


def test_run_measured_reports_missing_program_and_timeout():
    m = run_measured(["/no/such/program"])
    assert not m.ok and "could not start" in m.error
    t = run_measured([sys.executable, "-c", "import time; time.sleep(30)"], timeout_s=0.5)
    assert not t.ok and "timed out" in t.error


@pytest.mark.slow
def test_bench_end_to_end_with_the_real_simulator(tmp_path):
    out = tmp_path / "res"
    args = [
        "bench",
        "--quick",
        "--scenario",
        "legit-only",
        "--detector",
        "daily-volume",
        "--detector",
        "ip-burst",
    ]
    res = CliRunner().invoke(
        main, [*args, "--scale", "0.05", "--cache", str(tmp_path / "c"), "--out", str(out)]
    )
    assert res.exit_code == 0, res.output
    data = json.loads((out / "latest.json").read_text())
    assert all(r["ok"] for r in data["runs"]), data["runs"]
    assert data["overall"][0]["recall"] is None  # no campaign in legit-only


def test_reuse_scores_saved_reports_without_rerunning(tmp_path, oracle):
    cache = tmp_path / "cache"
    d = make_cached_run(cache)
    dets = [det("perfect", oracle, d / "labels.csv", "timed")]
    first = run_bench(["toy"], [1], 0.1, dets, tmp_path / "out", cache)
    assert first[0].ok and not first[0].reused
    oracle.write_text("import sys; sys.exit(5)")  # a rerun would now fail
    again = run_bench(["toy"], [1], 0.1, dets, tmp_path / "out", cache, reuse=True)
    assert again[0].ok and again[0].reused and again[0].wall_s == first[0].wall_s
    fresh = run_bench(["toy"], [1], 0.1, dets, tmp_path / "out", cache)
    assert not fresh[0].ok and "exit code 5" in fresh[0].error
    # a failed run is never reused
    assert not run_bench(["toy"], [1], 0.1, dets, tmp_path / "out", cache, reuse=True)[0].ok
