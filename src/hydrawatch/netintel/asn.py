"""Vectorised IPv4 -> ASN lookup over the shipped range table (numpy searchsorted)."""

from __future__ import annotations

import gzip
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

import numpy as np
import numpy.typing as npt

DATA = Path(__file__).parent / "data"


@lru_cache(maxsize=1)
def _ranges() -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.uint32]]:
    with np.load(DATA / "asn_ranges.npz") as z:
        return z["starts"].astype(np.uint32), z["asns"].astype(np.uint32)


@lru_cache(maxsize=1)
def _orgs() -> dict[int, str]:
    out: dict[int, str] = {}
    with gzip.open(DATA / "asn_orgs.tsv.gz", "rt", encoding="utf-8") as f:
        for line in f:
            a, _, name = line.rstrip("\n").partition("\t")
            out[int(a)] = name
    return out


def parse_ipv4(ips: Iterable[str | None]) -> npt.NDArray[np.int64]:
    """IPv4 dotted quads as integers; -1 for anything else (IPv6, garbage, None)."""
    out: list[int] = []
    for ip in ips:
        v = -1
        if ip:
            parts = ip.strip().split(".")
            if len(parts) == 4 and all(p.isdigit() and len(p) <= 3 for p in parts):
                a, b, c, d = (int(p) for p in parts)
                if a < 256 and b < 256 and c < 256 and d < 256:
                    v = (a << 24) | (b << 16) | (c << 8) | d
        out.append(v)
    return np.asarray(out, dtype=np.int64)


def lookup_asns(ip_ints: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """ASN of each address (0 when unknown or not IPv4)."""
    starts, asns = _ranges()
    ip_ints = np.asarray(ip_ints, dtype=np.int64)
    idx = np.searchsorted(starts.astype(np.int64), ip_ints, side="right") - 1
    res = asns[np.clip(idx, 0, len(asns) - 1)].astype(np.int64)
    res[(ip_ints < 0) | (idx < 0)] = 0
    return res


def asn_org(asn: int) -> str:
    """Organisation name of an ASN ('' when unknown)."""
    return _orgs().get(int(asn), "")
