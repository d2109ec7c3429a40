"""Which events get text features when a log is too large to describe every prompt.

Text features (intent, cues, skeleton, template family, topic) cost tens of microseconds per
distinct prompt, and a large log has almost as many distinct prompts as events. Above a budget
the hunt describes a sample and scales the counts it derives from them:

- the events that fall in a pseudo-random share of 5-minute time buckets, the *same* buckets
  for every account, so accounts that act in lockstep still meet in the sampled buckets
  (co-occurrence shrinks by the rate, not by its square);
- with a floor per account: an account keeps a bucket share of at least ``floor / its events``
  (all events of accounts with at most ``floor`` events), so no account is judged on a handful
  of requests. The bucket thresholds are nested, so the buckets of a low share are among those
  of every higher share. ``floor`` is ``FULL_ACCOUNT_EVENTS``, lowered when the floors alone
  would take more than half the budget.

Volume, timing, network, model and system-prompt features always use every event.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import duckdb

DEFAULT_TEXT_BUDGET = 2_000_000  # events whose prompts are described; 0 = describe every event
FULL_ACCOUNT_EVENTS = 64
BUCKET_S = 300
_RESOLUTION = 1_000_000


@dataclass(frozen=True, slots=True)
class TextSample:
    """The sampling decision for one hunt: bucket share ``rate`` with a per-account ``floor``
    (``rate`` 1.0 = every event)."""

    rate: float
    events: int
    floor: int = FULL_ACCOUNT_EVENTS

    @property
    def complete(self) -> bool:
        return self.rate >= 1.0

    def predicate(self, ts: str = "ts", account_events: str = "acc_n") -> str:
        """SQL that is TRUE for the events whose prompts get text features."""
        if self.complete:
            return "TRUE"
        share = f"greatest({self.rate!r}, least(1.0, {self.floor} / {account_events}))"
        return f"(hash(floor({ts} / {BUCKET_S})::BIGINT) % {_RESOLUTION} < {share} * {_RESOLUTION})"

    def describe(self) -> str:
        if self.complete:
            return "text features from every event"
        return (
            f"text features from a {self.rate:.1%} sample of 5-minute buckets (at least {self.floor} "
            "events' worth per account); text-derived counts are scaled to each account's events"
        )


def choose_sample(
    n_events: int, budget: int = DEFAULT_TEXT_BUDGET, account_sizes: Sequence[int] = ()
) -> TextSample:
    """Describe every event up to ``budget`` events (or always when ``budget`` is 0); else
    per-account floors (from ``account_sizes``, the events of each account) of at most half the
    budget, and a bucket share that spends the rest."""
    if budget <= 0 or n_events <= budget:
        return TextSample(1.0, n_events)
    import numpy as np

    sizes = np.sort(np.asarray(account_sizes, dtype=np.int64))
    floor = FULL_ACCOUNT_EVENTS
    while floor > 1 and int(np.minimum(sizes, floor).sum()) > budget // 2:
        floor //= 2
    spent = int(np.minimum(sizes, floor).sum())
    return TextSample(max(budget - spent, budget // 4) / n_events, n_events, floor)


def account_sizes(con: duckdb.DuckDBPyConnection, events: str = "events") -> list[int]:
    """Events per account."""
    return [int(r[0]) for r in con.execute(f"SELECT count(*) FROM {events} GROUP BY account_id").fetchall()]


def mark_sample(con: duckdb.DuckDBPyConnection, sample: TextSample, events: str = "events") -> str:
    """Create view ``events_s``: ``events`` plus ``txt`` (the event is in the text sample);
    returns the name of the view."""
    if sample.complete:
        con.execute(f"CREATE OR REPLACE TEMP VIEW events_s AS SELECT *, TRUE AS txt FROM {events}")
    else:
        con.execute(
            f"""CREATE OR REPLACE TEMP VIEW events_s AS
            SELECT e.*, {sample.predicate("e.ts", "c.acc_n")} AS txt
            FROM {events} e JOIN (SELECT account_id, count(*) AS acc_n FROM {events} GROUP BY 1) c
            USING (account_id)"""
        )
    return "events_s"
