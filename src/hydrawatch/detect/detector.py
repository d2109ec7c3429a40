"""The detector: account evidence + linkage communities + campaign scoring -> verdicts.

Called with the same inputs by the batch hunt (aggregates from DuckDB SQL) and by
the online scorer (aggregates from incremental state).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from hydrawatch.detect.account_score import AccountEvidence, account_evidence, account_reasons
from hydrawatch.detect.aggregates import AccountAggregates
from hydrawatch.detect.campaign import CampaignFinding, DetectConfig, score_communities
from hydrawatch.detect.linkage import Pairs, communities
from hydrawatch.features.intent import CLASSES, INTENT_LABELS


@dataclass
class Detection:
    agg: AccountAggregates
    evidence: AccountEvidence
    campaigns: list[CampaignFinding]  # flagged campaigns, highest risk first
    campaign_of: npt.NDArray[np.int64]  # index into campaigns, -1 when none
    flagged: npt.NDArray[np.bool_]
    risk: npt.NDArray[np.float64]
    candidates: list[CampaignFinding] = field(default_factory=list)  # all scored communities

    def reasons(self, i: int) -> list[str]:
        out: list[str] = []
        c = int(self.campaign_of[i])
        if c >= 0:
            camp = self.campaigns[c]
            out.append(
                f"member of campaign C{c + 1:03d} ({len(camp.flagged_members):,} accounts, "
                f"campaign risk {camp.risk:.2f})"
            )
        out.extend(account_reasons(self.agg, self.evidence, i))
        return out


def detect(agg: AccountAggregates, pairs: Pairs, cfg: DetectConfig | None = None) -> Detection:
    cfg = cfg or DetectConfig()
    n = len(agg)
    ev = account_evidence(agg)
    membership, keep = communities(n, pairs, cfg.min_edge_weight, cfg.resolution)
    scored = score_communities(agg, ev, pairs, keep, membership, cfg)
    campaigns = sorted(
        (f for f in scored if f.risk >= cfg.campaign_threshold and f.flagged_members), key=lambda f: -f.risk
    )
    campaign_of = np.full(n, -1, np.int64)
    risk = ev.risk.copy()
    flagged = np.zeros(n, bool)
    for ci, f in enumerate(campaigns):
        for i in f.flagged_members:
            campaign_of[i] = ci
            flagged[i] = True
            risk[i] = max(risk[i], f.risk)
    # Accounts whose own traffic is damning, outside any flagged campaign: grouped by their
    # dominant intent and whether they run from hosting networks (a scraper on servers and a
    # hydra on residential proxies are not one campaign).
    # Alone, an account needs automation evidence too (clock-flat traffic or rotating addresses),
    # or content evidence so strong (a quarter of a sizeable volume) that it stands by itself.
    automated = (
        (ev.flat >= cfg.lone_min_flat)
        | (ev.rotation >= cfg.lone_min_rotation)
        | ((ev.intent_share >= cfg.lone_min_intent) & (agg.n >= cfg.lone_min_requests))
    )
    lone = np.nonzero((ev.risk >= cfg.account_threshold) & automated & ~flagged)[0]
    groups: dict[tuple[int, bool], list[int]] = {}
    for i in lone.tolist():
        hosted = bool(agg.hosting_n[i] + agg.vpn_n[i] + agg.tor_n[i] > 0.5 * agg.n[i])
        groups.setdefault((int(agg.top_intent[i]), hosted), []).append(i)
    for (intent, hosted), members in sorted(groups.items()):
        r = float(ev.risk[members].max())
        label = INTENT_LABELS.get(CLASSES[intent], "no single intent")
        where = "hosting/VPN networks" if hosted else "residential or mixed networks"
        f = CampaignFinding(
            members,
            r,
            [f"{len(members):,} account(s) flagged on their own traffic: mostly {label}, from {where}"],
            members,
        )
        campaigns.append(f)
        for i in members:
            campaign_of[i] = len(campaigns) - 1
            flagged[i] = True
    return Detection(agg, ev, campaigns, campaign_of, flagged, np.clip(risk, 0.0, 1.0), scored)
