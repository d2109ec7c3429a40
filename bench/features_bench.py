"""Per-text cost of the request text features (``features.request.describe_texts``).

    .venv/bin/python bench/features_bench.py --n 5000 --scale 10
    .venv/bin/python bench/features_bench.py --n 5000 --source campaign
    .venv/bin/python bench/features_bench.py --n 0 --parallel 200000 --workers 1,2

Texts are distinct prompts built from the simulator's shipped corpus (real human prompts):
``corpus`` joins two corpus prompts around a number (the coordinator's profiling input);
``campaign`` draws the simulator's campaign styles (chain-of-thought, trace, rubric, censor,
analyst) and their unrelated traffic. A bench script may use the simulator; the features
code never does.

For N texts and then for ``scale`` x N new texts (the caches are warm from the first set only,
so cost should grow linearly), it prints CPU µs per text for each stage and in total, and the
same figure for two baselines measured in the same run on the same texts: ``len(text.split())``
and a plain ``re.sub(r"\\s+", " ", text)``. Peak RSS is the process's. ``--parallel M`` times
``hunt.enrich.build_prompt_features`` on M distinct prompts in DuckDB with each ``--workers``
count (wall clock: the workers are processes).
"""

from __future__ import annotations

import argparse
import random
import re
import resource
import time

_SPACES = re.compile(r"\s+")


def corpus_texts(n: int, seed: int) -> list[str]:
    from hydrawatch.simulate.corpus import prompts

    ps = [p.text for p in prompts()]
    rng = random.Random(seed)
    return [f"{rng.choice(ps)} {i} {rng.choice(ps)[:100]}" for i in range(n)]


def campaign_texts(n: int, seed: int) -> list[str]:
    from hydrawatch.simulate import elicitation as el

    rng = random.Random(seed)
    books = [el.phrasebook(seed, False), el.phrasebook(seed + 1, True)]
    styles = list(el.STYLES.values())
    out: list[str] = []
    while len(out) < n:
        req = rng.choice(styles)(rng, rng.choice(books))
        out.append(req.user)
    return out


def cpu_us(fn: object, texts: list[str]) -> float:
    t = time.process_time()
    fn(texts)  # type: ignore[operator]
    return (time.process_time() - t) / max(len(texts), 1) * 1e6


def run_size(texts: list[str]) -> dict[str, float]:
    from hydrawatch.features.request import describe_texts

    stages: dict[str, float] = {}
    t = time.process_time()
    describe_texts(texts, stage_times=stages)
    total = (time.process_time() - t) / len(texts) * 1e6
    out = {k: v / len(texts) * 1e6 for k, v in stages.items()}
    out["total"] = total
    out["baseline_split"] = cpu_us(lambda ts: [len(x.split()) for x in ts], texts)
    out["baseline_resub"] = cpu_us(lambda ts: [_SPACES.sub(" ", x) for x in ts], texts)
    return out


def _tag(i: int) -> str:
    """A letters-only word unique to ``i`` (digits would be collapsed by the canonical text)."""
    out = ""
    while True:
        i, r = divmod(i, 26)
        out += chr(ord("a") + r)
        if not i:
            return out


def parallel(m: int, workers: list[int], source: str) -> None:
    import duckdb
    import pyarrow as pa

    from hydrawatch.hunt.enrich import build_prompt_features

    texts = (corpus_texts if source == "corpus" else campaign_texts)(m, 99)
    # make every prompt distinct after digit collapsing, so the hunt describes all of them
    texts = [f"{t} ref {_tag(i)}" for i, t in enumerate(texts)]
    for w in workers:
        con = duckdb.connect()
        con.register("_t", pa.table({"prompt": texts}))
        con.execute("CREATE TABLE events AS SELECT * FROM _t")
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu, t = time.process_time(), time.perf_counter()
        n = build_prompt_features(con, "events", workers=w)
        wall, cpu = time.perf_counter() - t, time.process_time() - cpu
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        child = after.ru_utime + after.ru_stime - children.ru_utime - children.ru_stime
        print(
            f"build_prompt_features workers={w}: {n} distinct texts, {wall:.1f} s wall "
            f"({wall / n * 1e6:.0f} µs/text), CPU: this process {cpu:.1f} s, worker processes {child:.1f} s"
        )
        con.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=5000, help="texts in the first set (0: skip)")
    ap.add_argument("--scale", type=int, default=10, help="the second set has scale x N texts (0: skip)")
    ap.add_argument("--source", choices=("corpus", "campaign"), default="corpus")
    ap.add_argument(
        "--parallel", type=int, default=0, help="distinct prompts for the build_prompt_features run"
    )
    ap.add_argument("--workers", default="1,2")
    ap.add_argument(
        "--raw",
        action="store_true",
        help="describe the raw prompts (as the hunt does) rather than their canonical texts "
        "(digits collapsed, clipped: the coordinator's profiling input)",
    )
    args = ap.parse_args()
    source = corpus_texts if args.source == "corpus" else campaign_texts

    def make(n: int, seed: int) -> list[str]:
        from hydrawatch.features.request import canonical_text

        texts = source(n, seed)
        return texts if args.raw else [canonical_text(t) for t in texts]

    from hydrawatch.features.request import describe_texts

    t = time.process_time()
    describe_texts(make(200, 7))  # model, tokenizer, RE2 sets
    print(f"start-up (model load, first 200 texts): {time.process_time() - t:.2f} s CPU")
    sizes = [s for s in (args.n, args.n * args.scale) if s > 0]
    cols = ("canonical", "tokens", "intent", "cues", "skeleton", "skeleton_hash", "family", "total")
    if sizes:
        kind = "raw prompts" if args.raw else "canonical texts"
        print(f"source={args.source} ({kind}); CPU µs per text (process_time, one process)")
        print(
            f"{'texts':>8} "
            + " ".join(f"{c:>13}" for c in cols)
            + f" {'split()':>8} {'re.sub':>8} {'x split':>8} {'x re.sub':>8}"
        )
    for i, n in enumerate(sizes):
        r = run_size(make(n, 1 + i))
        print(
            f"{n:>8} "
            + " ".join(f"{r.get(c, 0.0):>13.1f}" for c in cols)
            + f" {r['baseline_split']:>8.2f} {r['baseline_resub']:>8.2f}"
            + f" {r['total'] / r['baseline_split']:>8.0f} {r['total'] / r['baseline_resub']:>8.1f}"
        )
    print(f"peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    if args.parallel:
        parallel(args.parallel, [int(w) for w in args.workers.split(",") if w], args.source)


if __name__ == "__main__":
    main()
