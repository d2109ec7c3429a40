from hydrawatch.bench.aggregate import Stat, overall_row, scenario_row, stat, summarise
from hydrawatch.bench.runner import RunRecord
from hydrawatch.bench.score import PopulationScore, RunScore
from hydrawatch.bench.table import cell, markdown, row_cells


def score(tp: int, fp: int, camp: int = 4, legit: int = 10, ari: float | None = 1.0) -> RunScore:
    return RunScore(
        accounts=camp + legit,
        campaign_accounts=camp,
        legit_accounts=legit,
        flagged=tp + fp,
        true_positives=tp,
        false_positives=fp,
        extra_report_accounts=0,
        ari=ari,
        populations={
            "hydra": PopulationScore("hydra", True, camp, tp),
            "vpn": PopulationScore("vpn", False, legit, fp),
        },
    )


def rec(seed: int, s: RunScore | None, ok: bool = True, wall: float = 2.0, scenario: str = "x") -> RunRecord:
    return RunRecord(scenario, seed, "det", 100, ok, None if ok else "exit code 1: boom", wall, 50.0, s)


def test_stat_and_cell_formatting():
    assert stat([None, None]) is None
    s = stat([0.5, 1.0, None])
    assert s == Stat(0.75, 0.5, 1.0, 2)
    assert cell(s) == "0.750 (0.500–1.000)"
    assert cell(Stat(1.0, 1.0, 1.0, 3)) == "1.000"
    assert cell(None) == "n/a"


def test_scenario_row_means_over_seeds_and_overall_pools_counts():
    recs = [rec(1, score(4, 0)), rec(2, score(2, 1), wall=4.0)]
    row = scenario_row("x", "det", recs)
    assert row.recall == Stat(0.75, 0.5, 1.0, 2)
    assert row.legit_fpr is not None and row.legit_fpr.mean == 0.05
    assert row.worst_population == "vpn"
    assert row.events_per_s == Stat(37.5, 25.0, 50.0, 2)
    over = overall_row("det", recs)
    assert over.recall is not None and over.recall.mean == 6 / 8
    assert over.precision is not None and over.precision.mean == 6 / 7
    assert over.time_s is not None and over.time_s.mean == 6.0
    assert over.events_per_s is not None and over.events_per_s.mean == 200 / 6.0


def test_failed_runs_are_counted_and_shown():
    recs = [rec(1, score(4, 0)), rec(2, None, ok=False)]
    row = scenario_row("x", "det", recs)
    assert (row.runs, row.failed) == (2, 1)
    assert row_cells(row)[1] == "det (1/2 failed)"
    all_failed = scenario_row("x", "det", [rec(2, None, ok=False)])
    assert row_cells(all_failed)[2].startswith("FAILED (1/1): seed 2: exit code 1: boom")


def test_markdown_has_overall_scenario_and_population_tables():
    recs = [rec(1, score(4, 1), scenario="a"), rec(1, score(0, 0, ari=None), scenario="b")]
    rows, overall = summarise(recs)
    md = markdown(rows, overall, recs, {"scenarios": ["a", "b"], "seeds": [1], "scale": 0.1})
    assert "### Overall" in md and "### Per scenario" in md and "### Per population" in md
    assert "| a | det | 0.800 | 1.000 | 10.00% | 10.00% (vpn) |" in md
    assert "| vpn | legitimate (FPR) | 20 | 5.00% |" in md  # 10 accounts in each of 2 runs
