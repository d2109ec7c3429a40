"""The client's IP address, believing forwarding headers only from trusted proxies.

Walk the hop chain from the nearest hop outwards: the TCP peer first, then the
``Forwarded`` (RFC 7239) ``for=`` entries, or ``X-Forwarded-For`` when there is no
``Forwarded`` header, right to left. Every hop we reach through a trusted proxy is
believed; the first untrusted hop is the client. A malformed entry stops the walk at
the last address we could trust.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Iterable, Sequence

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@functools.lru_cache(maxsize=4096)  # every request parses its peer; ipaddress objects are immutable
def parse_ip(text: str) -> IPAddress | None:
    """An address from a header entry: ``1.2.3.4``, ``1.2.3.4:80``, ``[::1]:80``, ``"[::1]"``."""
    s = text.strip().strip('"').strip()
    if s.startswith("["):
        end = s.find("]")
        if end == -1:
            return None
        s = s[1:end]
    elif s.count(":") == 1:  # IPv4 with port
        s = s.split(":", 1)[0]
    try:
        addr = ipaddress.ip_address(s)
    except ValueError:
        return None
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return addr.ipv4_mapped
    return addr


def forwarded_for(values: Iterable[str]) -> list[str]:
    """The ``for=`` values of ``Forwarded`` headers, nearest-client first (raw text)."""
    out: list[str] = []
    for header in values:
        for element in header.split(","):
            found = ""
            for pair in element.split(";"):
                name, sep, value = pair.partition("=")
                if sep and name.strip().lower() == "for":
                    found = value
            out.append(found)
    return out


def x_forwarded_for(values: Iterable[str]) -> list[str]:
    return [part for header in values for part in header.split(",")]


class ClientIpResolver:
    def __init__(self, trusted_cidrs: Sequence[str] = ()) -> None:
        self._nets: tuple[IPNetwork, ...] = tuple(
            ipaddress.ip_network(c, strict=False) for c in trusted_cidrs
        )

    def trusted(self, addr: IPAddress) -> bool:
        return any(addr.version == n.version and addr in n for n in self._nets)

    def resolve(self, peer: str | None, forwarded: Sequence[str], xff: Sequence[str]) -> str | None:
        """Client IP given the peer address and the raw header values (all occurrences)."""
        if peer is None:
            return None
        current = parse_ip(peer)
        if current is None:
            return peer
        if not self._nets or not self.trusted(current):
            return str(current)
        hops = forwarded_for(forwarded) if forwarded else x_forwarded_for(xff)
        for raw in reversed(hops):
            hop = parse_ip(raw)
            if hop is None:
                break
            current = hop
            if not self.trusted(current):
                break
        return str(current)
