"""Copy an exchange log with a share of garbage records inserted, for the hunt's bad-input bar.

    .venv/bin/python bench/garbage_log.py IN.jsonl OUT.jsonl [--rate 0.01] [--seed 1]

After each good line, with probability ``--rate``, one bad line of a random kind: broken JSON,
non-UTF-8 bytes, wrong types (account_id a number, ts a word, messages a string), a JSON array
instead of an object, or a huge line (9 MB, over the default 8 MB line limit). Prints how many of
each kind were written, so the hunt's summary can be checked against it
(``hydrawatch hunt OUT.jsonl --json r.json`` must finish and report exactly that many bad records).
"""

from __future__ import annotations

import argparse
import random
from collections import Counter
from pathlib import Path

HUGE = b'{"ts": 1780000000, "account_id": "huge", "prompt": "' + b"x" * (9 << 20) + b'"}'
KINDS: dict[str, bytes] = {
    "broken json": b'{"ts": 1780000000, "account_id": "acct_x", "messages": [{"role": "user"',
    "non-utf8": b'{"ts": 1780000000, "account_id": "acct_\xff\xfe", "prompt": "hi"}',
    "account_id not a string": b'{"ts": 1780000000, "account_id": 12345, "prompt": "hi"}',
    "ts not a time": b'{"ts": "yesterday", "account_id": "acct_y", "prompt": "hi"}',
    "messages not a list": b'{"ts": 1780000000, "account_id": "acct_z", "messages": "hello"}',
    "not an object": b"[1, 2, 3]",
    "huge line": HUGE,
}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("src", type=Path)
    ap.add_argument("dst", type=Path)
    ap.add_argument("--rate", type=float, default=0.01)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    names = list(KINDS)
    written: Counter[str] = Counter()
    good = 0
    with args.src.open("rb") as src, args.dst.open("wb") as dst:
        for line in src:
            dst.write(line if line.endswith(b"\n") else line + b"\n")
            good += 1
            if rng.random() < args.rate:
                kind = names[int(rng.random() * len(names))]
                if kind == "huge line" and written[kind] >= 20:  # keep the file size sane
                    kind = "broken json"
                dst.write(KINDS[kind] + b"\n")
                written[kind] += 1
    print(f"{good:,} good lines, {sum(written.values()):,} bad lines written to {args.dst}")
    for k, v in sorted(written.items()):
        print(f"  {k}: {v:,}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
