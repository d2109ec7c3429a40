"""The rule for a request that shows a distillation intent, and its SQL twin."""

from __future__ import annotations

import duckdb
from hypothesis import given, settings
from hypothesis import strategies as st

from hydrawatch.detect.evidence import INTENT_CONFIDENT, intent_sql, shows_intent
from hydrawatch.features.cues import CUE_NAMES

STEP = 1 << CUE_NAMES.index("asks to reason step by step")
GRADE = 1 << CUE_NAMES.index("asks for a grade or preference")


def test_classifier_alone_needs_confidence_or_a_cue() -> None:
    assert not shows_intent(0, 0.99, GRADE)  # the classifier says none
    assert not shows_intent(5, 0.6, 0)  # unsure and nothing readable agrees
    assert shows_intent(5, INTENT_CONFIDENT, 0)
    assert shows_intent(3, 0.55, GRADE)
    # "reason step by step" alone is what benchmark prompts say; it does not corroborate
    assert not shows_intent(1, 0.6, STEP)
    assert shows_intent(1, 0.6, STEP | GRADE)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 5), st.floats(0, 1, allow_nan=False), st.integers(0, (1 << len(CUE_NAMES)) - 1)
        ),
        min_size=1,
        max_size=30,
    )
)
def test_sql_twin_agrees(rows: list[tuple[int, float, int]]) -> None:
    con = duckdb.connect()
    con.execute("CREATE TABLE t (i INTEGER, intent_idx TINYINT, intent_score FLOAT, cue_mask INTEGER)")
    con.executemany("INSERT INTO t VALUES (?, ?, ?, ?)", [(k, *r) for k, r in enumerate(rows)])
    got = dict(con.execute(f"SELECT i, {intent_sql()} FROM t").fetchall())
    for k, (idx, _score, mask) in enumerate(rows):
        # the column is FLOAT, as in the enriched table: compare on the stored value
        stored = con.execute("SELECT intent_score::DOUBLE FROM t WHERE i = ?", [k]).fetchone()
        assert stored is not None
        assert got[k] == shows_intent(idx, float(stored[0]), mask)
