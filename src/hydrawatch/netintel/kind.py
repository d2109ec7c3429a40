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


@lru_cache(maxsize=1 << 16)
def _asn_kind(asn: int) -> str:
    """Kind of an ASN by its organisation name (one regex pass per distinct ASN)."""
    return _org_kind(asn_org(asn))


def _origin_kind(ip: str) -> str | None:
    """``iporigin``'s per-address label as a network kind; "" for garbage, None when it has none."""
    try:
        origin = iporigin.classify(ip)  # type: ignore[no-untyped-call]
    except ValueError:
        return ""
    return _IPORIGIN_KIND.get(origin.kind)


def network_kinds(ips: Sequence[str | None]) -> list[str]:
    """Kinds of many addresses: per-address labels first, then the ASN organisation, with the
    addresses parsed and looked up as one vector and the organisation rules run once per ASN."""
    asns = lookup_asns(parse_ipv4(ips)).tolist()
    out: list[str] = []
    for ip, asn in zip(ips, asns, strict=True):
        k = _origin_kind(ip) if ip else ""
        if k is None:
            k = _asn_kind(asn) if asn else "unknown"
        out.append(k or "unknown")
    return out


@lru_cache(maxsize=1 << 18)
def network_kind(ip: str) -> str:
    """Kind of one address (``unknown`` for garbage)."""
    return network_kinds([ip])[0]
