"""The run-wide context every generator shares, and the actor (account + its event stream)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass

from hydrawatch.simulate.accounts import Account
from hydrawatch.simulate.exchange import Item
from hydrawatch.simulate.seeding import rng_for


@dataclass(frozen=True, slots=True)
class World:
    seed: int
    start: float
    end: float
    release_ts: float | None  # when the new model ships (None: not in this scenario)
    responses: bool

    def rng(self, *parts: object) -> random.Random:
        return rng_for(self.seed, *parts)


@dataclass(slots=True)
class Actor:
    account: Account
    population: str
    campaign_id: str | None
    events: Iterator[Item]
