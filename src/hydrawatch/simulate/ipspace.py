"""Real IPv4 ranges (trimmed from @ip-location-db/asn, CC BY 4.0) grouped by kind:
``residential`` ISPs, ``cloud`` hosting, ``vpn`` providers, one ``campus`` /24, one ``office`` /24."""

from __future__ import annotations

import csv
import gzip
import io
import ipaddress
import random
from dataclasses import dataclass
from functools import cache

from hydrawatch.simulate.corpus import DATA_DIR


@dataclass(frozen=True, slots=True)
class IpRange:
    kind: str
    country: str
    start: int
    size: int
    asn: int
    org: str


def int_to_ip(i: int) -> str:
    return f"{i >> 24}.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}"


@cache
def all_ranges() -> tuple[IpRange, ...]:
    with gzip.open(DATA_DIR / "ip_ranges.csv.gz", "rb") as fh:
        text = fh.read().decode()
    out = []
    for row in csv.DictReader(io.StringIO(text)):
        a = int(ipaddress.IPv4Address(row["start"]))
        b = int(ipaddress.IPv4Address(row["end"]))
        out.append(IpRange(row["kind"], row["country"], a, b - a + 1, int(row["asn"]), row["org"]))
    return tuple(out)


@cache
def ranges(kind: str, country: str | None = None) -> tuple[IpRange, ...]:
    sel = tuple(r for r in all_ranges() if r.kind == kind and (country is None or r.country == country))
    if not sel and country is not None:
        return ranges(kind)
    if not sel:
        raise ValueError(f"no IP ranges of kind {kind!r}")
    return sel


@cache
def countries(kind: str) -> tuple[str, ...]:
    return tuple(sorted({r.country for r in ranges(kind)}))


def random_ip(rng: random.Random, kind: str, country: str | None = None) -> str:
    rs = ranges(kind, country)
    r = rs[int(rng.random() * len(rs))]
    return int_to_ip(r.start + 1 + rng.randrange(max(1, r.size - 2)))


def ip_pool(rng: random.Random, kind: str, n: int, country: str | None = None) -> tuple[str, ...]:
    """``n`` addresses of one kind, e.g. a proxy network's exit nodes or a VPN's exit servers."""
    return tuple(random_ip(rng, kind, country) for _ in range(n))


def subnet_hosts(kind: str, n: int, offset: int = 10) -> tuple[str, ...]:
    """``n`` addresses of the single ``campus`` or ``office`` /24 (NAT egress addresses)."""
    r = ranges(kind)[0]
    return tuple(int_to_ip(r.start + offset + i) for i in range(min(n, 240)))
