"""Per-account evidence: how much an account's own traffic looks like harvesting.

Every component is a plain share or count computed from ``AccountAggregates``;
the account risk is a logistic combination of them, and every component that
contributes gets a reason with its numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from hydrawatch.detect.aggregates import AccountAggregates
from hydrawatch.features.intent import CLASSES, INTENT_LABELS

F = npt.NDArray[np.float64]

# Logistic weights over the components (tuned on seeds 1-2 of mixed, hydra-lockstep, legit-only).
BIAS = -6.0
W_INTENT = 16.0  # share of requests with a distillation intent (shrunk towards 0 for small accounts)
INTENT_PRIOR = 10.0  # pseudo-requests without intent added before taking the share
W_NARROW = 2.5  # topic concentration: all prompts about one narrow thing
MIN_TOPIC_PROMPTS = 10
W_FLAT = 2.0  # traffic spread evenly over the 24 clock hours (automation, not a person's day)
FLAT_FROM_BITS = 3.0  # hour-of-day entropy where flatness starts; log2(24) = 4.58 is perfectly flat
MIN_FLAT_REQUESTS = 50
W_TEMPLATE = 1.5  # share of requests filling the account's top-3 skeletons
W_ROTATION = 1.5  # distinct /24 networks per request
W_SINGLE_TURN = 1.0  # share of requests that start a new conversation
W_PIVOT = 1.0  # share moved to a newly released model within 24 h
MIN_REQUESTS = 5


@dataclass
class AccountEvidence:
    intent_share: F
    template_share: F
    rotation: F
    single_turn: F
    pivot: F
    anonymizer_share: F
    narrow: F
    flat: F
    risk: F  # the account's own risk in [0, 1]

    def __len__(self) -> int:
        return len(self.risk)


def _safe_div(a: npt.ArrayLike, b: npt.ArrayLike) -> F:
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    out: F = np.divide(a, b, out=np.zeros_like(a), where=b > 0)
    return out


def account_evidence(agg: AccountAggregates) -> AccountEvidence:
    n = agg.n.astype(np.float64)
    intent = _safe_div(agg.intent_n, n + INTENT_PRIOR)
    narrow = np.where(agg.topic_n >= MIN_TOPIC_PROMPTS, np.nan_to_num(agg.topic_conc), 0.0)
    flat = np.clip((np.nan_to_num(agg.hour_entropy) - FLAT_FROM_BITS) / (np.log2(24) - FLAT_FROM_BITS), 0, 1)
    flat = np.where(agg.n >= MIN_FLAT_REQUESTS, flat, 0.0)
    template = np.maximum(_safe_div(agg.top3_skel_n, n), _safe_div(agg.top_fam_n, n))
    rotation = np.clip(_safe_div(agg.n_net24 - 1, n - 1), 0, 1)
    single = 1.0 - _safe_div(agg.multi_turn_n, n)
    pivot = np.where((agg.pivot_delay_h <= 24) & np.isfinite(agg.pivot_delay_h), agg.pivot_share, 0.0)
    anon = _safe_div(agg.vpn_n + agg.tor_n + agg.hosting_n, n)
    z = (
        BIAS
        + W_INTENT * intent
        + W_TEMPLATE * template
        + W_ROTATION * rotation
        + W_SINGLE_TURN * single
        + W_PIVOT * pivot
        + W_NARROW * narrow
        + W_FLAT * flat
    )
    risk = 1.0 / (1.0 + np.exp(-z))
    # Too little traffic to judge an account alone: shrink towards the prior.
    confidence = np.clip(n / MIN_REQUESTS, 0, 1)
    risk = risk * confidence
    return AccountEvidence(intent, template, rotation, single, np.nan_to_num(pivot), anon, narrow, flat, risk)


def account_reasons(agg: AccountAggregates, ev: AccountEvidence, i: int) -> list[str]:
    """Reasons a reviewer can check, strongest first, with numbers."""
    out: list[tuple[float, str]] = []
    n = int(agg.n[i])
    if agg.intent_n[i] > 0:
        label = INTENT_LABELS.get(CLASSES[int(agg.top_intent[i])], "distillation intent")
        out.append(
            (
                W_INTENT * ev.intent_share[i],
                f"{int(agg.intent_n[i]):,} of {n:,} requests ({agg.intent_n[i] / max(n, 1):.0%}) show a "
                f"distillation intent "
                f"(mostly {label}: {int(agg.top_intent_n[i]):,})",
            )
        )
    if ev.template_share[i] >= 0.3 and n >= MIN_REQUESTS:
        out.append(
            (
                W_TEMPLATE * ev.template_share[i],
                f"{ev.template_share[i]:.0%} of requests fill one prompt template or its variations "
                f"({int(agg.n_skel[i]):,} distinct templates in all)",
            )
        )
    if ev.rotation[i] >= 0.2 and n >= MIN_REQUESTS:
        out.append(
            (
                W_ROTATION * ev.rotation[i],
                f"requests came from {int(agg.n_net24[i]):,} different /24 networks in {int(agg.n_asn[i]):,} ASNs "  # noqa: E501
                f"({int(agg.n_ips[i]):,} IPs for {n:,} requests: rotating addresses)",
            )
        )
    if ev.pivot[i] >= 0.3 and agg.pivot_model[i]:
        out.append(
            (
                W_PIVOT * ev.pivot[i],
                f"moved {ev.pivot[i]:.0%} of its traffic to {agg.pivot_model[i]} within "
                f"{agg.pivot_delay_h[i]:.0f} h of its first appearance",
            )
        )
    if ev.narrow[i] >= 0.6:
        out.append(
            (
                W_NARROW * ev.narrow[i],
                f"its {int(agg.topic_n[i]):,} prompts are about one narrow topic "
                f"(topic concentration {ev.narrow[i]:.2f} on a 0-1 scale)",
            )
        )
    if ev.flat[i] >= 0.5:
        out.append(
            (
                W_FLAT * ev.flat[i],
                f"active around the clock: hour-of-day entropy {agg.hour_entropy[i]:.2f} bits "
                f"(4.58 = perfectly even over 24 h), traffic in {int(agg.active_hours[i])} of 24 clock hours",
            )
        )
    if ev.single_turn[i] >= 0.95 and n >= 20:
        out.append((0.1, f"{ev.single_turn[i]:.0%} of requests are single-turn (no follow-up conversation)"))
    if ev.anonymizer_share[i] >= 0.5:
        out.append(
            (
                0.05,
                f"{ev.anonymizer_share[i]:.0%} of requests came through hosting, VPN or Tor networks",
            )
        )
    out.sort(key=lambda t: -t[0])
    return [s for _, s in out]
