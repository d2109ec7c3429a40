"""Exchanges to Arrow record batches with the ``EVENT_COLUMNS`` schema."""

from __future__ import annotations

import pyarrow as pa

from hydrawatch.events.schema import EVENT_COLUMNS, Exchange

EventRow = tuple[object, ...]  # the values of one EVENT_COLUMNS row, in schema order


def event_tuple(ex: Exchange, line: int, source: str) -> EventRow:
    """The ``EVENT_COLUMNS`` row of an exchange (the same values as ``exchange_row``)."""
    msgs = ex.messages
    prompt = ""
    user_turns = assistant_turns = chars = 0
    for m in msgs:
        role = m.role
        chars += len(m.content)
        if role == "user":
            user_turns += 1
            prompt = m.content
        elif role == "assistant":
            assistant_turns += 1
    p = ex.params
    resp = ex.response
    return (
        ex.ts,
        ex.account_id,
        ex.model,
        prompt,
        ex.system,
        len(msgs),
        user_turns,
        assistant_turns,
        chars,
        ex.ip,
        ex.user_agent,
        ex.api_key_id,
        ex.client_fingerprint,
        p.max_tokens,
        p.temperature,
        p.top_p,
        p.n,
        p.logprobs,
        p.top_logprobs,
        p.stream,
        p.n_tools,
        p.reasoning_effort,
        p.thinking_budget,
        ex.input_tokens,
        ex.output_tokens,
        ex.reasoning_tokens,
        ex.status,
        ex.latency_ms,
        None if resp is None else len(resp),
        line,
        source,
    )


class EventBatchBuilder:
    """Collects rows; :meth:`flush` returns them as one RecordBatch (column by column)."""

    __slots__ = ("_rows", "source")

    def __init__(self, source: str = "") -> None:
        self.source = source
        self._rows: list[EventRow] = []

    def __len__(self) -> int:
        return len(self._rows)

    def add(self, ex: Exchange, line: int) -> None:
        self._rows.append(event_tuple(ex, line, self.source))

    def add_row(self, row: EventRow) -> None:
        self._rows.append(row)

    def flush(self) -> pa.RecordBatch:
        """The collected rows as a RecordBatch; the builder is empty afterwards."""
        rows, self._rows = self._rows, []
        if not rows:
            return pa.RecordBatch.from_pylist([], schema=EVENT_COLUMNS)
        cols = zip(*rows, strict=True)
        arrays = [pa.array(col, type=f.type) for col, f in zip(cols, EVENT_COLUMNS, strict=True)]
        return pa.RecordBatch.from_arrays(arrays, schema=EVENT_COLUMNS)
