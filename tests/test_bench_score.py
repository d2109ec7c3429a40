import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hydrawatch.bench.labels import Labels, LabelsError, read_labels
from hydrawatch.bench.score import ScoreError, attribution_ari, score_report
from hydrawatch.bench.timeline import Timeline
from hydrawatch.report.model import AccountVerdict, Report


def labels() -> Labels:
    # 4 campaign accounts in 2 campaigns, 4 legit accounts in 2 populations
    return Labels.from_rows(
        [
            ("c1", "A", "hydra"),
            ("c2", "A", "hydra"),
            ("c3", "B", "scraper"),
            ("c4", "B", "scraper"),
            ("u1", None, "chat"),
            ("u2", None, "chat"),
            ("u3", None, "nat"),
            ("u4", None, "nat"),
        ]
    )


def verdict(aid: str, flagged: bool, cid: str | None = None, fft: float | None = None) -> AccountVerdict:
    return AccountVerdict(aid, 1.0 if flagged else 0.0, flagged, cid, [], fft)


def test_hand_computed_counts_and_rates():
    rep = Report(
        [
            verdict("c1", True, "x"),
            verdict("c2", True, "x"),
            verdict("c3", True, "y"),
            verdict("c4", False),
            verdict("u1", False),
            verdict("u2", False),
            verdict("u3", True, "y"),
            verdict("u4", False),
        ]
    )
    s = score_report(labels(), rep)
    assert (s.true_positives, s.false_positives, s.flagged) == (3, 1, 4)
    assert s.precision == pytest.approx(3 / 4)
    assert s.recall == pytest.approx(3 / 4)
    assert s.legit_fpr == pytest.approx(1 / 4)
    assert s.populations["nat"].rate == pytest.approx(0.5)
    assert s.populations["chat"].rate == 0.0
    assert s.populations["scraper"].campaign and not s.populations["nat"].campaign
    assert s.worst_legit_population == ("nat", 0.5)
    # predicted clusters over campaign accounts: {c1,c2} {c3} {c4 singleton} vs true {c1,c2} {c3,c4}
    # contingency [[2,0,0],[0,1,1]]: index=1, rows=2, cols=1, pairs=6
    assert s.ari == pytest.approx((1 - 2 * 1 / 6) / (0.5 * (2 + 1) - 2 * 1 / 6))
    assert s.harvest is None  # no timeline given -> cannot compute
    assert s.to_json()["worst_legit_population"] == {"population": "nat", "fpr": 0.5}


def test_harvest_requires_timeline():
    rep = Report([verdict(a, False) for a in labels().by_account])
    # nothing flagged: harvest is known (everything), but only with a timeline
    assert score_report(labels(), rep).harvest is None
    tl = Timeline.from_arrays(["c1", "c2"], [1.0, 2.0], [10, 20])
    s = score_report(labels(), rep, tl)
    assert s.harvest_share == 1.0


def test_missing_account_is_an_error_naming_it():
    rep = Report([verdict(a, False) for a in labels().by_account if a != "u3"])
    with pytest.raises(ScoreError, match="account u3 missing"):
        score_report(labels(), rep)


def test_extra_accounts_ignored_and_counted():
    rep = Report([verdict(a, False) for a in labels().by_account] + [verdict("zz", True, "q")])
    s = score_report(labels(), rep)
    assert s.extra_report_accounts == 1
    assert s.flagged == 0 and s.false_positives == 0


def test_no_flags_gives_undefined_precision_and_zero_recall():
    rep = Report([verdict(a, False) for a in labels().by_account])
    s = score_report(labels(), rep)
    assert s.precision is None
    assert s.recall == 0.0
    assert s.legit_fpr == 0.0


def test_legit_only_has_no_recall_or_ari():
    lab = Labels.from_rows([("u1", None, "chat"), ("u2", None, "vpn")])
    s = score_report(lab, Report([verdict("u1", False), verdict("u2", True, "k")]))
    assert s.recall is None and s.ari is None
    assert s.legit_fpr == 0.5
    assert s.worst_legit_population == ("vpn", 1.0)


# ---- ARI edge cases -------------------------------------------------------------------------------------


def ari_of(rows, verdicts):
    lab = Labels.from_rows(rows)
    return attribution_ari(lab, {v.account_id: v for v in verdicts})


def test_ari_perfect_attribution_with_renamed_ids_is_one():
    rows = [("a", "A", "h"), ("b", "A", "h"), ("c", "B", "h"), ("d", "B", "h")]
    vs = [verdict("a", True, "9"), verdict("b", True, "9"), verdict("c", True, "7"), verdict("d", True, "7")]
    assert ari_of(rows, vs) == pytest.approx(1.0)


def test_ari_unflagged_accounts_are_singletons():
    rows = [("a", "A", "h"), ("b", "A", "h"), ("c", "A", "h")]
    # all unflagged: predicted all singletons vs one true cluster -> 0
    assert ari_of(rows, [verdict(x, False, "ignored") for x in "abc"]) == pytest.approx(0.0)
    # flagged with campaign_id None is a singleton too
    assert ari_of(rows, [verdict(x, True, None) for x in "abc"]) == pytest.approx(0.0)


def test_ari_merging_two_campaigns_is_penalised():
    rows = [("a", "A", "h"), ("b", "A", "h"), ("c", "B", "h"), ("d", "B", "h")]
    vs = [verdict(x, True, "one") for x in "abcd"]
    assert ari_of(rows, vs) == pytest.approx(0.0)


def test_ari_single_campaign_single_prediction_is_one():
    rows = [("a", "A", "h"), ("b", "A", "h")]
    assert ari_of(rows, [verdict("a", True, "z"), verdict("b", True, "z")]) == pytest.approx(1.0)


def test_ari_hand_computed_value():
    # true: {a,b,c} {d,e,f}; pred: {a,b} {c,d} {e,f}
    rows = [(x, "A", "h") for x in "abc"] + [(x, "B", "h") for x in "def"]
    pred = {"a": "1", "b": "1", "c": "2", "d": "2", "e": "3", "f": "3"}
    vs = [verdict(x, True, c) for x, c in pred.items()]
    # contingency: [[2,1,0],[0,1,2]] -> sum C(nij,2)=2; a=C(3,2)*2=6; b=3*C(2,2)=3; N=C(6,2)=15
    expected = (2 - 6 * 3 / 15) / (0.5 * (6 + 3) - 6 * 3 / 15)
    assert ari_of(rows, vs) == pytest.approx(expected)


# ---- time-to-detect -------------------------------------------------------------------------------------


def test_harvest_hand_computed():
    lab = Labels.from_rows([("a", "A", "h"), ("b", "A", "h"), ("u", None, "chat")])
    # a: exchanges at t=1,2,3,4 (10 tokens each); b: at t=2,5 (100 each)
    tl = Timeline.from_arrays(
        ["a", "b", "a", "a", "b", "a", "u"], [1, 2, 2, 3, 5, 4, 1], [10, 100, 10, 10, 100, 10, 7]
    )
    rep = Report([verdict("a", True, "k", fft=2.0), verdict("b", True, "k", fft=5.0), verdict("u", False)])
    s = score_report(lab, rep, tl)
    assert s.harvest is not None
    (h,) = s.harvest
    assert (h.exchanges, h.output_tokens) == (6, 240)
    # campaign first flagged at t=2: a has 2 exchanges <= 2 (20 tokens), b has 1 (100 tokens)
    assert h.first_flagged_ts == 2.0
    assert (h.exchanges_before_flag, h.output_tokens_before_flag) == (3, 120)
    # harvest before stop: a up to t=2 -> 2, b up to t=5 -> 2
    assert h.exchanges_before_stop == 4
    assert s.harvest_share == pytest.approx(4 / 6)


def test_harvest_unflagged_account_counts_fully_and_untimed_detector_is_na():
    lab = Labels.from_rows([("a", "A", "h"), ("b", "A", "h")])
    tl = Timeline.from_arrays(["a", "a", "b", "b"], [1, 2, 1, 2], [1, 1, 1, 1])
    s = score_report(lab, Report([verdict("a", True, "k", fft=1.0), verdict("b", False)]), tl)
    assert s.harvest_share == pytest.approx((1 + 2) / 4)
    untimed = score_report(lab, Report([verdict("a", True, "k"), verdict("b", False)]), tl)
    assert untimed.harvest is None and untimed.harvest_share is None
    assert untimed.to_json()["harvest_share"] is None


def test_never_flagged_campaign_has_no_first_flag():
    lab = Labels.from_rows([("a", "A", "h"), ("u", None, "chat")])
    tl = Timeline.from_arrays(["a", "u"], [1, 1], [5, 5])
    s = score_report(lab, Report([verdict("a", False), verdict("u", True, None, fft=1.0)]), tl)
    assert s.harvest is not None
    assert s.harvest[0].first_flagged_ts is None
    assert s.harvest[0].exchanges_before_flag == 1
    assert s.harvest_share == 1.0


# ---- timeline and labels ----------------------------------------------------------------------------------


@given(
    st.lists(
        st.tuples(st.sampled_from(["a", "b", "c"]), st.floats(0, 100, allow_nan=False), st.integers(0, 1000)),
        max_size=60,
    ),
    st.floats(-1, 101, allow_nan=False),
)
def test_timeline_up_to_matches_brute_force(rows, t):
    tl = Timeline.from_arrays([r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows])
    assert tl.n_events == len(rows)
    for acc in "abcz":
        mine = [r for r in rows if r[0] == acc and r[1] <= t]
        assert tl.up_to(acc, t) == (len(mine), sum(r[2] for r in mine))
        allr = [r for r in rows if r[0] == acc]
        assert tl.totals(acc) == (len(allr), sum(r[2] for r in allr))
    assert tl.up_to("a", math.inf) == tl.totals("a")


def test_timeline_round_trips_through_parquet(tmp_path):
    tl = Timeline.from_arrays(["b", "a", "b"], [3.0, 1.0, 2.0], [1, None, 5])
    tl.write(tmp_path / "t.parquet")
    back = Timeline.read(tmp_path / "t.parquet")
    assert back.accounts == ["a", "b"]
    assert back.totals("b") == (2, 6) and back.totals("a") == (1, 0)


def test_read_labels(tmp_path):
    p = tmp_path / "labels.csv"
    p.write_text("account_id,campaign_id,population\nx,,chat\ny,camp1,hydra\n")
    lab = read_labels(p)
    assert lab.campaign_accounts == ["y"] and lab.legit_accounts == ["x"]
    assert lab.restricted_to(["y"]).by_account.keys() == {"y"}


@pytest.mark.parametrize(
    "text, msg",
    [
        ("account_id,population\nx,chat\n", "missing column"),
        ("account_id,campaign_id,population\nx,,chat\nx,,chat\n", "duplicate"),
        ("account_id,campaign_id,population\n,,chat\n", "empty account_id"),
    ],
)
def test_read_labels_rejects_bad_files(tmp_path, text, msg):
    p = tmp_path / "labels.csv"
    p.write_text(text)
    with pytest.raises(LabelsError, match=msg):
        read_labels(p)


def test_read_labels_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(LabelsError):
        read_labels(tmp_path / "nope.csv")


def test_ari_is_undefined_for_a_single_campaign_account():
    assert ari_of([("a", "A", "h"), ("u", None, "chat")], [verdict("a", False), verdict("u", False)]) is None
