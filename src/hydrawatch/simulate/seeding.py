"""Deterministic random streams: every account and cohort gets its own ``random.Random``
seeded from the run seed and a name, so output does not depend on generation order."""

from __future__ import annotations

import hashlib
import math
import random
import statistics


def derive_seed(seed: int, *parts: object) -> int:
    key = repr((seed, *parts)).encode()
    return int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "big")


def rng_for(seed: int, *parts: object) -> random.Random:
    return random.Random(derive_seed(seed, *parts))


def short_hash(*parts: object, n: int = 12) -> str:
    return hashlib.blake2b(repr(parts).encode(), digest_size=16).hexdigest()[:n]


# Standard normal quantiles at 4096 equally spaced probabilities: a table lookup is a fast,
# deterministic normal draw for the millions of per-event samples.
Z: tuple[float, ...] = tuple(statistics.NormalDist().inv_cdf((i + 0.5) / 4096) for i in range(4096))


def normal(rng: random.Random) -> float:
    return Z[int(rng.random() * 4096)]


def lognormal_around(rng: random.Random, median: float, sigma: float) -> float:
    """A log-normal draw with the given median (sigma is the shape in log space)."""
    return median * math.exp(sigma * Z[int(rng.random() * 4096)])


def poisson(rng: random.Random, lam: float) -> int:
    """Poisson draw (Knuth for small means, normal approximation for large ones)."""
    if lam <= 0:
        return 0
    if lam > 30:
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1
