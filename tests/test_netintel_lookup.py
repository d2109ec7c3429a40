"""Offline IP intelligence: ASN lookup and network kinds."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from hydrawatch.netintel import NETWORK_KINDS, asn_org, lookup_asns, network_kind, network_kinds, parse_ipv4


def test_known_networks() -> None:
    asns = lookup_asns(parse_ipv4(["8.8.8.8", "1.1.1.1"]))
    assert asns.tolist() == [15169, 13335]
    assert "Google" in asn_org(15169)
    assert network_kind("8.8.8.8") == "hosting"
    assert network_kind("10.1.2.3") == "private"
    assert network_kind("185.220.101.1") == "tor"


def test_garbage_is_unknown_not_an_error() -> None:
    ints = parse_ipv4(["x", None, "1.2.3", "300.1.1.1", "::1", ""])
    assert (ints == -1).all()
    assert (lookup_asns(ints) == 0).all()
    assert network_kinds(["nonsense", None]) == ["unknown", "unknown"]


@settings(deadline=None)
@given(st.lists(st.ip_addresses(v=4).map(str), max_size=50))
def test_vectorised_lookup_is_total(ips: list[str]) -> None:
    ints = parse_ipv4(ips)
    assert (ints >= 0).all()
    asns = lookup_asns(ints)
    assert asns.shape == (len(ips),) and asns.dtype == np.int64
    assert all(k in NETWORK_KINDS for k in network_kinds(ips))


@settings(deadline=None)
@given(st.text(max_size=40))
def test_parse_never_raises(text: str) -> None:
    assert parse_ipv4([text]).shape == (1,)
