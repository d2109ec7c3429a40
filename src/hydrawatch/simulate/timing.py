"""When people and machines send requests: diurnal human sessions, Poisson streams, bursts."""

from __future__ import annotations

import bisect
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import accumulate

from hydrawatch.simulate.seeding import lognormal_around, poisson

DAY = 86400.0
HOUR = 3600.0

# Relative activity by local hour for people (office-ish day with an evening bump).
HUMAN_HOURS: tuple[float, ...] = (
    0.25,
    0.12,
    0.06,
    0.04,
    0.04,
    0.08,
    0.2,
    0.45,
    0.8,
    1.0,
    1.05,
    1.0,
    0.85,
    0.95,
    1.0,
    1.0,
    0.95,
    0.8,
    0.65,
    0.7,
    0.75,
    0.7,
    0.55,
    0.4,
)
STUDENT_HOURS: tuple[float, ...] = (
    0.5,
    0.35,
    0.2,
    0.08,
    0.04,
    0.04,
    0.06,
    0.15,
    0.35,
    0.6,
    0.8,
    0.85,
    0.8,
    0.9,
    0.95,
    0.95,
    0.9,
    0.8,
    0.75,
    0.85,
    1.0,
    1.0,
    0.9,
    0.7,
)
WORK_HOURS: tuple[float, ...] = (
    0.02,
    0.01,
    0.01,
    0.01,
    0.01,
    0.03,
    0.08,
    0.3,
    0.8,
    1.0,
    1.0,
    0.95,
    0.6,
    0.9,
    1.0,
    1.0,
    0.9,
    0.7,
    0.35,
    0.2,
    0.15,
    0.12,
    0.08,
    0.04,
)
PROFILES = {"human": HUMAN_HOURS, "student": STUDENT_HOURS, "work": WORK_HOURS}
_CUM = {k: tuple(accumulate(v)) for k, v in PROFILES.items()}

# Standard UTC offsets (hours) by country; good enough for diurnal shapes.
TZ: dict[str, float] = {
    "US": -6,
    "CA": -5,
    "MX": -6,
    "BR": -3,
    "AR": -3,
    "GB": 0,
    "IE": 0,
    "FR": 1,
    "DE": 1,
    "ES": 1,
    "IT": 1,
    "NL": 1,
    "BE": 1,
    "CH": 1,
    "AT": 1,
    "SE": 1,
    "NO": 1,
    "PL": 1,
    "HU": 1,
    "UA": 2,
    "TR": 3,
    "RU": 3,
    "SA": 3,
    "KE": 3,
    "AE": 4,
    "PK": 5,
    "IN": 5.5,
    "VN": 7,
    "TH": 7,
    "CN": 8,
    "SG": 8,
    "HK": 8,
    "PH": 8,
    "KR": 9,
    "JP": 9,
    "AU": 10,
    "PA": -5,
}


def tz_of(country: str) -> float:
    return TZ.get(country, 0.0)


def local_hour(rng: random.Random, profile: str = "human") -> float:
    """A local hour of day (fractional) drawn from an activity profile."""
    cum = _CUM[profile]
    h = bisect.bisect_left(cum, rng.random() * cum[-1])
    return min(h, 23) + rng.random()


def is_weekend(ts: float, tz: float) -> bool:
    # 1970-01-01 was a Thursday; weekday 0 = Monday
    return int((ts + tz * HOUR) // DAY + 3) % 7 >= 5


def session_starts(
    rng: random.Random, day_start: float, tz: float, n: int, profile: str = "human"
) -> list[float]:
    """``n`` session start times (UTC epoch) on the local day beginning at UTC ``day_start``."""
    return sorted(day_start + (local_hour(rng, profile) - tz) * HOUR for _ in range(n))


def poisson_stream(
    rng: random.Random, start: float, end: float, per_day: float, amp: float = 0.0, tz: float = 0.0
) -> Iterator[float]:
    """Event times of a Poisson process at ``per_day`` events/day, modulated by a daily cosine
    (``amp`` in [0, 1), peak at 14:00 local) via thinning."""
    if per_day <= 0 or end <= start:
        return
    peak = per_day / DAY * (1.0 + amp)
    t = start
    while True:
        t += rng.expovariate(peak)
        if t >= end:
            return
        if amp > 0:
            phase = 2 * math.pi * (((t / HOUR + tz) % 24.0) - 14.0) / 24.0
            if rng.random() * (1.0 + amp) > 1.0 + amp * math.cos(phase):
                continue
        yield t


@dataclass(frozen=True, slots=True)
class Habit:
    """How a person uses the API: sessions per active day, turns per session, think time."""

    profile: str = "human"
    active_prob: float = 0.6
    weekend: float = 0.6
    sessions: float = 2.0
    turns: float = 3.0
    gap_s: float = 70.0
    multi_turn: bool = True
    steady: bool = False  # session lengths close to ``turns`` (a worker keeping a quota)


def human_times(
    rng: random.Random, start: float, end: float, tz: float, h: Habit
) -> Iterator[tuple[float, int]]:
    """(ts, turn index within session) of one person's requests, in time order."""
    day = math.floor((start + tz * HOUR) / DAY) * DAY - tz * HOUR
    last = start
    while day < end:
        p = h.active_prob * (h.weekend if is_weekend(day + 12 * HOUR, tz) else 1.0)
        if rng.random() < p:
            n = 1 + poisson(rng, max(0.0, h.sessions - 1.0))
            for s in session_starts(rng, day, tz, n, h.profile):
                t = max(s, last + 60.0)
                if h.steady:
                    turns = max(1, round(h.turns * (0.5 + rng.random())))
                else:
                    turns = 1 + min(60, int(rng.expovariate(1.0 / max(h.turns - 1.0, 0.01))))
                for k in range(turns):
                    if t >= end:
                        return
                    if t >= start:
                        yield t, k
                    t += 5.0 + lognormal_around(rng, h.gap_s, 0.8)
                last = t
        day += DAY


def quota_times(
    rng: random.Random,
    start: float,
    end: float,
    tz: float,
    per_active_day: float,
    active_prob: float,
    profile: str = "human",
    gap_s: float = 40.0,
) -> Iterator[float]:
    """About ``per_active_day`` requests (+-40%) on each active local day (a share ``active_prob``
    of the days) of ``[start, end)``, in human-looking sessions: a worker keeping a quota while
    looking like a keen person."""
    first = math.floor((start + tz * HOUR) / DAY) * DAY - tz * HOUR
    days = [first + d * DAY for d in range(int((end - first) // DAY) + 1)]
    active = [d for d in days if rng.random() < active_prob] or days[:1]
    last = start
    for day in active:
        n = max(1, round(per_active_day * (0.6 + 0.8 * rng.random())))
        k = max(1, round(n / (8 + 12 * rng.random())))
        for j, s in enumerate(session_starts(rng, day, tz, k, profile)):
            t = max(s, last + 60.0)
            for _ in range(n // k + (1 if j < n % k else 0)):
                if t >= end:
                    return
                if t >= start:
                    yield t
                t += 5.0 + lognormal_around(rng, gap_s, 0.8)
            last = t
