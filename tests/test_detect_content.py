"""The content pass: accounts linked only by the wording of their distillation requests.

Hand-made aggregates and key tables (not the simulator): a paraphrasing hydra that shares no
infrastructure, a heavy account that touches every wording, and legitimate accounts whose
prompts trip the intent classifier now and then.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pyarrow as pa

from hydrawatch.detect.aggregates import AccountAggregates
from hydrawatch.detect.campaign import DetectConfig
from hydrawatch.detect.detector import detect
from hydrawatch.detect.linkage import CONTENT_TYPES, KEY_TYPES, Pairs, pairs_from_keys

IFAM = KEY_TYPES.index("intent_family")
FAMILY = KEY_TYPES.index("family")
PAY = KEY_TYPES.index("payment")


def _pairs(rows: list[tuple[int, int, int]]) -> Pairs:
    con = duckdb.connect()
    t, k, a = zip(*rows, strict=True)
    con.register(
        "_k",
        pa.table(
            {"ktype": pa.array(t, pa.int8()), "key": pa.array(k, pa.int64()), "acc": pa.array(a, pa.int32())}
        ),
    )
    con.execute("CREATE TEMP TABLE link_keys AS SELECT * FROM _k")
    return pairs_from_keys(con)


def _agg(n: list[int], intent: list[int], fams: list[int]) -> AccountAggregates:
    k = len(n)
    return AccountAggregates.from_columns(
        {
            "account_id": [f"a{i:03d}" for i in range(k)],
            "n": n,
            "intent_n": intent,
            "intent_fams": fams,
            "top_intent": [1 if x else 0 for x in intent],
            "top_intent_n": intent,
            "multi_turn_n": [0] * k,
            "n_net24": [2] * k,
            "hour_entropy": [2.5] * k,
            "top3_skel_n": [max(1, x // 10) for x in n],
            "top_fam_n": [max(1, x // 10) for x in n],
            "topic_n": [0] * k,
        }
    )


def _hydra_keys(members: range, pool: int, per_account: int, seed: int = 0) -> list[tuple[int, int, int]]:
    """Each member words its distillation requests in ``per_account`` families out of a shared pool."""
    rng = np.random.default_rng(seed)
    rows = []
    for a in members:
        for f in rng.choice(pool, size=per_account, replace=False).tolist():
            rows.append((IFAM, 1000 + f, a))
    return rows


def test_heavy_account_is_weakly_linked_under_cosine_weights() -> None:
    # accounts 0-2 hold 3 wordings each, all shared; account 3 holds those 3 among 300 of its own
    rows = [(IFAM, f, a) for a in range(3) for f in range(3)]
    rows += [(IFAM, f, 3) for f in range(300)]
    p = _pairs(rows)
    s = p.strength[:, IFAM]
    hub = (p.u == 3) | (p.v == 3)
    assert hub.any() and (~hub).any()
    # sharing all 3 of 3 wordings is a cosine of 1; sharing 3 of 300 is 0.1
    assert np.allclose(s[~hub], 1.0)
    assert s[hub].max() <= 0.11


def test_paraphrasing_hydra_found_by_content_alone() -> None:
    hydra = range(0, 20)
    legit = range(20, 30)
    n = [150] * 20 + [120] * 10
    intent = [45] * 20 + [4] * 10  # 30% vs 3%
    fams = [30] * 20 + [3] * 10
    rows = _hydra_keys(hydra, pool=60, per_account=30)
    # legitimate accounts whose few odd prompts happen to share a wording with the hydra
    rows += [(IFAM, 1000 + (a % 5), a) for a in legit] + [(IFAM, 5000 + a, a) for a in legit]
    agg = _agg(n, intent, fams)
    det = detect(agg, _pairs(rows))
    flagged = set(np.nonzero(det.flagged)[0].tolist())
    assert flagged == set(hydra)
    assert len({int(det.campaign_of[i]) for i in hydra}) == 1
    camp = det.campaigns[int(det.campaign_of[0])]
    assert camp.kind == "content"
    assert any("same template families" in e for e in camp.evidence)


def test_content_pass_needs_paraphrase_and_own_intent() -> None:
    # the same wording graph, but the accounts repeat one or two wordings (a templated job that
    # trips the classifier) or show almost no distillation intent: nothing is flagged
    rows = _hydra_keys(range(20), pool=60, per_account=30)
    few_wordings = _agg([150] * 20, [45] * 20, [2] * 20)
    assert not detect(few_wordings, _pairs(rows)).flagged.any()
    little_intent = _agg([150] * 20, [5] * 20, [30] * 20)
    assert not detect(little_intent, _pairs(rows)).flagged.any()
    cfg = DetectConfig(content_min_families=2)
    assert detect(few_wordings, _pairs(rows), cfg).flagged.sum() == 20


def test_wording_only_community_is_decided_by_the_content_pass() -> None:
    # three hydra members also share one template family (a coordination key, but wording only);
    # they must end up in the hydra's campaign, not in a campaign of their own
    rows = _hydra_keys(range(20), pool=60, per_account=30)
    rows += [(FAMILY, 77, a) for a in (0, 1, 2)]
    agg = _agg([150] * 20, [45] * 20, [30] * 20)
    det = detect(agg, _pairs(rows))
    assert det.flagged.sum() == 20
    assert len({int(det.campaign_of[i]) for i in range(20)}) == 1
    # with a shared card as well, the three form a coordination campaign of their own
    rows += [(PAY, 88, a) for a in (0, 1, 2)]
    det = detect(agg, _pairs(rows))
    assert det.flagged.sum() == 20
    assert int(det.campaign_of[0]) != int(det.campaign_of[10])


def test_content_types_are_not_used_for_coordination() -> None:
    assert set(CONTENT_TYPES) <= set(KEY_TYPES)
    rows = _hydra_keys(range(20), pool=60, per_account=30)
    p = _pairs(rows)
    coord = p.subset(tuple(k for k in KEY_TYPES if k not in CONTENT_TYPES))
    assert len(coord.u) == 0
    assert len(p.subset(CONTENT_TYPES).u) == len(p.u)


def test_member_tied_by_wording_alone_goes_to_the_content_campaign() -> None:
    # accounts 20-24: a coordinated group (one card, lockstep timing) that repeats two wordings;
    # hydra member 0 shares a template family with account 20 and nothing else with the group
    lock = KEY_TYPES.index("lockstep")
    group = range(20, 25)
    rows = _hydra_keys(range(20), pool=60, per_account=30)
    rows += [(PAY, 99, a) for a in group] + [(lock, 500 + t, a) for a in group for t in range(10)]
    rows += [(FAMILY, 77, 0), (FAMILY, 77, 20)]
    agg = _agg([150] * 25, [45] * 25, [30] * 20 + [2] * 5)
    det = detect(agg, _pairs(rows))
    assert det.flagged.sum() == 25
    hydra_c = {int(det.campaign_of[i]) for i in range(20)}
    assert len(hydra_c) == 1
    assert hydra_c.isdisjoint({int(det.campaign_of[i]) for i in group})
