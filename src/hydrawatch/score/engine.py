"""The scoring engine: event rows in, changed verdicts out.

Transport-free: the embedded child (``score.pipe``) and the Redis consumer
(``score.redis_worker``) both feed it rows and publish what it returns. Per row it computes
the request features (``features.request.describe``, the code the batch hunt uses; rows
that arrive together are described as one batch) and
updates the online scorer (``detect.online.OnlineScorer``); every ``link_seconds`` of wall
time it runs the linkage pass, which promotes linked accounts into campaigns (with
``link_clock="events"``: every ``link_seconds`` of the events' own clock, for replays).
A row's ``payment_fp`` (the gateway adds the account's payment fingerprint) goes to the
scorer's ``set_payment`` when it changes, so accounts sharing a card are linked.

Time: the linkage pass looks at the events' own clock (the newest ``ts`` seen), not the
wall clock, so a replay with an accelerated clock is scored like live traffic.
"""

from __future__ import annotations

import importlib
import logging
import math
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from hydrawatch.events.schema import Exchange, Message
from hydrawatch.policy.decision import Verdict
from hydrawatch.score.rows import exchange_from_row

log = logging.getLogger("hydrawatch.score")

# a verdict is published again after this long even when unchanged, so it outlives the
# verdict cache's TTL (1 h) while the account is active
REPUBLISH_S = 900.0
# the longest payment fingerprint taken from a row (the gateway's account store allows 128)
MAX_PAYMENT_FP = 128


def to_verdict(v: Any) -> Verdict:
    """The policy's ``Verdict`` from the online scorer's (risk clamped to [0, 1])."""
    reasons = getattr(v, "reasons", ()) or ()
    risk = float(getattr(v, "risk", 0.0) or 0.0)
    if not math.isfinite(risk):
        risk = 0.0
    return Verdict(
        risk=min(1.0, max(0.0, risk)),
        campaign_id=getattr(v, "campaign_id", None) or None,
        reasons=tuple(str(r) for r in reasons),
    )


Signature = tuple[float, str | None, tuple[str, ...]]


class ScoringEngine:
    """Rows -> features -> online state; verdicts of the accounts that changed."""

    def __init__(
        self,
        scorer: Any,
        describe: Callable[[Exchange], Any],
        *,
        describe_many: Callable[[Sequence[Exchange]], list[Any]] | None = None,
        link_seconds: float = 60.0,
        republish_seconds: float = REPUBLISH_S,
        clock: Callable[[], float] = time.monotonic,
        link_clock: str = "wall",
    ) -> None:
        if link_clock not in ("wall", "events"):
            raise ValueError(f"link_clock must be wall or events, not {link_clock!r}")
        self.scorer = scorer
        self.link_clock = link_clock
        self.describe = describe
        self.describe_many = describe_many
        self.link_seconds = link_seconds
        self.republish_seconds = republish_seconds
        self.clock = clock
        self.now = -math.inf  # the newest event ts seen: the linkage pass's "now"
        self.observed = 0
        self.errors = 0
        self.links = 0
        self.last_link_s = 0.0
        self._next_link = clock() + link_seconds
        self._next_link_ev = -math.inf  # link_clock "events": the event ts of the next pass
        self._touched: set[str] = set()  # observed since the last verdicts() call
        self._since_link: set[str] = set()  # observed since the last link pass
        self._last: dict[str, tuple[Signature, float]] = {}
        self._payment: dict[str, str] = {}  # the payment fingerprint last given to the scorer

    # ----------------------------------------------------------------- input
    def observe(self, row: Mapping[str, Any]) -> bool:
        """Learn one event row; False (counted in ``errors``) for a row that cannot be scored."""
        return self.observe_many([row]) == 1

    def observe_many(self, rows: Iterable[Mapping[str, Any]]) -> int:
        """Learn several rows, in order, describing their exchanges as one batch when the
        engine has ``describe_many``; the number learned. Same result as ``observe`` on each."""
        parsed: list[tuple[Exchange, Any]] = []
        for row in rows:
            try:
                parsed.append((exchange_from_row(row), row.get("payment_fp")))
            except Exception as e:  # one bad row must not stop scoring
                self._skipped(e)
        feats: list[Any] | None = None
        if self.describe_many is not None and len(parsed) > 1:
            try:
                feats = self.describe_many([ex for ex, _ in parsed])
            except Exception as e:  # fall back to one at a time: only the bad exchange is lost
                log.debug("scoring: batch description failed, one at a time: %r", e)
        n = 0
        for i, (ex, fp) in enumerate(parsed):
            ok = self.observe_exchange(ex) if feats is None else self.learn(ex, feats[i])
            if ok:
                self._set_payment(ex.account_id, fp)
                n += 1
        return n

    def _set_payment(self, account_id: str, fp: Any) -> None:
        """Tell the scorer the account's payment fingerprint (the gateway adds ``payment_fp``
        to the rows of accounts that have one) when it changed for the account. A value that
        is not a short non-empty string is ignored; a failing ``set_payment`` is logged once
        per value, never raised."""
        if (
            not isinstance(fp, str)
            or not fp
            or len(fp) > MAX_PAYMENT_FP
            or self._payment.get(account_id) == fp
        ):
            return
        set_payment = getattr(self.scorer, "set_payment", None)
        if not callable(set_payment):
            return
        self._payment[account_id] = fp
        try:
            set_payment(account_id, fp)
        except Exception as e:  # the row is scored all the same
            log.warning("scoring: payment fingerprint of %s not set: %r", account_id, e)

    def observe_exchange(self, ex: Exchange) -> bool:
        """Learn one exchange; False (counted in ``errors``) when it cannot be scored."""
        try:
            feats = self.describe(ex)
        except Exception as e:  # one bad exchange must not stop scoring
            self._skipped(e)
            return False
        return self.learn(ex, feats)

    def learn(self, ex: Exchange, feats: Any) -> bool:
        """Learn one exchange whose features are already computed; False when it cannot be scored."""
        try:
            self.scorer.observe(ex, feats)
        except Exception as e:
            self._skipped(e)
            return False
        self.observed += 1
        self.now = max(self.now, ex.ts)
        self._touched.add(ex.account_id)
        self._since_link.add(ex.account_id)
        return True

    def _skipped(self, e: Exception) -> None:
        self.errors += 1
        if self.errors <= 10 or self.errors % 1000 == 0:
            log.warning("scoring: row skipped (%d so far): %r", self.errors, e)

    def observe_only(self, rows: Iterable[Mapping[str, Any]]) -> int:
        """Learn rows without publishing anything for them (rebuilding state after a takeover)."""
        n = self.observe_many(rows)
        self._touched.clear()
        return n

    # ---------------------------------------------------------------- output
    def _changed(self, accounts: Iterable[str]) -> list[tuple[str, Verdict]]:
        out: list[tuple[str, Verdict]] = []
        now = self.clock()
        for account_id, v in self._score(list(accounts)):
            sig: Signature = (round(v.risk, 4), v.campaign_id, v.reasons)
            last = self._last.get(account_id)
            if last is not None and last[0] == sig and now - last[1] < self.republish_seconds:
                continue
            self._last[account_id] = (sig, now)
            out.append((account_id, v))
        return out

    def _score(self, accounts: list[str]) -> list[tuple[str, Verdict]]:
        """Verdicts of ``accounts``, in one batch when the scorer has ``score_many``; an
        account that cannot be scored is logged, counted and left out."""
        many = getattr(self.scorer, "score_many", None)
        if callable(many) and len(accounts) > 1:
            try:
                return [(a, to_verdict(v)) for a, v in zip(accounts, many(accounts), strict=True)]
            except Exception as e:  # one at a time: only the failing account is left out
                log.debug("scoring: batch scoring failed, one at a time: %r", e)
        out: list[tuple[str, Verdict]] = []
        for account_id in accounts:
            try:
                out.append((account_id, to_verdict(self.scorer.score(account_id))))
            except Exception as e:
                self.errors += 1
                log.warning("scoring: %s not scored: %r", account_id, e)
        return out

    def verdicts(self) -> list[tuple[str, Verdict]]:
        """Verdicts of the accounts observed since the last call that changed (or are due
        again); call it once per batch of rows, not per row."""
        touched, self._touched = self._touched, set()
        return self._changed(sorted(touched))

    def link_due(self) -> bool:
        if self.link_clock == "events":
            if not math.isfinite(self._next_link_ev) and math.isfinite(self.now):
                self._next_link_ev = self.now + self.link_seconds
            return self.now >= self._next_link_ev
        return self.clock() >= self._next_link

    def link_wait(self) -> float:
        """Wall seconds until the next linkage pass is due (0 when it is; with the events'
        clock, passes happen as events arrive: wait for them)."""
        if self.link_clock == "events":
            return 0.0 if self.link_due() else 3600.0
        return max(0.0, self._next_link - self.clock())

    def fresh(self) -> ScoringEngine:
        """A new engine with empty account state and the same (loaded) models."""
        return ScoringEngine(
            type(self.scorer)(),
            self.describe,
            describe_many=self.describe_many,
            link_seconds=self.link_seconds,
            republish_seconds=self.republish_seconds,
            clock=self.clock,
            link_clock=self.link_clock,
        )

    def link(self) -> list[tuple[str, Verdict]]:
        """The linkage pass; returns the verdicts it changed (campaign members in or out, and
        the accounts active since the previous pass)."""
        self._next_link = self.clock() + self.link_seconds
        self._next_link_ev = self.now + self.link_seconds
        if not math.isfinite(self.now):
            return []
        before = self._members()
        t0 = time.perf_counter()
        try:
            self.scorer.link(self.now)
        except Exception as e:
            self.errors += 1
            log.warning("scoring: linkage pass failed: %r", e)
            return []
        self.last_link_s = time.perf_counter() - t0
        self.links += 1
        after = self._members()
        recent, self._since_link = self._since_link, set()
        return self._changed(sorted(before | after | recent))

    def _members(self) -> set[str]:
        members = getattr(self.scorer, "campaign_members", None)
        return set(members()) if callable(members) else set()


def load_engine(link_seconds: float = 60.0, link_clock: str = "wall") -> ScoringEngine:
    """The engine with the online scorer and the feature models loaded (slow: seconds)."""
    online = importlib.import_module("hydrawatch.detect.online")
    request = importlib.import_module("hydrawatch.features.request")
    describe: Callable[[Exchange], Any] = request.describe
    describe(Exchange(ts=0.0, account_id="warm-up", messages=[Message("user", "warm up")]))
    return ScoringEngine(
        online.OnlineScorer(),
        describe,
        describe_many=request.describe_many,
        link_seconds=link_seconds,
        link_clock=link_clock,
    )
