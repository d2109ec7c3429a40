"""The embedded scorer: a child process of ``hydrawatch serve`` fed through its stdin.

Protocol (one message per line; orjson never writes a raw newline):

- gateway -> scorer (stdin): ``<seq>\\t<event row as JSON>``, ``seq`` increasing.
- scorer -> gateway (stdout), JSON objects:
  ``{"t": "ready"}`` once the models are loaded;
  ``{"t": "v", "a": account, "risk": r, "c": campaign or null, "why": [reasons]}`` a new verdict;
  ``{"t": "ack", "s": seq}`` every row up to ``seq`` is scored (the gateway may forget them).

End of stdin means the gateway is gone or shutting down: the scorer exits at once (its
state lives in memory only). Logs go to stderr. SIGINT is ignored (a Ctrl-C in the
gateway's terminal stops the gateway, which then closes the pipe).
"""

from __future__ import annotations

import logging
import os
import queue
import signal
import threading
import time
from collections.abc import Callable
from typing import IO, Any

import orjson

from hydrawatch.policy.decision import Verdict
from hydrawatch.score.engine import ScoringEngine

log = logging.getLogger("hydrawatch.score")

MAX_BATCH = 256  # rows scored together (more may come in one read)
READ_BYTES = 1 << 16
# after a row arrives, wait this long for more before scoring: an account is scored once per
# batch, so a busy account is rescored every COALESCE_S rather than after every row (the
# request path never waits for verdicts; they land this much later at most)
COALESCE_S = 0.05


def encode_row(seq: int, row: dict[str, Any]) -> bytes:
    return b"%d\t" % seq + orjson.dumps(row) + b"\n"


def decode_row(line: bytes) -> tuple[int, bytes] | None:
    """``(seq, row JSON)`` of one input line, None when the line is malformed."""
    head, sep, payload = line.partition(b"\t")
    if not sep or not head.isdigit():
        return None
    return int(head), payload


def verdict_message(account_id: str, v: Verdict) -> bytes:
    return (
        orjson.dumps({"t": "v", "a": account_id, "risk": v.risk, "c": v.campaign_id, "why": list(v.reasons)})
        + b"\n"
    )


def verdict_of_message(msg: dict[str, Any]) -> tuple[str, Verdict] | None:
    """The account and verdict of a ``"v"`` message; None when malformed."""
    account = msg.get("a")
    risk = msg.get("risk")
    why = msg.get("why") or []
    if not isinstance(account, str) or isinstance(risk, bool) or not isinstance(risk, int | float):
        return None
    if not isinstance(why, list):
        return None
    c = msg.get("c")
    return account, Verdict(float(risk), str(c) if c else None, tuple(str(x) for x in why))


_EOF = object()


def _reader(inp: IO[bytes], q: queue.Queue[Any], on_eof: Callable[[], None] | None) -> None:
    """Whole lines from ``inp``, queued as one list per read (a queue operation per line cost
    as much as scoring the row)."""
    read = getattr(inp, "read1", inp.read)
    tail = b""
    try:
        while chunk := read(READ_BYTES):
            lines = (tail + chunk).split(b"\n")
            tail = lines.pop()
            if lines:
                q.put(lines)
    except (OSError, ValueError):
        pass
    if tail:
        q.put([tail])
    if on_eof is not None:
        on_eof()
    q.put(_EOF)


def run_pipe(
    loader: Callable[[], ScoringEngine],
    inp: IO[bytes],
    out: IO[bytes],
    *,
    on_eof: Callable[[], None] | None = None,
) -> int:
    """Serve the protocol until stdin ends; the exit status. ``on_eof`` runs as soon as
    stdin ends (the process passes ``os._exit``: no need to finish loading models first)."""
    q: queue.Queue[Any] = queue.Queue()
    threading.Thread(target=_reader, args=(inp, q, on_eof), name="hydrawatch-score-in", daemon=True).start()
    engine = loader()  # rows arriving meanwhile wait in q
    out.write(b'{"t":"ready"}\n')
    out.flush()
    while True:
        wait = engine.link_wait()
        try:
            first = q.get(timeout=wait)
        except queue.Empty:
            first = None
        batch: list[list[bytes]] = []
        size = 0
        until = time.monotonic() + COALESCE_S
        item = first
        while item is not None:
            if item is _EOF:  # the gateway is gone: nobody to answer
                return 0
            batch.append(item)
            size += len(item)
            if size >= MAX_BATCH:
                break
            try:
                item = q.get(timeout=max(0.0, until - time.monotonic()))
            except queue.Empty:
                item = None
        last_seq = -1
        rows: list[dict[str, Any]] = []
        for line in (line for lines in batch for line in lines):
            if not line.strip():
                continue
            parsed = decode_row(line.rstrip(b"\r"))
            if parsed is None:
                engine.errors += 1
                continue
            last_seq = parsed[0]
            try:
                row = orjson.loads(parsed[1])
            except orjson.JSONDecodeError:
                engine.errors += 1
                continue
            if isinstance(row, dict):
                rows.append(row)
        engine.observe_many(rows)
        msgs = [verdict_message(a, v) for a, v in engine.verdicts()]
        if engine.link_due():
            msgs.extend(verdict_message(a, v) for a, v in engine.link())
        if last_seq >= 0:
            msgs.append(b'{"t":"ack","s":%d}\n' % last_seq)
        if msgs:
            try:
                out.write(b"".join(msgs))
                out.flush()
            except (BrokenPipeError, OSError):
                return 0


def main(link_seconds: float, factory: Callable[[float], ScoringEngine]) -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    import sys

    return run_pipe(
        lambda: factory(link_seconds), sys.stdin.buffer, sys.stdout.buffer, on_eof=lambda: os._exit(0)
    )
