"""The detector: account evidence + linkage communities + campaign scoring -> verdicts.

Called with the same inputs by the batch hunt (aggregates from DuckDB SQL) and by
the online scorer (aggregates from incremental state).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import duckdb
import numpy as np
import numpy.typing as npt
import pyarrow as pa

from hydrawatch.detect.account_score import AccountEvidence, account_evidence, account_reasons
from hydrawatch.detect.aggregates import AccountAggregates
from hydrawatch.detect.campaign import CampaignFinding, DetectConfig, score_communities
from hydrawatch.detect.linkage import CONTENT_TYPES, KEY_TYPES, Pairs, communities, pairs_from_keys
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
    notes: dict[int, list[str]] = field(default_factory=dict)  # more reasons per account (from the hunt)

    def reasons(self, i: int) -> list[str]:
        out: list[str] = []
        c = int(self.campaign_of[i])
        if c >= 0:
            camp = self.campaigns[c]
            out.append(
                f"member of campaign C{c + 1:03d} ({len(camp.flagged_members):,} accounts, "
                f"campaign risk {camp.risk:.2f})"
            )
        out.extend(self.notes.get(i, []))
        out.extend(account_reasons(self.agg, self.evidence, i))
        return out


def automation_seen(agg: AccountAggregates, ev: AccountEvidence, cfg: DetectConfig) -> npt.NDArray[np.bool_]:
    """Accounts whose own traffic shows automation: spread over the clock, rotating addresses, or
    (when configured) a distillation intent on a large share of many requests. A lone account is
    flagged only with this (the own-traffic pass); online, risk without it stays at throttle."""
    return np.asarray(
        (ev.flat >= cfg.lone_min_flat)
        | (ev.rotation >= cfg.lone_min_rotation)
        | ((ev.intent_share >= cfg.lone_min_intent) & (agg.n >= cfg.lone_min_requests)),
        dtype=bool,
    )


def detect(
    agg: AccountAggregates,
    pairs: Pairs,
    cfg: DetectConfig | None = None,
    content_pairs: Callable[[npt.NDArray[np.bool_]], Pairs] | None = None,
) -> Detection:
    """Three passes over the accounts, each taking only accounts no earlier pass took.

    1. Coordination: communities over shared infrastructure, payment, clients, timing and templates.
    2. Content: among accounts with a distillation intent of their own, communities over the
       instruction families they word it in (a stealth hydra shares no infrastructure and paces
       itself like people, but cannot avoid its own instruction set).
    3. Own traffic: accounts damning on their own (content and automation), outside any campaign.

    A member of a coordination community tied to it by wording and at most weak infrastructure links
    (summed infrastructure edge weight inside below ``cfg.defer_max_infra``) that qualifies for the
    content pass is decided there first, so that part of a paraphrasing campaign that happens to share
    a template or a popular client is not split off; what the content pass does not take falls back
    to its community.

    ``content_pairs(cand)``, when given, computes the content-key pairs among the accounts ``cand``
    alone (so rarity and ring pairing are computed among them); without it the content pairs of
    ``pairs`` between candidates are used.
    """
    cfg = cfg or DetectConfig()
    n = len(agg)
    ev = account_evidence(agg)
    campaign_of = np.full(n, -1, np.int64)
    risk = ev.risk.copy()
    flagged = np.zeros(n, bool)
    campaigns: list[CampaignFinding] = []
    content_ok = (ev.intent_share >= cfg.content_member_min_intent) & (
        agg.intent_fams >= cfg.content_min_families
    )

    def take(found: list[CampaignFinding]) -> None:
        for f in sorted(
            (f for f in found if f.risk >= cfg.campaign_threshold and f.flagged_members),
            key=lambda f: -f.risk,
        ):
            f.flagged_members = [i for i in f.flagged_members if not flagged[i]]
            if not f.flagged_members:
                continue
            campaigns.append(f)
            for i in f.flagged_members:
                campaign_of[i] = len(campaigns) - 1
                flagged[i] = True
                risk[i] = max(risk[i], f.risk)

    # 1. Coordination.
    coord = pairs.subset(tuple(k for k in KEY_TYPES if k not in CONTENT_TYPES))
    membership, keep = communities(n, coord, cfg.min_edge_weight, cfg.resolution)
    scored = score_communities(agg, ev, coord, keep, membership, cfg)
    # Members tied to their community by wording and at most weak infrastructure links (a popular
    # client, one shared /24 day) that qualify for the content pass are decided there first; what it
    # does not take returns here.
    deferred: list[tuple[CampaignFinding, list[int]]] = []
    for f in scored:
        wording_only = [
            i for i in f.flagged_members if f.infra_weight.get(i, 0.0) < cfg.defer_max_infra and content_ok[i]
        ]
        if wording_only:
            deferred.append((f, wording_only))
            f.flagged_members = [i for i in f.flagged_members if i not in set(wording_only)]
    take(scored)
    # 2. Content. Automated accounts on hosting networks (server-side scrapers) are left to the
    # own-traffic pass: a scraper on servers and a hydra of people-like accounts are not one campaign
    # even when they use the same instructions.
    automated = automation_seen(agg, ev, cfg)
    hosted = (agg.hosting_n + agg.vpn_n + agg.tor_n) > 0.5 * agg.n
    cand = ~flagged & content_ok & ~(hosted & automated)
    if content_pairs is not None:
        content = content_pairs(cand).subset(CONTENT_TYPES)
    else:
        content = pairs.subset(CONTENT_TYPES, cand[pairs.u] & cand[pairs.v])
    membership2, keep2 = communities(n, content, cfg.min_edge_weight, cfg.resolution)
    scored2 = score_communities(agg, ev, content, keep2, membership2, cfg, by_content=True)
    take(scored2)
    for f, back in deferred:  # what the content pass did not take
        back = [i for i in back if not flagged[i]]
        if not back:
            continue
        if any(f is c for c in campaigns):
            ci = next(k for k, c in enumerate(campaigns) if c is f)
            f.flagged_members += back
            campaign_of[back] = ci
            flagged[back] = True
            risk[back] = np.maximum(risk[back], f.risk)
        else:
            f.flagged_members = back
            take([f])
    # 3. Own traffic: grouped by dominant intent and whether they run from hosting networks (a
    # scraper on servers and a hydra on residential proxies are not one campaign). Alone, an account
    # needs automation evidence too (clock-flat traffic or rotating addresses), or content evidence so
    # strong that it stands by itself.
    lone = np.nonzero((ev.risk >= cfg.account_threshold) & automated & ~flagged)[0]
    groups: dict[tuple[int, bool], list[int]] = {}
    for i in lone.tolist():
        groups.setdefault((int(agg.top_intent[i]), bool(hosted[i])), []).append(i)
    for (intent, on_hosts), members in sorted(groups.items()):
        r = float(ev.risk[members].max())
        label = INTENT_LABELS.get(CLASSES[intent], "no single intent")
        where = "hosting/VPN networks" if on_hosts else "residential or mixed networks"
        f = CampaignFinding(
            members,
            r,
            [f"{len(members):,} account(s) flagged on their own traffic: mostly {label}, from {where}"],
            members,
            kind="own-traffic",
        )
        campaigns.append(f)
        for i in members:
            campaign_of[i] = len(campaigns) - 1
            flagged[i] = True
    # highest risk first
    order = sorted(range(len(campaigns)), key=lambda c: -campaigns[c].risk)
    rank = np.empty(len(order) + 1, np.int64)
    rank[-1] = -1
    rank[order] = np.arange(len(order))
    campaigns = [campaigns[c] for c in order]
    return Detection(
        agg, ev, campaigns, rank[campaign_of], flagged, np.clip(risk, 0.0, 1.0), scored + scored2
    )


def detect_keys(con: duckdb.DuckDBPyConnection, agg: AccountAggregates, cfg: DetectConfig) -> Detection:
    """``detect`` over the linkage keys in ``con``'s table ``link_keys(ktype, key, acc)`` (acc =
    index in ``agg``): the content keys are set apart (table ``all_content_keys``) and paired
    later among the content pass's candidates only, so their rarity is counted among them. The
    batch hunt and the online scorer both call this."""
    types = ", ".join(str(KEY_TYPES.index(k)) for k in CONTENT_TYPES)
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE all_content_keys AS SELECT * FROM link_keys WHERE ktype IN ({types})"
    )
    con.execute(f"DELETE FROM link_keys WHERE ktype IN ({types})")
    pairs = pairs_from_keys(con)

    def content_pairs(cand: npt.NDArray[np.bool_]) -> Pairs:
        con.register("_cand", pa.table({"acc": pa.array(np.nonzero(cand)[0].astype(np.int32))}))
        con.execute(
            "CREATE OR REPLACE TEMP TABLE content_keys AS SELECT k.* FROM all_content_keys k "
            "SEMI JOIN _cand c ON k.acc = c.acc"
        )
        con.unregister("_cand")
        return pairs_from_keys(con, "content_keys")

    return detect(agg, pairs, cfg, content_pairs)
