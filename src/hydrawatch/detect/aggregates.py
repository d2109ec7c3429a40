"""Per-account aggregates: the plain numbers every score and reason is computed from.

The batch hunt fills them with DuckDB SQL (``hydrawatch.hunt.sql``); the online
scorer fills them from incremental per-account state. Both then call the same
scoring, linkage and campaign logic in ``hydrawatch.detect``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np
import numpy.typing as npt

from hydrawatch.features.intent import TOPIC_DIMS

F = npt.NDArray[np.float64]
F2 = npt.NDArray[np.float64]  # one row per account
Ints = npt.NDArray[np.int64]


@dataclass
class AccountAggregates:
    """Column form: entry ``i`` of every array describes ``account_id[i]``."""

    account_id: list[str]
    n: Ints  # requests
    first_ts: F
    last_ts: F
    in_tok: Ints
    out_tok: Ints
    intent_n: Ints  # requests whose prompt shows a distillation intent
    top_intent: Ints  # index into features.intent.CLASSES (0 when none)
    top_intent_n: Ints
    step_cue_n: Ints  # requests that ask to reason step by step
    n_skel: Ints  # distinct prompt skeletons
    top_skel: Ints  # most used skeleton hash
    top_skel_n: Ints
    top3_skel_n: Ints
    top_fam_n: Ints  # requests in the most used template family (MinHash)
    topic_conc: F  # norm of the mean topic vector of its prompts (1 = all about one thing)
    topic_n: Ints  # prompts with enough text for a topic
    top_sys_n: Ints  # requests with the most used system prompt
    multi_turn_n: Ints  # requests continuing a conversation (more than one user turn)
    gap_cv: F  # coefficient of variation of inter-request gaps (nan when < 3 requests)
    hour_entropy: F  # entropy (bits) of the hour-of-day histogram
    active_hours: Ints  # distinct clock hours with traffic
    n_ips: Ints
    n_net24: Ints
    n_asn: Ints
    residential_n: Ints
    hosting_n: Ints
    vpn_n: Ints
    tor_n: Ints
    n_models: Ints
    top_model_share: F
    pivot_model: list[str | None]  # a model released in the data that the account moved to fastest
    pivot_share: F  # share of the account's requests on that model in the 48 h after its release
    pivot_delay_h: F  # hours from the model's release to the account's first use
    payment_fp: list[str | None] = field(default_factory=list)
    # distinct template families among its distillation-intent requests (its wordings); 0 when
    # the filler does not compute it (then the content linkage pass leaves the account out)
    intent_fams: Ints = field(default_factory=lambda: np.zeros(0, np.int64))
    # mean topic vector of its prompts (``features.intent.TOPIC_DIMS`` wide; zeros without prompts):
    # lets a campaign's topic be judged over its members' prompts pooled, before each has many
    topic_mean: F2 = field(default_factory=lambda: np.zeros((0, TOPIC_DIMS)))

    def __len__(self) -> int:
        return len(self.account_id)

    def index(self) -> dict[str, int]:
        return {a: i for i, a in enumerate(self.account_id)}

    @classmethod
    def empty(cls) -> AccountAggregates:
        kw: dict[str, Any] = {}
        for f in fields(cls):
            if f.name in ("account_id", "pivot_model", "payment_fp"):
                kw[f.name] = []
            elif f.type == "F2":
                kw[f.name] = np.zeros((0, TOPIC_DIMS))
            elif f.type == "F":
                kw[f.name] = np.zeros(0, np.float64)
            else:
                kw[f.name] = np.zeros(0, np.int64)
        return cls(**kw)

    @classmethod
    def from_columns(cls, cols: dict[str, Any]) -> AccountAggregates:
        """Build from a mapping of column name -> sequence (missing optional columns default)."""
        kw: dict[str, Any] = {}
        n = len(cols["account_id"])
        for f in fields(cls):
            v = cols.get(f.name)
            if f.name in ("account_id", "pivot_model", "payment_fp"):
                kw[f.name] = list(v) if v is not None else [None] * n
            elif f.type == "F2":
                kw[f.name] = np.zeros((n, TOPIC_DIMS))
                for i, row in enumerate(v if v is not None else ()):
                    if row is not None:
                        kw[f.name][i] = row
            elif f.type == "F":
                kw[f.name] = (
                    np.asarray([np.nan if x is None else x for x in v], dtype=np.float64)
                    if v is not None
                    else np.full(n, np.nan)
                )
            else:
                kw[f.name] = (
                    np.asarray([0 if x is None else x for x in v], dtype=np.int64)
                    if v is not None
                    else np.zeros(n, np.int64)
                )
        return cls(**kw)
