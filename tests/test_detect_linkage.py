"""Linkage through shared keys: bounded pairs, rarity weights, communities."""

from __future__ import annotations

import duckdb
import numpy as np
import pyarrow as pa

from hydrawatch.detect.linkage import FULL_PAIRS_MAX, KEY_TYPES, RING, communities, pairs_from_keys


def _pairs(rows: list[tuple[int, int, int]]):  # type: ignore[no-untyped-def]
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


def test_small_key_links_all_pairs_and_big_key_is_bounded() -> None:
    pay = KEY_TYPES.index("payment")
    net = KEY_TYPES.index("net24_day")
    rows = [(pay, 1, i) for i in range(4)]  # 4 accounts share a card: 6 pairs
    big = 500
    rows += [(net, 2, 100 + i) for i in range(big)]  # a campus NAT: ring pairs only
    p = _pairs(rows)
    card = p.strength[:, pay] > 0
    assert card.sum() == 6
    nat = p.strength[:, net] > 0
    assert nat.sum() <= big * RING and big > FULL_PAIRS_MAX
    # a key shared by 500 accounts weighs far less per pair than one shared by 4
    assert p.strength[nat, net].max() < p.strength[card, pay].min()


def test_communities_split_unlinked_groups() -> None:
    pay = KEY_TYPES.index("payment")
    rows = [(pay, 1, i) for i in range(5)] + [(pay, 2, 10 + i) for i in range(5)]
    p = _pairs(rows)
    membership, keep = communities(20, p, min_weight=0.5)
    assert keep.all()
    assert len(set(membership[:5].tolist())) == 1
    assert len(set(membership[10:15].tolist())) == 1
    assert membership[0] != membership[10]
    # accounts without links are singletons
    assert len(set(membership[5:10].tolist())) == 5
    assert np.all(p.u < p.v)
