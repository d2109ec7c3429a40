"""Campaigns: communities of linked accounts scored on combined evidence.

A community becomes a campaign only when coordination (shared payment, networks,
templates, lockstep timing, synchronised model pivots) comes together with
harvesting-like content. A company's many accounts or a campus NAT are linked
too, but their traffic is diverse, conversational and shows no distillation
intent, so they stay below the bar.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from hydrawatch.detect.account_score import MIN_TOPIC_PROMPTS, AccountEvidence
from hydrawatch.detect.aggregates import AccountAggregates
from hydrawatch.detect.linkage import INFRA_TYPES, KEY_TYPES, Pairs
from hydrawatch.features.intent import CLASSES, INTENT_LABELS


@dataclass
class DetectConfig:
    """Every threshold of the detector in one place (tuned on the tuning split only)."""

    min_edge_weight: float = 0.8
    resolution: float = 0.03  # low: a hydra load-balanced in cohorts is one campaign
    min_campaign_size: int = 3
    campaign_threshold: float = 0.5
    account_threshold: float = 0.7  # a lone account flagged on its own traffic
    lone_min_flat: float = 0.5  # ... when its traffic is also spread over the clock
    lone_min_rotation: float = 0.3  # ... or rotates addresses
    # ... or this share of its requests shows a distillation intent. Off by default (> 1): at 0.25-0.3 it
    # catches stealth accounts but flagged one agentic account on held-out data.
    lone_min_intent: float = 1.01
    lone_min_requests: int = 50
    member_min_risk: float = 0.15  # a campaign member needs some own evidence ...
    member_min_link: float = 2.0  # ... or strong links into the campaign
    # A member of a campaign found by content alone (no shared infrastructure) must show the
    # campaign's evidence itself: this share of its requests with a distillation intent.
    content_member_min_intent: float = 0.08
    content_member_min_link: float = 2.0  # ... and solid content links to other members
    # ... and word its distillation requests in at least this many template families: the content pass
    # looks for paraphrasing campaigns (one fixed template is a coordination key already), and an
    # automated legitimate job that trips the intent classifier repeats one or two templates.
    content_min_families: int = 5
    # A coordination-campaign member that qualifies for the content pass is decided there first when
    # its infrastructure links (payment, network, client, system prompt, lockstep, pivot) inside its
    # community weigh less than this (a popular client or one shared /24-day, not a shared card).
    defer_max_infra: float = 2.0
    # campaign risk: logistic over community-level evidence
    c_bias: float = -6.0
    c_intent: float = 8.0
    c_mean_risk: float = 3.0
    c_template: float = 2.0
    c_coordination: float = 2.5
    c_size: float = 0.6
    # Harvesting content a campaign must show (pooled intent share, or rotating proxies) before its
    # size and coordination count in full: many accounts of one company, a campus or the users of one
    # agentic tool are linked by their shared system prompt, client and networks, and there are more
    # of them the larger the platform; size alone must not turn them into a campaign.
    content_full_intent: float = 0.05  # intent share at which size counts in full
    content_full_rotation: float = 0.3  # ... or median /24 rotation
    min_content: float = 0.4  # below this content level (share of full) a community is not a campaign
    c_rotation: float = 1.5
    c_narrow: float = 2.0
    c_flat: float = 2.0


@dataclass
class CampaignFinding:
    members: list[int]
    risk: float
    evidence: list[str] = field(default_factory=list)
    flagged_members: list[int] = field(default_factory=list)
    kind: str = "coordination"  # "coordination", "content" (linked by wording alone) or "own-traffic"
    links: dict[str, float] = field(default_factory=dict)  # share of members linked by each key type
    infra_weight: dict[int, float] = field(default_factory=dict)  # member -> infrastructure links inside


def _pct(x: float) -> str:
    return f"{x:.0%}"


def _edge_type_counts(
    pairs: Pairs, keep: npt.NDArray[np.bool_], same: npt.NDArray[np.bool_]
) -> dict[str, int]:
    sel = keep & same
    return {k: int((pairs.strength[sel, j] > 0).sum()) for j, k in enumerate(KEY_TYPES)}


def score_communities(
    agg: AccountAggregates,
    ev: AccountEvidence,
    pairs: Pairs,
    keep: npt.NDArray[np.bool_],
    membership: npt.NDArray[np.int64],
    cfg: DetectConfig,
    by_content: bool = False,
) -> list[CampaignFinding]:
    """Score every community of at least ``min_campaign_size`` accounts.

    ``by_content``: the communities come from content keys alone, so each flagged member must
    show a distillation intent itself (``cfg.content_member_min_intent``) and solid links to the
    others (``cfg.content_member_min_link``)."""
    findings: list[CampaignFinding] = []
    if len(agg) == 0:
        return findings
    w = pairs.weights()
    w_infra = pairs.type_weights(INFRA_TYPES)  # once: per community it would cost O(all pairs)
    # weighted degree of each account inside its own community
    same = membership[pairs.u] == membership[pairs.v] if len(pairs.u) else np.zeros(0, bool)
    intra = np.zeros(len(agg))
    sel = keep & same
    np.add.at(intra, pairs.u[sel], w[sel])
    np.add.at(intra, pairs.v[sel], w[sel])
    comm_sizes = np.bincount(membership)
    edge_comm = membership[pairs.u]
    order = np.argsort(edge_comm[sel], kind="stable") if sel.any() else np.zeros(0, np.int64)
    sel_idx = np.nonzero(sel)[0][order]
    sel_comm = edge_comm[sel_idx]
    by_comm = np.argsort(membership, kind="stable")  # members of community c: a slice, in index order
    comm_start = np.concatenate(([0], np.cumsum(comm_sizes)))
    for c in np.nonzero(comm_sizes >= cfg.min_campaign_size)[0]:
        members = by_comm[comm_start[c] : comm_start[c + 1]]
        lo, hi = np.searchsorted(sel_comm, [c, c + 1])
        eidx = sel_idx[lo:hi]
        findings.append(_score_one(agg, ev, pairs, w, w_infra, eidx, members, intra, cfg, by_content))
    return findings


def shared_topic(agg: AccountAggregates, members: npt.NDArray[np.int64]) -> float:
    """How much the members' prompts are about one thing *across* accounts: the root of the mean
    inner product between the topic vectors of prompts from different members (about 0 for
    unrelated topics however few prompts each sent, 1 when all are about one thing). A campaign asking
    about one narrow thing shows it across its accounts before each has sent many prompts; pairs
    within one account are left out, so one heavy or single-minded member does not make it."""
    if not len(agg.topic_mean):
        return 0.0
    c = agg.topic_n[members].astype(np.float64)
    n = c.sum()
    cross_pairs = n * n - (c * c).sum()
    if n < MIN_TOPIC_PROMPTS or cross_pairs < MIN_TOPIC_PROMPTS * MIN_TOPIC_PROMPTS / 2:
        return 0.0
    sums = agg.topic_mean[members] * c[:, None]
    total = sums.sum(axis=0)
    cross = float(total @ total - (sums * sums).sum())
    return float(np.sqrt(max(cross, 0.0) / cross_pairs))


def _score_one(
    agg: AccountAggregates,
    ev: AccountEvidence,
    pairs: Pairs,
    w_all: npt.NDArray[np.float64],
    w_infra_all: npt.NDArray[np.float64],
    eidx: npt.NDArray[np.int64],
    members: npt.NDArray[np.int64],
    intra: npt.NDArray[np.float64],
    cfg: DetectConfig,
    by_content: bool = False,
) -> CampaignFinding:
    m = len(members)
    n_req = float(agg.n[members].sum())
    intent = float(agg.intent_n[members].sum()) / max(n_req, 1.0)
    template = float(np.maximum(agg.top3_skel_n[members], agg.top_fam_n[members]).sum()) / max(n_req, 1.0)
    # The score asks the members to carry the evidence broadly: pooled shares are capped at the
    # median member's (one heavy account of a team sharing a card does not make the team a campaign).
    intent_score = min(intent, float(np.median(ev.intent_share[members])))
    template_score = min(template, float(np.median(ev.template_share[members])))
    rotation = float(np.median(ev.rotation[members]))
    narrow = max(float(np.median(ev.narrow[members])), shared_topic(agg, members))
    flat = float(np.median(ev.flat[members]))
    mean_risk = float(np.median(ev.risk[members]))
    # coordination: share of members linked by each kind of evidence
    linked: dict[str, set[int]] = {}
    for j, k in enumerate(KEY_TYPES):
        on = eidx[pairs.strength[eidx, j] > 0]
        linked[k] = set(pairs.u[on].tolist()) | set(pairs.v[on].tolist())
    frac = {k: len(v) / m for k, v in linked.items()}
    # per member: weight of its infrastructure links inside the community
    w_infra = w_infra_all[eidx]
    infra_w = np.zeros(len(agg))
    np.add.at(infra_w, pairs.u[eidx], w_infra)
    np.add.at(infra_w, pairs.v[eidx], w_infra)
    infra = {int(i): float(infra_w[i]) for i in members}
    coordination = max(
        frac["lockstep"],
        frac["payment"],
        frac["template"],
        frac["family"],
        0.5 * frac["pivot"],
        0.5 * frac["net24_day"],
        frac["intent_family"],
    )
    content = min(1.0, max(intent_score / cfg.content_full_intent, rotation / cfg.content_full_rotation))
    z = (
        cfg.c_bias
        + cfg.c_intent * intent_score
        + cfg.c_mean_risk * mean_risk
        + cfg.c_template * template_score
        + cfg.c_coordination * coordination
        + cfg.c_size * np.log10(m) * content
        + cfg.c_rotation * rotation
        + cfg.c_narrow * narrow
        + cfg.c_flat * flat
    )
    risk = float(1.0 / (1.0 + np.exp(-z)))
    if content < cfg.min_content:  # coordination without harvesting content
        risk = min(risk, 0.99 * cfg.campaign_threshold)
    if by_content:
        flagged = [
            int(i)
            for i in members
            if ev.intent_share[i] >= cfg.content_member_min_intent and intra[i] >= cfg.content_member_min_link
        ]
    else:
        # A member without evidence of its own is flagged on strong links into the campaign: its
        # infrastructure links, and its template links to members with evidence of their own.
        # Template links between members without evidence do not count: a few ordinary accounts that
        # send a popular prompt template link to each other, and one bridge can put them all in a
        # community.
        core = ev.risk >= cfg.member_min_risk
        pu, pv = pairs.u[eidx], pairs.v[eidx]
        template_w = w_all[eidx] - w_infra
        into = infra_w.copy()
        np.add.at(into, pu, template_w * core[pv])
        np.add.at(into, pv, template_w * core[pu])
        flagged = [int(i) for i in members if core[i] or into[i] >= cfg.member_min_link]
    evidence = campaign_evidence(agg, ev, members, frac, intent, template, n_req, narrow)
    kind = "content" if by_content else "coordination"
    return CampaignFinding([int(i) for i in members], risk, evidence, flagged, kind, frac, infra)


def campaign_evidence(
    agg: AccountAggregates,
    ev: AccountEvidence,
    members: npt.NDArray[np.int64],
    frac: dict[str, float],
    intent: float,
    template: float,
    n_req: float,
    narrow: float = 0.0,
) -> list[str]:
    m = len(members)
    out: list[str] = []
    if intent > 0:
        intents = Counter(CLASSES[int(agg.top_intent[i])] for i in members if agg.intent_n[i] > 0)
        top = ", ".join(INTENT_LABELS.get(k, k) for k, _ in intents.most_common(2))
        out.append(f"{_pct(intent)} of their {int(n_req):,} requests show a distillation intent ({top})")
    tops = Counter(int(agg.top_skel[i]) for i in members)
    _, top_n = tops.most_common(1)[0]
    out.append(
        f"{_pct(template)} of their requests fill one of each account's top templates or its variations; "
        f"{top_n:,} of {m:,} accounts share the same top template"
    )
    pays = Counter(agg.payment_fp[i] for i in members if agg.payment_fp and agg.payment_fp[i])
    shared = {k: v for k, v in pays.items() if v >= 2}
    if shared:
        out.append(f"{sum(shared.values()):,} accounts share {len(shared):,} payment fingerprints")
    if frac["lockstep"] > 0:
        out.append(
            f"{_pct(frac['lockstep'])} of accounts send the same template to the same model in the same "
            f"5-minute windows as another member (lockstep)"
        )
    if frac["net24_day"] > 0:
        out.append(
            f"{_pct(frac['net24_day'])} of accounts share a /24 network with another member on the same day"
        )
    pivots = Counter(agg.pivot_model[i] for i in members if ev.pivot[i] >= 0.3 and agg.pivot_model[i])
    if pivots:
        model, k = pivots.most_common(1)[0]
        sel = [i for i in members if agg.pivot_model[i] == model and ev.pivot[i] >= 0.3]
        share = float(np.mean([ev.pivot[i] for i in sel]))
        delay = float(np.median([agg.pivot_delay_h[i] for i in sel]))
        out.append(
            f"{k:,} accounts moved to {model} after its release (median {delay:.0f} h; "
            f"{_pct(share)} of their traffic in the next 48 h)"
        )
    if narrow >= 0.6:
        out.append(
            f"their {int(agg.topic_n[members].sum()):,} prompts are about one narrow topic, across "
            f"accounts (topic concentration {narrow:.2f} on a 0-1 scale)"
        )
    if frac["intent_family"] > 0:
        out.append(
            f"{_pct(frac['intent_family'])} of accounts word their distillation requests in the same "
            f"template families as another member (paraphrases of one instruction set)"
        )
    if frac["system"] > 0:
        out.append(f"{_pct(frac['system'])} of accounts share a system prompt with another member")
    if frac["client"] > 0:
        out.append(f"{_pct(frac['client'])} of accounts share a client fingerprint with another member")
    rot = float(np.median(ev.rotation[members]))
    if rot >= 0.2:
        out.append(f"median account changes /24 network on {_pct(rot)} of requests (rotating proxies)")
    return out
