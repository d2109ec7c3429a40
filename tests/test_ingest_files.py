"""Files: formats, bad input with line numbers, strict mode, DuckDB loading, the CLI."""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

import duckdb
import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from hydrawatch.cli import main as cli_main
from hydrawatch.events.schema import EVENT_COLUMNS, exchange_row
from hydrawatch.ingest import IngestError, IngestStats, iter_exchanges, load_events, readers

GOOD = {"ts": 1_772_366_400, "account_id": "a", "prompt": "p"}


def jl(*objs: Any) -> bytes:
    return b"".join((o if isinstance(o, bytes) else orjson.dumps(o)) + b"\n" for o in objs)


def write(tmp: Path, name: str, data: bytes) -> Path:
    p = tmp / name
    p.write_bytes(data)
    return p


def good(i: int) -> dict[str, Any]:
    return {**GOOD, "account_id": f"a{i}", "ts": 1_772_366_400 + i}


def run(path: Path, **kw: Any) -> tuple[list[tuple[int, str]], IngestStats]:
    stats = IngestStats()
    rows = [(line, ex.account_id) for line, ex in iter_exchanges(path, stats=stats, **kw)]
    return rows, stats


def test_jsonl_line_numbers_blank_lines_crlf(tmp_path: Path) -> None:
    data = jl(good(1)) + b"\n   \n" + orjson.dumps(good(2)) + b"\r\n" + b"{broken\n" + orjson.dumps(good(3))
    rows, stats = run(write(tmp_path, "x.jsonl", data))
    assert rows == [(1, "a1"), (4, "a2"), (6, "a3")]
    assert (stats.records_ok, stats.records_bad) == (3, 1)
    assert stats.bad[0][1] == 5 and stats.bad[0][2].startswith("invalid JSON")
    assert stats.bytes == len(data)


def test_utf8_bom_is_skipped(tmp_path: Path) -> None:
    rows, stats = run(write(tmp_path, "x.jsonl", b"\xef\xbb\xbf" + jl(good(1), good(2))))
    assert rows == [(1, "a1"), (2, "a2")] and stats.records_bad == 0


def test_non_utf8_line_is_bad_and_the_rest_survive(tmp_path: Path) -> None:
    bad_line = b'{"ts": 1, "account_id": "\xff\xfe"}'
    rows, stats = run(write(tmp_path, "x.jsonl", jl(good(1), bad_line, good(2))))
    assert [r[0] for r in rows] == [1, 3]
    assert stats.bad == [(str(tmp_path / "x.jsonl"), 2, stats.bad[0][2])] and "UTF-8" in stats.bad[0][2]


@pytest.mark.parametrize("chunk", [7, 64, 1 << 20])
def test_long_lines_are_capped_at_any_chunk_size(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    monkeypatch.setattr(readers, "CHUNK_BYTES", chunk)
    long = {**good(9), "prompt": "x" * 500}
    data = jl(good(1), long, good(2), long) + orjson.dumps(long)  # last long line without newline
    rows, stats = run(write(tmp_path, "x.jsonl", data), max_line_bytes=200)
    assert rows == [(1, "a1"), (3, "a2")]
    assert [b[1] for b in stats.bad] == [2, 4, 5]
    assert all("line too long" in b[2] for b in stats.bad)


def test_gzip_and_truncated_gzip(tmp_path: Path) -> None:
    data = jl(*[good(i) for i in range(2000)])
    gz = gzip.compress(data)
    rows, stats = run(write(tmp_path, "x.jsonl.gz", gz))
    assert len(rows) == 2000 and stats.records_bad == 0
    rows, stats = run(write(tmp_path, "cut.jsonl.gz", gz[: len(gz) // 2]))
    assert 0 < len(rows) < 2000
    assert stats.records_bad >= 1
    assert any("file ends early" in b[2] for b in stats.bad)


def test_gzip_detected_by_content(tmp_path: Path) -> None:
    rows, _ = run(write(tmp_path, "x.jsonl", gzip.compress(jl(good(1)))))
    assert rows == [(1, "a1")]


def test_empty_file_warns(tmp_path: Path) -> None:
    rows, stats = run(write(tmp_path, "e.jsonl", b""))
    assert rows == [] and stats.records_bad == 0 and "empty" in stats.warnings[0]
    rows, stats = run(write(tmp_path, "e.csv", b""))
    assert rows == [] and "empty" in stats.warnings[0]


def test_missing_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(IngestError, match=r"no such file|cannot read"):
        list(iter_exchanges(tmp_path / "nope.jsonl"))


def test_strict_mode_names_file_and_line(tmp_path: Path) -> None:
    p = write(tmp_path, "x.jsonl", jl(good(1), {"ts": 1}, good(2)))
    with pytest.raises(IngestError, match=r"x\.jsonl:2: account_id: missing"):
        list(iter_exchanges(p, strict=True))


def test_csv_with_params_columns_and_json_messages(tmp_path: Path) -> None:
    data = (
        "ts,account_id,messages,params.max_tokens,params.stream,model,extra_col\n"
        '2026-03-01T12:00:00Z,a1,"[{""role"": ""user"", ""content"": ""hi""}]",64,true,m,z\n'
        '1772366401,a2,"[{""role"": ""user"", ""content"": ""two\\nlines""}]",,,m,z\n'
        "1772366402,a3,,,,m\n"
        "1772366403,a4,,,,m,z\n"
    )
    stats = IngestStats()
    got = list(iter_exchanges(write(tmp_path, "x.csv", data.encode()), stats=stats))
    assert [(ln, ex.account_id) for ln, ex in got] == [(2, "a1"), (3, "a2"), (5, "a4")]
    ex = got[0][1]
    assert ex.prompt == "hi" and ex.params.max_tokens == 64 and ex.params.stream is True
    assert ex.extra == {"extra_col": "z"}
    assert got[1][1].prompt == "two\nlines"
    assert stats.bad[0][1] == 4 and "expected 7 fields, found 6" in stats.bad[0][2]


def test_csv_quoted_newlines_keep_line_numbers(tmp_path: Path) -> None:
    data = b'ts,account_id,prompt\n1772366400,a1,"one\ntwo\nthree"\n1772366400,a2,x\n'
    stats = IngestStats()
    got = list(iter_exchanges(write(tmp_path, "x.csv", data), stats=stats))
    assert [(ln, ex.account_id) for ln, ex in got] == [(2, "a1"), (5, "a2")]
    assert got[0][1].prompt == "one\ntwo\nthree"


def test_csv_missing_required_column(tmp_path: Path) -> None:
    rows, stats = run(write(tmp_path, "x.csv", b"ts,model\n1772366400,m\n1772366401,m\n"))
    assert rows == [] and stats.records_bad == 2 and stats.bad_kinds == {"account_id": 2}


def test_csv_non_utf8_and_huge_field(tmp_path: Path) -> None:
    data = (
        b"ts,account_id,prompt\n1772366400,a1,ok\n1772366400,a2,\xff\n1772366400,a3,"
        + b"y" * 3000
        + b"\n1,a4,z\n"
    )
    rows, stats = run(write(tmp_path, "x.csv", data), max_line_bytes=1024)
    assert rows == [(2, "a1"), (5, "a4")]
    assert [b[1] for b in stats.bad] == [3, 4]


def test_parquet_rows_and_corrupt_parquet(tmp_path: Path) -> None:
    table = pa.table(
        {
            "ts": pa.array([1_772_366_400.0, None]),
            "account_id": ["a1", "a2"],
            "messages": [[{"role": "user", "content": "hi"}], []],
            "params": [{"max_tokens": 5}, None],
        }
    )
    p = tmp_path / "x.parquet"
    pq.write_table(table, p)
    rows, stats = run(p)
    assert rows == [(1, "a1")] and stats.bad[0][1:] == (2, "ts: missing")
    broken = write(tmp_path, "b.parquet", p.read_bytes()[:100])
    rows, stats = run(broken)
    assert rows == [] and "unreadable Parquet" in stats.bad[0][2]


def test_format_override(tmp_path: Path) -> None:
    p = write(tmp_path, "data.log", b"ts,account_id\n1772366400,a1\n")
    assert run(p, fmt="csv")[0] == [(2, "a1")]


def _table(con: duckdb.DuckDBPyConnection) -> list[tuple[Any, ...]]:
    return con.execute("SELECT * FROM events ORDER BY source, line").fetchall()


def test_load_events_matches_exchange_rows_and_parallel_is_identical(tmp_path: Path) -> None:
    objs: list[Any] = []
    for i in range(500):
        objs.append(good(i) if i % 7 else {"ts": "bad", "account_id": "x"})
        if i % 50 == 0:
            objs.append(b"")
    p = write(tmp_path, "x.jsonl", jl(*objs))
    gz = write(tmp_path, "y.jsonl.gz", gzip.compress(jl(good(1000), good(1001))))
    serial = duckdb.connect()
    s1 = load_events(serial, [p, gz], workers=1, batch_rows=64)
    parallel = duckdb.connect()
    s2 = load_events(parallel, [p, gz], workers=2, range_bytes=2000)
    assert _table(serial) == _table(parallel)
    assert (
        (s1.records_ok, s1.records_bad, s1.files) == (s2.records_ok, s2.records_bad, s2.files) == (430, 72, 2)
    )
    assert s1.bad == s2.bad
    expected = [tuple(exchange_row(ex, line, str(p)).values()) for line, ex in iter_exchanges(p)]
    got = serial.execute("SELECT * FROM events WHERE source = ? ORDER BY line", [str(p)]).fetchall()
    assert got == expected
    cols = [c[0] for c in serial.execute("DESCRIBE events").fetchall()]
    assert cols == EVENT_COLUMNS.names


def test_a_file_listed_twice_keeps_its_line_numbers(tmp_path: Path) -> None:
    p = write(tmp_path, "x.jsonl", jl(*[good(i) for i in range(40)]))
    a, b = duckdb.connect(), duckdb.connect()
    load_events(a, [p, p], workers=1)
    load_events(b, [p, p], workers=2, range_bytes=500)
    q = "SELECT line FROM events"
    assert a.execute(q).fetchall() == b.execute(q).fetchall() == [(i,) for i in range(1, 41)] * 2


def test_load_events_strict_parallel_reports_exact_line(tmp_path: Path) -> None:
    objs: list[Any] = [good(i) for i in range(300)]
    objs[250] = {"ts": 1, "account_id": None}
    p = write(tmp_path, "x.jsonl", jl(*objs))
    with pytest.raises(IngestError, match=r"x\.jsonl:251: account_id: missing"):
        load_events(duckdb.connect(), [p], workers=2, range_bytes=1000, strict=True)


def test_load_events_progress_and_table_name(tmp_path: Path) -> None:
    p = write(tmp_path, "x.jsonl", jl(*[good(i) for i in range(10)]))
    seen: list[int] = []
    con = duckdb.connect()
    load_events(con, [p], table="ev2", workers=1, batch_rows=4, progress=seen.append)
    assert seen and seen[-1] == 10 and seen == sorted(seen)
    assert con.execute("SELECT count(*) FROM ev2").fetchall() == [(10,)]
    with pytest.raises(ValueError, match="table name"):
        load_events(con, [p], table="x; drop table ev2")


def test_cli_summary_out_and_exit_codes(tmp_path: Path) -> None:
    p = write(tmp_path, "x.jsonl", jl(good(1), {"ts": 1}, good(2)))
    out = tmp_path / "events.parquet"
    stats_json = tmp_path / "stats.json"
    runner = CliRunner()
    res = runner.invoke(cli_main, ["ingest", str(p), "--out", str(out), "--stats-json", str(stats_json)])
    assert res.exit_code == 0, res.output
    assert "ingested 2 records" in res.output and "x.jsonl:2: account_id: missing" in res.output
    assert pq.read_table(out).num_rows == 2
    assert orjson.loads(stats_json.read_bytes())["events"]["records_bad"] == 1
    res = runner.invoke(cli_main, ["ingest", str(p), "--strict"])
    assert res.exit_code == 2 and "x.jsonl:2: account_id: missing" in res.output
    assert "Traceback" not in res.output
    res = runner.invoke(cli_main, ["ingest", str(tmp_path / "missing.jsonl")])
    assert res.exit_code == 2 and "no such file" in res.output
    res = runner.invoke(cli_main, ["ingest", str(p), "--map", "nonsense=x"])
    assert res.exit_code == 2 and "not a contract field" in res.output


def test_cli_mapping(tmp_path: Path) -> None:
    p = write(
        tmp_path, "app.jsonl", jl({"@timestamp": "2026-03-01T12:00:00Z", "user": {"id": "u1"}, "q": "hey"})
    )
    res = CliRunner().invoke(
        cli_main,
        ["ingest", str(p), "--map", "account_id=user.id", "--map", "ts=@timestamp", "--map", "prompt=q"],
    )
    assert res.exit_code == 0 and "ingested 1 records" in res.output and "0 bad" in res.output


def test_normalised_parquet_is_loaded_as_it_is(tmp_path: Path) -> None:
    p = write(tmp_path, "x.jsonl", jl(*[good(i) for i in range(20)], {"ts": 1}))
    out = tmp_path / "events.parquet"
    assert CliRunner().invoke(cli_main, ["ingest", str(p), "--out", str(out)]).exit_code == 0
    a, b, c = duckdb.connect(), duckdb.connect(), duckdb.connect()
    load_events(a, [p], workers=1)
    stats = load_events(b, [out], workers=1)
    load_events(c, [out, p], workers=2)
    assert _table(a) == _table(b)  # line and source still point at the original log
    assert (stats.records_ok, stats.records_bad, stats.files) == (20, 0, 1)
    assert c.execute("SELECT count(*) FROM events").fetchall() == [(40,)]


def test_truncated_csv_gzip_keeps_earlier_rows(tmp_path: Path) -> None:
    body = "ts,account_id,prompt\n" + "".join(f"1772366400,a{i},{'word ' * 20}\n" for i in range(3000))
    gz = gzip.compress(body.encode())
    rows, stats = run(write(tmp_path, "x.csv.gz", gz[: len(gz) * 2 // 3]))
    assert 0 < len(rows) < 3000
    assert rows[:2] == [(2, "a0"), (3, "a1")]
    assert any("file ends early" in b[2] for b in stats.bad)
