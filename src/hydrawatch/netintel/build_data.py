"""Rebuild ``netintel/data`` from the npm package ``@ip-location-db/asn``.

Usage (maintainers only; the shipped data is already built)::

    npm pack @ip-location-db/asn && tar xzf ip-location-db-asn-*.tgz
    python -m hydrawatch.netintel.build_data package/asn-ipv4-num.csv

Writes ``asn_ranges.npz`` (range starts and ASNs, adjacent ranges of one ASN
merged, gaps as ASN 0) and ``asn_orgs.tsv.gz`` (ASN, organisation name).
"""

from __future__ import annotations

import csv
import gzip
import sys
from pathlib import Path

import numpy as np

DATA = Path(__file__).parent / "data"


def build(csv_path: Path, out: Path = DATA) -> tuple[int, int]:
    starts: list[int] = []
    asns: list[int] = []
    orgs: dict[int, str] = {}
    prev_end = -1
    with csv_path.open(newline="", encoding="utf-8") as f:
        for row in csv.reader(f):
            if len(row) < 3:
                continue
            s, e, a = int(row[0]), int(row[1]), int(row[2])
            if len(row) > 3 and row[3]:
                orgs.setdefault(a, row[3].replace("\t", " ").replace("\n", " "))
            if s > prev_end + 1:  # gap
                starts.append(prev_end + 1)
                asns.append(0)
            if asns and asns[-1] == a and s == prev_end + 1:
                prev_end = max(prev_end, e)
                continue
            starts.append(s)
            asns.append(a)
            prev_end = max(prev_end, e)
    if prev_end < 2**32 - 1:
        starts.append(prev_end + 1)
        asns.append(0)
    out.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        out / "asn_ranges.npz",
        starts=np.asarray(starts, dtype=np.uint32),
        asns=np.asarray(asns, dtype=np.uint32),
    )
    with gzip.open(out / "asn_orgs.tsv.gz", "wt", encoding="utf-8") as g:
        for a in sorted(orgs):
            g.write(f"{a}\t{orgs[a]}\n")
    return len(starts), len(orgs)


if __name__ == "__main__":
    print(build(Path(sys.argv[1])))
