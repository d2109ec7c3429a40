"""A stand-in scoring engine for the scorer-process tests (loaded in the child with
``--engine scoring_fakes:counting_engine``; the tests put this folder on PYTHONPATH).

Risk is 0.01 per exchange the account made (capped at 1: no action for 49 exchanges); the
reasons say how many exchanges this scorer process has seen for the account, so a test can
tell whether every row reached it, plus ``payment FP`` once ``set_payment`` gave the account
a payment fingerprint (``payments`` lists every call). An account named ``crash-me`` makes
the process exit (a scorer that dies on a row); ``FAKE_ENGINE_LOAD_S`` delays the start (a
scorer still loading its models)."""

from __future__ import annotations

import os
import time
from collections import Counter
from types import SimpleNamespace
from typing import Any

from hydrawatch.events.schema import Exchange
from hydrawatch.score.engine import ScoringEngine


class CountingScorer:
    def __init__(self) -> None:
        self.n: Counter[str] = Counter()
        self.links = 0
        self.payments: list[tuple[str, str | None]] = []
        self.payment: dict[str, str | None] = {}

    def set_payment(self, account_id: str, payment_fp: str | None) -> None:
        self.payments.append((account_id, payment_fp))
        self.payment[account_id] = payment_fp

    def observe(self, ex: Exchange, feats: Any) -> None:
        if ex.account_id == "crash-me":
            os._exit(3)
        self.n[ex.account_id] += 1

    def score(self, account_id: str) -> Any:
        n = self.n[account_id]
        reasons = [f"observed {n}"]
        if self.payment.get(account_id):
            reasons.append(f"payment {self.payment[account_id]}")
        return SimpleNamespace(risk=min(1.0, 0.01 * n), campaign_id=None, reasons=reasons)

    def link(self, now: float) -> None:
        self.links += 1

    def campaign_members(self) -> set[str]:
        return set()


def counting_engine(link_seconds: float) -> ScoringEngine:
    time.sleep(float(os.environ.get("FAKE_ENGINE_LOAD_S", "0")))
    return ScoringEngine(CountingScorer(), lambda ex: None, link_seconds=link_seconds)
