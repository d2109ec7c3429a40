"""Property tests: untrusted bytes and records never escape as exceptions; splitting never changes results."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import duckdb
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hydrawatch.events.schema import Exchange
from hydrawatch.ingest import BadRecord, IngestStats, iter_exchanges, load_events, parse_record, readers
from hydrawatch.ingest.columns import EventBatchBuilder

json_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)
FIELDS = [
    "ts",
    "account_id",
    "model",
    "messages",
    "prompt",
    "system",
    "params",
    "input_tokens",
    "status",
    "latency_ms",
    "response",
    "request",
    "request_id",
    "startTime",
]
content = st.text(max_size=10) | st.lists(
    st.fixed_dictionaries({"type": st.sampled_from(["text", "image_url", "tool_result", "thinking", "x"])})
    | st.fixed_dictionaries({"type": st.just("text"), "text": json_scalars}),
    max_size=3,
)
messages = st.lists(
    st.fixed_dictionaries({"role": st.sampled_from(["user", "assistant", "system"]), "content": content})
)
records = st.dictionaries(st.sampled_from(FIELDS), json_values | messages, max_size=10)


@settings(max_examples=100, deadline=None)
@given(
    obj=json_values | records, adapter=st.sampled_from(["auto", "contract", "openai", "anthropic", "litellm"])
)
def test_parse_record_returns_exchange_or_bad_record(obj: Any, adapter: str) -> None:
    try:
        ex = parse_record(obj, adapter=adapter)
    except BadRecord as e:
        assert str(e)
        return
    assert isinstance(ex, Exchange) and ex.account_id and ex.ts >= 0
    builder = EventBatchBuilder("s")
    builder.add(ex, 1)
    assert builder.flush().num_rows == 1  # every accepted value fits the Arrow schema


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=400), chunk=st.integers(1, 64), cap=st.integers(1, 200))
def test_arbitrary_bytes_never_raise(
    data: bytes, chunk: int, cap: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(readers, "CHUNK_BYTES", chunk)
    with tempfile.TemporaryDirectory() as tmp:
        for name in ("x.jsonl", "x.csv", "x.jsonl.gz", "x.parquet"):
            p = Path(tmp) / name
            p.write_bytes(data)
            stats = IngestStats()
            n = sum(1 for _ in iter_exchanges(p, stats=stats, max_line_bytes=cap))
            assert n == stats.records_ok


line_kinds = st.sampled_from(["good", "bad", "blank", "long", "notjson"])


def _line(kind: str, i: int) -> bytes:
    if kind == "good":
        return orjson.dumps({"ts": 1_772_366_400 + i, "account_id": f"a{i}", "prompt": "p" * (i % 13)})
    if kind == "bad":
        return orjson.dumps({"ts": "never", "account_id": f"a{i}"})
    if kind == "long":
        return orjson.dumps({"ts": 1, "account_id": "x", "prompt": "y" * 300})
    if kind == "notjson":
        return b"{nope"
    return b""


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kinds=st.lists(line_kinds, max_size=60), chunk=st.integers(1, 300), trailing_newline=st.booleans())
def test_line_numbers_are_exact_at_any_chunk_size(
    kinds: list[str], chunk: int, trailing_newline: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(readers, "CHUNK_BYTES", chunk)
    data = b"\n".join(_line(k, i) for i, k in enumerate(kinds)) + (b"\n" if trailing_newline else b"")
    with tempfile.TemporaryDirectory() as tmp:
        p = Path(tmp) / "x.jsonl"
        p.write_bytes(data)
        stats = IngestStats()
        got = [line for line, _ in iter_exchanges(p, stats=stats, max_line_bytes=200)]
    assert got == [i + 1 for i, k in enumerate(kinds) if k == "good"]
    assert sorted(b[1] for b in stats.bad) == [
        i + 1 for i, k in enumerate(kinds) if k in ("bad", "long", "notjson")
    ]


@pytest.mark.parametrize("range_bytes", [1, 300])
def test_parallel_ranges_match_serial(range_bytes: int, tmp_path: Path) -> None:
    kinds = ["good", "bad", "blank", "good", "long", "notjson", "good"] * 9
    p = tmp_path / "x.jsonl"
    p.write_bytes(b"\n".join(_line(k, i) for i, k in enumerate(kinds)))
    a, b = duckdb.connect(), duckdb.connect()
    s1 = load_events(a, [p], workers=1, max_line_bytes=200)
    s2 = load_events(b, [p], workers=2, max_line_bytes=200, range_bytes=range_bytes)
    q = "SELECT * FROM events ORDER BY line"
    assert a.execute(q).fetchall() == b.execute(q).fetchall()
    assert s1.to_json() == s2.to_json()
