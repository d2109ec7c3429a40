"""The native (DuckDB SQL) ingest path gives exactly the rows and bad lines of the Python path."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import duckdb
import orjson
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hydrawatch.ingest import IngestError, load_events
from hydrawatch.ingest.stats import IngestStats


def _table(con: duckdb.DuckDBPyConnection) -> pa.Table:
    return con.sql("SELECT * FROM events").to_arrow_table()


def _both(path: Path, **kw: Any) -> tuple[pa.Table, IngestStats, pa.Table, IngestStats]:
    c1, c2 = duckdb.connect(), duckdb.connect()
    s1 = load_events(c1, [path], workers=1, engine="native", **kw)
    s2 = load_events(c2, [path], workers=1, engine="python", **kw)
    return _table(c1), s1, _table(c2), s2


def _assert_same(path: Path, **kw: Any) -> IngestStats:
    a, sa, b, sb = _both(path, **kw)
    assert a.to_pylist() == b.to_pylist()
    assert sa.bad == sb.bad
    assert (sa.records_ok, sa.records_bad, sa.bytes, sa.files) == (
        sb.records_ok,
        sb.records_bad,
        sb.bytes,
        sb.files,
    )
    assert sa.bad_kinds == sb.bad_kinds
    assert sa.warnings == sb.warnings
    return sa


def _dumps(obj: Any) -> bytes:
    """JSON of a record (stdlib: orjson refuses integers beyond 64 bits)."""
    return json.dumps(obj, ensure_ascii=False).encode("utf-8")


def _fits(obj: Any) -> bool:
    """Whether orjson can write ``obj`` (integers within 64 bits)."""
    if isinstance(obj, dict):
        return all(_fits(v) for v in obj.values())
    if isinstance(obj, list):
        return all(_fits(v) for v in obj)
    return not isinstance(obj, int) or -(2**63) <= obj < 2**64


_text = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=12)
_scalar = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    _text,
    st.sampled_from(["", " ", "0", "1", "true", "yes"]),
)
_iso = st.builds(
    lambda y, mo, d, h, mi, s, frac, zone, sep: (
        f"{y:04d}-{mo:02d}-{d:02d}{sep}{h:02d}:{mi:02d}:{s:02d}{frac}{zone}"
    ),
    st.integers(1960, 2100),
    st.integers(1, 13),
    st.integers(1, 31),
    st.integers(0, 24),
    st.integers(0, 59),
    st.integers(0, 60),
    st.sampled_from(["", ".5", ".123", ".123456", ".1234567"]),
    st.sampled_from(["", "Z", "+00:00", "-05:30", "+14:00", "+0530", "+24:00"]),
    st.sampled_from(["T", " ", "x"]),
)
_ts = st.one_of(
    _iso,
    st.integers(min_value=-10, max_value=2**64),
    st.floats(min_value=-1, max_value=1e22),
    st.sampled_from([1772000000, 1772000000123, 1.772e15, "1772000000", " 2026-01-01T00:00:00Z", None]),
)
_part = st.one_of(
    st.fixed_dictionaries({"type": st.sampled_from(["text", "input_text", "output_text"]), "text": _text}),
    st.fixed_dictionaries({"type": st.sampled_from(["image_url", "refusal", "tool_result", "x!"])}),
    st.fixed_dictionaries({"type": st.just("text"), "text": _scalar}),
    _text,
    st.integers(),
)
_content = st.one_of(
    _text, st.lists(_part, max_size=3), st.none(), st.integers(), st.fixed_dictionaries({"text": _text})
)
_role = st.one_of(st.sampled_from(["user", "assistant", "system", "developer", "tool", ""]), st.integers())
_message = st.one_of(
    st.fixed_dictionaries({"role": _role, "content": _content}),
    st.fixed_dictionaries(
        {"role": st.just("assistant"), "content": st.none(), "tool_calls": st.lists(st.just({}))}
    ),
    st.just("hello"),
)
_params = st.one_of(
    st.none(),
    st.fixed_dictionaries(
        {},
        optional={
            "max_tokens": _scalar,
            "temperature": _scalar,
            "top_p": st.floats(allow_nan=False, allow_infinity=False),
            "n": st.integers(-1, 2**40),
            "logprobs": _scalar,
            "top_logprobs": st.integers(0, 30),
            "stream": st.booleans(),
            "tools": st.one_of(st.lists(st.just({"type": "function"}), max_size=3), _scalar),
            "reasoning_effort": st.one_of(st.sampled_from(["", "low", "high"]), _scalar),
            "thinking": st.one_of(
                st.fixed_dictionaries(
                    {}, optional={"type": st.sampled_from(["enabled", "disabled"]), "budget_tokens": _scalar}
                ),
                _scalar,
            ),
            "seed": st.integers(),
        },
    ),
    _scalar,
)
_record = st.fixed_dictionaries(
    {},
    optional={
        "ts": _ts,
        "account_id": st.one_of(st.sampled_from(["acct_1", "  ", "\u2003", "é"]), _scalar),
        "model": _scalar,
        "messages": st.one_of(st.lists(_message, max_size=4), _scalar),
        "prompt": _scalar,
        "system": st.one_of(_scalar, st.lists(_part, max_size=2)),
        "ip": _scalar,
        "user_agent": _text,
        "api_key_id": _scalar,
        "client_fingerprint": _scalar,
        "params": _params,
        "input_tokens": _scalar,
        "output_tokens": st.integers(-5, 2**60),
        "reasoning_tokens": _scalar,
        "status": st.one_of(st.integers(-1, 2**33), _scalar),
        "latency_ms": _scalar,
        "response": st.one_of(_text, _scalar, st.fixed_dictionaries({"choices": st.just([])})),
        "request_id": st.just("r1"),
        "extra_field": _scalar,
    },
)
_good = st.fixed_dictionaries(
    {
        "ts": st.one_of(st.floats(0, 2e9), st.integers(0, 2_000_000_000_000), _iso),
        "account_id": st.sampled_from(["acct_1", "acct_2"]),
        "messages": st.lists(
            st.fixed_dictionaries({"role": _role, "content": _content}), min_size=1, max_size=3
        ),
    },
    optional={"response": _text, "status": st.integers(0, 600), "params": _params},
)
_raw_line = st.one_of(
    st.sampled_from(
        [
            b"",
            b"   ",
            b"\r",
            b"{",
            b"[1,2]",
            b'"x"',
            b"null",
            b'{"ts":1,"account_id":"a"}\r',
            b'{"ts":1,"account_id":"a","ts":2}',
            b'\xff\xfe{"ts":1}',
            b'{"ts":1,"account_id":"a\x01"}',
            b'{"ts":NaN,"account_id":"a"}',
            b'{"ts":1,"account_id":"a","params":{"n":1,"n":2}}',
            b'{"ts":1,"account_id":"a","request":null}',
            b'{"account_id":"\\ud800","ts":1}',
            b'{"ts":1, "account_id":"\\u0061", "prompt":"a\\"b\\\\c\\n"}',
        ]
    ),
    st.binary(max_size=20),
)
_line = st.one_of(
    _record.map(_dumps),
    _good.map(_dumps),
    _good.map(lambda r: orjson.dumps(r, option=orjson.OPT_PASSTHROUGH_SUBCLASS) if _fits(r) else _dumps(r)),
    _raw_line.filter(lambda b: b"\n" not in b),
)


@settings(
    max_examples=int(os.environ.get("HW_NATIVE_EXAMPLES", "40")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(lines=st.lists(_line, max_size=15), trailing=st.booleans(), bom=st.booleans())
def test_native_rows_and_bad_lines_equal_python(
    tmp_path: Path, lines: list[bytes], trailing: bool, bom: bool
) -> None:
    path = tmp_path / "x.jsonl"
    body = b"\n".join(lines) + (b"\n" if trailing else b"")
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + body)
    _assert_same(path)


def test_bench_shaped_records_take_the_sql_path(tmp_path: Path) -> None:
    recs = [
        {
            "ts": 1772000000.25,
            "account_id": "a",
            "messages": [{"role": "user", "content": 'hi\n"there"'}],
            "params": {"max_tokens": 10, "temperature": 0.7, "stream": True},
            "response": "ok é",
            "status": 200,
        },
        {
            "ts": "2026-03-01T10:00:00.5+05:30",
            "account_id": "b",
            "messages": [
                {"role": "system", "content": "be brief"},
                {"role": "user", "content": "q"},
                {"role": "assistant", "content": "a"},
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "x"},
                        {"type": "text", "text": ""},
                        {"type": "input_text", "text": "y"},
                    ],
                },
            ],
        },
        {"ts": 1772000000123, "account_id": "c", "prompt": "p", "system": "s", "latency_ms": 12},
    ]
    path = tmp_path / "x.jsonl"
    path.write_bytes(b"\n".join(orjson.dumps(r) for r in recs) + b"\n")
    con = duckdb.connect()
    from hydrawatch.ingest.load import create_events_table
    from hydrawatch.ingest.native import NativeLoader, _lines_table, iter_blocks
    from hydrawatch.ingest.native_sql import native_sql

    block = next(iter_blocks(str(path), IngestStats()))
    con.register("l", _lines_table(block, 1 << 20)[0])
    flags = con.execute(f"SELECT fb FROM ({native_sql('l')}) ORDER BY line", {"source": "x"}).fetchall()
    assert flags == [(False,), (False,), (False,)]  # none needs the Python parser
    assert NativeLoader is not None and create_events_table is not None
    _assert_same(path)


def test_small_blocks_keep_line_numbers_and_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import hydrawatch.ingest.native as native

    monkeypatch.setattr(native, "BLOCK_BYTES", 64)
    lines = [orjson.dumps({"ts": i, "account_id": f"a{i}", "prompt": "x" * (i % 7)}) for i in range(40)]
    lines[5] = b"not json"
    lines[17] = b""
    path = tmp_path / "x.jsonl"
    path.write_bytes(b"\n".join(lines))
    stats = _assert_same(path)
    assert stats.records_bad == 1 and stats.bad[0][1] == 6


def test_too_long_lines_are_bad_like_python(tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl"
    path.write_bytes(
        orjson.dumps({"ts": 1, "account_id": "a", "prompt": "y" * 500})
        + b"\n"
        + b'{"ts":2,"account_id":"b"}\n'
    )
    stats = _assert_same(path, max_line_bytes=100)
    assert stats.bad[0][1] == 1 and "too long" in stats.bad[0][2]


def test_strict_raises_at_the_first_bad_line_and_keeps_rows_before(tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl"
    path.write_bytes(b'{"ts":1,"account_id":"a"}\n{"ts":2}\n{"ts":3,"account_id":"c"}\n')
    con = duckdb.connect()
    with pytest.raises(IngestError, match=r"x.jsonl:2: account_id"):
        load_events(con, [path], strict=True, engine="native")
    assert con.execute("SELECT line FROM events").fetchall() == [(1,)]


def test_unknown_engine_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl"
    path.write_bytes(b"")
    with pytest.raises(ValueError, match="engine"):
        load_events(duckdb.connect(), [path], engine="rust")


def test_mixed_inputs_keep_file_order_and_counts(tmp_path: Path) -> None:
    import gzip

    plain = tmp_path / "a.jsonl"
    packed = tmp_path / "b.jsonl.gz"
    plain.write_bytes(b'{"ts":1,"account_id":"a","prompt":"x"}\nnope\n')
    packed.write_bytes(gzip.compress(b'{"ts":2,"account_id":"b"}\n'))
    seen: list[int] = []
    c1, c2 = duckdb.connect(), duckdb.connect()
    s1 = load_events(c1, [plain, packed, plain], progress=seen.append, engine="native")
    s2 = load_events(c2, [plain, packed, plain], engine="python", workers=1)
    assert _table(c1).to_pylist() == _table(c2).to_pylist()
    assert (s1.records_ok, s1.records_bad, s1.files) == (s2.records_ok, s2.records_bad, s2.files)
    assert s1.bad == s2.bad
    assert seen and seen == sorted(seen)
