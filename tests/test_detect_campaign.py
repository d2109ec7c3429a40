"""Campaign scoring: who in a linked community is flagged, and the topic its members share.

Hand-made aggregates and key tables (not the simulator).
"""

from __future__ import annotations

import numpy as np

from hydrawatch.detect.aggregates import AccountAggregates
from hydrawatch.detect.campaign import shared_topic
from hydrawatch.detect.detector import detect
from hydrawatch.detect.linkage import KEY_TYPES
from hydrawatch.features.intent import TOPIC_DIMS
from test_detect_content import _agg, _pairs

PAY = KEY_TYPES.index("payment")
NET = KEY_TYPES.index("net24_day")
TEMPLATE = KEY_TYPES.index("template")
FAMILY = KEY_TYPES.index("family")


def _topics(means: np.ndarray, counts: list[int]) -> AccountAggregates:
    k = len(counts)
    return AccountAggregates.from_columns(
        {
            "account_id": [f"a{i}" for i in range(k)],
            "n": counts,
            "topic_n": counts,
            "topic_mean": means.tolist(),
        }
    )


def _unit(rng: np.random.Generator, k: int) -> np.ndarray:
    v = rng.standard_normal((k, TOPIC_DIMS))
    out: np.ndarray = v / np.linalg.norm(v, axis=1, keepdims=True)
    return out


def test_shared_topic_across_accounts() -> None:
    rng = np.random.default_rng(7)
    members = np.arange(6)
    one = _unit(rng, 1)[0]
    # six accounts, three prompts each, all about one thing (each mean a little off the topic)
    same = np.array([0.9 * one + 0.1 * u for u in _unit(rng, 6)])
    assert shared_topic(_topics(same, [3] * 6), members) >= 0.8
    # six accounts, each single-minded about its own thing: nothing shared across them
    own = _unit(rng, 6)
    assert shared_topic(_topics(own, [3] * 6), members) <= 0.45
    # one heavy account on one topic and five unrelated ones do not make a shared topic
    mixed = np.vstack([one, _unit(rng, 5)])
    assert shared_topic(_topics(mixed, [40, 1, 1, 1, 1, 1]), members) <= 0.45
    # too few prompts between them to say anything
    assert shared_topic(_topics(same, [1] * 6), members) == 0.0


def test_ordinary_accounts_bridged_in_by_a_popular_template_are_not_flagged() -> None:
    # accounts 0-5: a campaign (one card, shared proxy networks, a distillation intent of their own);
    # accounts 6-9: ordinary users that send the same popular template as each other, one of them
    # also a template that campaign member 5 sends: one bridge into the campaign's community
    core, ordinary = range(6), range(6, 10)
    rows = [(PAY, 1, a) for a in core] + [(NET, 10 + d, a) for a in core for d in range(3)]
    rows += [(TEMPLATE, 20, a) for a in ordinary] + [(FAMILY, 21, a) for a in ordinary]
    rows += [(TEMPLATE, 30, 5), (TEMPLATE, 30, 6), (FAMILY, 31, 5), (FAMILY, 31, 6)]
    agg = _agg([60] * 6 + [30] * 4, [25] * 6 + [0] * 4, [1] * 10)
    det = detect(agg, _pairs(rows))
    assert set(np.nonzero(det.flagged)[0].tolist()) == set(core)
    camp = det.campaigns[int(det.campaign_of[0])]
    # the ordinary accounts were in the campaign's community, linked to each other strongly enough
    # (template + family) that counting those links would have flagged them
    assert set(ordinary) <= set(camp.members)
    # with a card shared with the campaign, the same accounts are flagged on that link
    rows += [(PAY, 1, a) for a in ordinary]
    det = detect(agg, _pairs(rows))
    assert set(np.nonzero(det.flagged)[0].tolist()) == set(core) | set(ordinary)
