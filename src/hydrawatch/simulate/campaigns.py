"""Distillation campaigns with the disclosed tactics, each a switch of ``CampaignSpec``.

Accounts are laid out in *slots*; with ``replacement`` each slot is a chain of accounts, the next
one starting as the previous stops (banned and replaced). With ``lockstep`` the slots are grouped
in cohorts that fire together in shared waves (load balancing over many accounts).
"""

from __future__ import annotations

import bisect
import math
import random
from collections.abc import Iterator
from itertools import accumulate
from typing import Any

from hydrawatch.simulate import clients, ipspace
from hydrawatch.simulate.accounts import (
    CONSUMER_DOMAINS,
    EDU_DOMAINS,
    Account,
    account_id,
    api_key_id,
    email_for,
    payment_fingerprint,
)
from hydrawatch.simulate.elicitation import STYLES, phrasebook, unrelated
from hydrawatch.simulate.exchange import Client, Emitter, Item, thinking_params
from hydrawatch.simulate.models import NEW_MODEL, new_model_share, pick
from hydrawatch.simulate.pacing import draw_pace
from hydrawatch.simulate.seeding import derive_seed
from hydrawatch.simulate.spec import CampaignSpec
from hydrawatch.simulate.timing import DAY, HOUR, poisson_stream, quota_times, tz_of
from hydrawatch.simulate.world import Actor, World

WAVE_PARTICIPATION = 0.92
STEALTH_ACTIVE = (0.6, 0.9)  # share of days a stealth account is active
STEALTH_PER_ACTIVE_DAY = (12.0, 32.0)  # bounds of its mean exchanges on an active day
STARTUP_DOMAINS = ("labs-ai.io", "quantforge.ai", "deepmetric.dev", "sparkml.co", "tensorly.app")


class _Plan:
    """Campaign-wide choices shared by its accounts (clients, params, proxy pool, window)."""

    def __init__(self, world: World, spec: CampaignSpec, n: int):
        self.spec = spec
        rng = world.rng("campaign", spec.campaign_id)
        self.start = world.start + spec.start_day * DAY
        self.end = world.end if spec.days is None else min(world.end, self.start + spec.days * DAY)
        self.chain = spec.chain if spec.replacement else 1
        self.slots = max(1, math.ceil(n / self.chain))
        self.life = (self.end - self.start) / self.chain
        if spec.proxies == "datacenter":
            self.pool = ipspace.ip_pool(rng, "cloud", rng.randint(1, 3))
        else:
            self.pool = ipspace.ip_pool(rng, "residential", max(50, int(n * spec.proxy_pool_per_account)))
        kinds = ("sdk",)
        self.clients = [clients.pick_client(rng, kinds) for _ in range(2)]
        if spec.population == "scraper":
            ua = rng.choice(("python-requests/2.32.3", "curl/8.5.0", "python-httpx/0.28.1"))
            self.clients = [(ua, clients.fingerprint(ua, "linux-x86_64"))]
        self.params = _distill_params(rng, spec)
        self.operator_tz = rng.choice((8.0, 8.0, 3.0, -5.0))
        names = [s for s, _ in spec.styles]
        self.styles = names
        self.cum = list(accumulate(w for _, w in spec.styles))
        self.countries = ipspace.countries("residential")

    def window(self, rng: random.Random, gen: int) -> tuple[float, float]:
        a = self.start + gen * self.life
        b = self.end if gen == self.chain - 1 else a + self.life
        if gen > 0:
            a += rng.uniform(0, 2 * HOUR)  # the replacement starts shortly after the ban
        elif not self.spec.lockstep:
            a += rng.uniform(0, min(self.life * 0.1, DAY))
        return a, b


def _distill_params(rng: random.Random, spec: CampaignSpec) -> dict[str, Any]:
    p: dict[str, Any] = {
        "max_tokens": rng.choice((8192, 16000, 32000)),
        "temperature": rng.choice((0.6, 0.7, 1.0)),
    }
    if rng.random() < 0.5:
        p["top_p"] = 0.95
    if spec.logprobs:
        p["logprobs"] = True
        p["top_logprobs"] = rng.choice((5, 10, 20))
    return p


def campaign_actors(world: World, spec: CampaignSpec, n: int) -> Iterator[Actor]:
    plan = _Plan(world, spec, n)
    for idx in range(n):
        slot, gen = idx % plan.slots, idx // plan.slots
        rng = world.rng("campaign", spec.campaign_id, idx)
        a, b = plan.window(rng, gen)
        acct = _account(rng, world, plan, idx, slot, a)
        yield Actor(acct, spec.population, spec.campaign_id, _events(rng, world, plan, acct, slot, a, b))


def _account(
    rng: random.Random, world: World, plan: _Plan, idx: int, slot: int, active_from: float
) -> Account:
    spec = plan.spec
    if spec.stealth:
        path = spec.signup_paths[int(rng.random() * len(spec.signup_paths))]
        created = active_from - rng.uniform(7, 150) * DAY
        country = plan.countries[int(rng.random() * len(plan.countries))]
    else:
        path = spec.signup_paths[(slot // max(1, spec.cohort_size)) % len(spec.signup_paths)]
        cohort_created = world.rng("created", spec.campaign_id, slot // max(1, spec.cohort_size)).uniform(
            0.2, 3
        )
        created = active_from - (cohort_created + rng.uniform(0, 0.1)) * DAY
        country = rng.choice(("US", "SG", "GB", "CA", "JP", "DE", "AU"))
    if path in ("education", "research"):
        domain = EDU_DOMAINS[int(rng.random() * len(EDU_DOMAINS))]
    elif path == "startup":
        domain = STARTUP_DOMAINS[int(rng.random() * len(STARTUP_DOMAINS))]
    else:
        domain = CONSUMER_DOMAINS[int(rng.random() * len(CONSUMER_DOMAINS))]
    pay = (
        payment_fingerprint(world.seed, spec.campaign_id, "group", idx // spec.payment_group)
        if spec.payment_group > 1
        else payment_fingerprint(world.seed, spec.campaign_id, idx)
    )
    return Account(
        account_id=account_id(world.seed, spec.campaign_id, idx),
        created_at=created,
        email=email_for(rng, domain),
        payment_fingerprint=pay,
        country=country,
        signup_path=path,
        verified=rng.random() < (0.6 if spec.stealth else 0.1),
    )


def _times(
    rng: random.Random, world: World, plan: _Plan, acct: Account, slot: int, a: float, b: float
) -> Iterator[float]:
    """Request times of one account over ``[a, b)`` at its pace (see ``pacing``)."""
    spec = plan.spec
    window_days = max((b - a) / DAY, 1e-3)
    if spec.lockstep:
        # every generation of a cohort shares one wave schedule (and so one pace) over its own window
        cohort = slot // max(1, spec.cohort_size)
        gen = min(plan.chain - 1, int((a - plan.start) / plan.life + 1e-9))
        crng = world.rng("cohort", spec.campaign_id, cohort, gen)
        pace = draw_pace(spec, crng, plan.life / DAY)
        mean_gap = DAY / (pace.per_day / WAVE_PARTICIPATION)
        w = plan.start + gen * plan.life + crng.uniform(0, 6 * HOUR if gen == 0 else 2.5 * HOUR)
        last = a
        while w < b:
            if w >= a and rng.random() < WAVE_PARTICIPATION:
                last = max(w + rng.uniform(0.0, 4.0), last + 0.001)
                if last >= b:
                    return
                yield last
            w += crng.expovariate(1.0 / mean_gap)
        return
    pace = draw_pace(spec, rng, window_days)
    if spec.stealth:
        # a keen human: active on most days, not all, in diurnal sessions; the same lifetime pace
        active = rng.uniform(STEALTH_ACTIVE[0], STEALTH_ACTIVE[1])
        per_active_day = min(STEALTH_PER_ACTIVE_DAY[1], max(STEALTH_PER_ACTIVE_DAY[0], pace.per_day / active))
        yield from quota_times(
            rng, a, b, tz_of(acct.country), per_active_day, active, gap_s=rng.uniform(25, 60)
        )
        return
    amp = 0.0 if spec.population == "scraper" else 0.35
    yield from poisson_stream(rng, a, b, pace.per_day, amp=amp, tz=plan.operator_tz)


def _events(
    rng: random.Random, world: World, plan: _Plan, acct: Account, slot: int, a: float, b: float
) -> Iterator[Item]:
    spec = plan.spec
    scraper = spec.population == "scraper"
    em = Emitter(acct.account_id, rng, world.responses, error_rate=0.05 if scraper else 0.006)
    if spec.stealth:
        ua, fp = clients.pick_client(rng, ("sdk", "sdk", "browser"))
        params = _distill_params(rng, spec)
        params["max_tokens"] = rng.choice((4096, 8192, 16000))
    else:
        ua, fp = plan.clients[slot % len(plan.clients)]
        params = dict(plan.params)
    client = Client(ua, fp, api_key_id(world.seed, acct.account_id, 0))
    effort = "high"
    thinking_params(params, ua, effort)
    pool = plan.pool
    sticky_ip, sticky_until = "", 0.0
    mix = "scraper" if scraper else "distill"
    pivot_s = spec.pivot_hours * HOUR
    book = phrasebook(derive_seed(world.seed, spec.campaign_id), spec.stealth)
    for ts in _times(rng, world, plan, acct, slot, a, b):
        if spec.unrelated > 0 and rng.random() < spec.unrelated:
            req = unrelated(rng, book)
        else:
            style = plan.styles[bisect.bisect_left(plan.cum, rng.random() * plan.cum[-1])]
            req = STYLES[style](rng, book)
        if spec.pivot > 0 and rng.random() < new_model_share(ts, world.release_ts, spec.pivot, pivot_s):
            model = NEW_MODEL
        else:
            model = pick(rng, mix)
        if spec.proxies == "sticky":
            if ts > sticky_until:
                # a residential exit in the account's claimed country, kept for hours, like a home line
                sticky_ip = ipspace.random_ip(rng, "residential", acct.country)
                sticky_until = ts + rng.uniform(6, 30) * HOUR
            ip = sticky_ip
        else:
            ip = pool[int(rng.random() * len(pool))]
        yield em.emit(
            ts,
            model=model,
            messages=[{"role": "user", "content": req.user}],
            system=req.system,
            client=client,
            ip=ip,
            params=params,
            out_median=req.out_median,
            elicited=req.elicited,
            response_style=req.response_style,
        )
