"""Offline network intelligence: IPv4 -> ASN, organisation and network kind.

Data: ``@ip-location-db/asn`` (CC BY 4.0, see ``data/README.md``; best effort, the
upstream data has known errors) and the ``iporigin`` package for per-IP hosting,
VPN and Tor labels. Everything loads lazily on first use.
"""

from hydrawatch.netintel.asn import asn_org, lookup_asns, parse_ipv4
from hydrawatch.netintel.kind import NETWORK_KINDS, network_kind, network_kinds

__all__ = ["NETWORK_KINDS", "asn_org", "lookup_asns", "network_kind", "network_kinds", "parse_ipv4"]
