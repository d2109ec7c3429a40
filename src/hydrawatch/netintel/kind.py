"""Network kind of an address: tor, vpn, hosting, residential, private or unknown.

Per-IP labels from ``iporigin`` (providers' published ranges) win; otherwise the
ASN organisation name decides by keywords (best effort, the names are free text).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

import iporigin

from hydrawatch.netintel.asn import asn_org, lookup_asns, parse_ipv4

NETWORK_KINDS: tuple[str, ...] = ("residential", "hosting", "vpn", "tor", "private", "unknown")

_VPN_ORG = re.compile(
    r"\b(vpn|mullvad|proton|nordvpn|expressvpn|surfshark|private internet access|"
    r"m247|datacamp|cyberghost|windscribe|ipvanish|packethub)\b",
    re.I,
)
_HOSTING_ORG = re.compile(
    r"(hosting|host\b|cloud|data ?cent(er|re)|datacenter|server|colo|vps|amazon|aws|google|microsoft|"
    r"azure|digitalocean|ovh|hetzner|linode|akamai|vultr|contabo|leaseweb|scaleway|oracle|alibaba|"
    r"tencent|choopa|cloudflare|fastly|rackspace|upcloud|gcore|cdn\b)",
    re.I,
)
_ISP_ORG = re.compile(
    r"(telecom|telekom|broadband|cable|mobile|wireless|communications|comcast|verizon|at&t|charter|"
    r"isp\b|internet service|net\b|telefonica|vodafone|orange|tele|dsl|fiber|fibre|online|networks?)",
    re.I,
)

_IPORIGIN_KIND = {
    "tor": "tor",
    "vpn": "vpn",
    "hosting": "hosting",
    "cdn": "hosting",
    "bot": "hosting",
    "reserved": "private",
}


def _org_kind(org: str) -> str:
    if not org:
        return "unknown"
    if _VPN_ORG.search(org):
        return "vpn"
    if _HOSTING_ORG.search(org):
        return "hosting"
    if _ISP_ORG.search(org):
        return "residential"
    return "unknown"


@lru_cache(maxsize=1 << 18)
def network_kind(ip: str) -> str:
    """Kind of one address (``unknown`` for garbage)."""
    try:
        origin = iporigin.classify(ip)  # type: ignore[no-untyped-call]
    except ValueError:
        return "unknown"
    k = _IPORIGIN_KIND.get(origin.kind)
    if k is not None:
        return k
    ints = parse_ipv4([ip])
    if ints[0] < 0:
        return "unknown"
    return _org_kind(asn_org(int(lookup_asns(ints)[0])))


def network_kinds(ips: Sequence[str | None]) -> list[str]:
    """Kinds of many addresses (cached per address)."""
    return [network_kind(ip) if ip else "unknown" for ip in ips]
