import duckdb
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hydrawatch.baselines.loading import events_table_from_rows
from hydrawatch.baselines.prada import Prada, calibrate_delta, shapiro_w, wordllama_embedder

DAY0 = 1772409600.0


def unit(a: np.ndarray) -> np.ndarray:
    return (a / np.linalg.norm(a, axis=1, keepdims=True)).astype(np.float32)


def iid_stream(seed: int, n: int = 300) -> np.ndarray:
    return unit(np.random.default_rng(seed).normal(size=(n, 256)))


def bimodal_stream(seed: int, n: int = 300) -> np.ndarray:
    """Pairs: a fresh random query then a near-copy of it (distances ~1.4 and ~0.05)."""
    rng = np.random.default_rng(seed)
    rows: list[np.ndarray] = []
    for i in range(n):
        if i % 2 == 0:
            rows.append(unit(rng.normal(size=(1, 256)))[0])
        else:
            rows.append(unit((rows[-1] + rng.normal(size=256) * 0.003)[None])[0])
    return np.asarray(rows, dtype=np.float32)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_independent_queries_look_normal(seed):
    res = Prada(delta=0.9).stream(iid_stream(seed))
    assert res.flagged_at is None
    assert res.min_w is not None and res.min_w > 0.9
    assert res.queries == 300


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_bimodal_distances_are_flagged_at_the_first_test(seed):
    res = Prada(delta=0.9, min_queries=50, check_every=10).stream(bimodal_stream(seed))
    assert res.flagged_at == 50  # first test: 50 distances, every 10th query
    assert res.w_at_flag is not None and res.w_at_flag < 0.9
    assert res.queries == 51  # the account is stopped there


def test_no_test_before_min_queries():
    res = Prada(delta=0.99, min_queries=50).stream(bimodal_stream(0, n=50))
    assert res.tests == 0 and res.min_w is None and res.flagged_at is None


def test_identical_queries_are_not_rejected_as_non_normal():
    x = np.repeat(unit(np.ones((1, 256))), 200, axis=0)
    res = Prada(delta=0.9).stream(x)
    assert res.min_w == 1.0 and res.flagged_at is None
    assert res.growing_set == 1  # nothing new ever joins


def test_growing_set_threshold_only_admits_far_queries():
    # ten independent queries (distances ~1.41) raise the threshold to mean - std ~ 0.85 of [0, 1.41 x 9];
    # a near-copy of the last one (distance ~0.05) is then not added to the growing set
    x = iid_stream(5, n=10)
    near = unit((x[-1] + np.random.default_rng(0).normal(size=256) * 0.003)[None])
    res = Prada(delta=0.0).stream(np.vstack([x, near]))
    assert res.queries == 11
    assert res.growing_set == 10


def test_max_queries_caps_the_examined_stream():
    res = Prada(delta=0.0, max_queries=80).stream(iid_stream(0))
    assert res.queries == 80


def test_stop_on_flag_false_keeps_the_first_flag():
    p = Prada(delta=0.9)
    res = p.stream(bimodal_stream(0), stop_on_flag=False)
    assert res.flagged_at == 50 and res.queries == 300 and res.tests > 1


@settings(max_examples=30, deadline=None)
@given(st.lists(st.floats(0, 2, allow_nan=False), min_size=0, max_size=80))
def test_shapiro_w_is_a_probability_or_none(values):
    w = shapiro_w(np.asarray(values, dtype=np.float64), 3.0)
    assert w is None or 0.0 <= w <= 1.0


def test_calibrate_delta_rule():
    # 10 benign accounts, two never tested; a 10% budget flags at most one account
    ws = [0.95, 0.97, 0.80, 0.99, None, 0.96, 0.93, None, 0.98, 0.94]
    d = calibrate_delta(ws, 0.10)
    assert d == 0.93
    assert sum(1 for w in ws if w is not None and w < d) == 1
    assert calibrate_delta(ws, 0.0) == 0.80  # nothing below the lowest benign W
    assert calibrate_delta([None, None], 0.1) == 1.0
    assert calibrate_delta([0.5], 0.5) == 0.5


def fake_embed(texts: list[str]) -> np.ndarray:
    """Deterministic unit vectors per text (hash-seeded), near-copies for texts ending in '+'."""
    out = []
    for t in texts:
        base = t.rstrip("+")
        v = np.random.default_rng(abs(hash(base)) % (2**32)).normal(size=256)
        if t.endswith("+"):
            v = v + np.random.default_rng(len(t)).normal(size=256) * 0.003
        out.append(v / np.linalg.norm(v))
    return np.asarray(out, dtype=np.float32)


def test_run_flags_the_bimodal_account_with_time_and_reasons():
    rows = []
    for i in range(200):
        base = f"q{i // 2}"
        rows.append({"account_id": "thief", "ts": DAY0 + i, "prompt": base if i % 2 == 0 else base + "+"})
        rows.append({"account_id": "user", "ts": DAY0 + i, "prompt": f"u{i}"})
    rows.append({"account_id": "short", "ts": DAY0, "prompt": None})
    con = duckdb.connect()
    events_table_from_rows(con, rows)
    flags, results = Prada(delta=0.9).run(con, embed=fake_embed)
    assert flags["thief"].flagged and flags["thief"].first_flagged_ts == DAY0 + 50
    assert flags["thief"].reasons[0].startswith("Shapiro-Wilk W = ")
    assert (
        "< delta = 0.900 over 50 minimum query distances (at the account's query 51, 2026-03-02T00:00:50Z)"
        in flags["thief"].reasons[0]
    )
    assert not flags["user"].flagged and flags["user"].risk < 1
    assert not flags["short"].flagged and results["short"].tests == 0


def test_wordllama_embedder_is_normalised_and_handles_empty_text():
    embed = wordllama_embedder()
    v = embed(["explain recursion", "", "explain recursion"])
    assert v.shape == (3, 256)
    assert np.allclose(np.linalg.norm(v[0]), 1.0, atol=1e-4)
    assert not np.isnan(v).any() and np.allclose(v[1], 0.0)
    assert np.allclose(v[0], v[2])
