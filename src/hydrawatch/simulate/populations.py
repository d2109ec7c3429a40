"""Legitimate populations, including the hard cases that get real users wrongly banned.

Each kind is a builder ``(world, spec, n) -> Iterator[Actor]``; register new ones in ``KINDS``.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from typing import Any

from hydrawatch.simulate import clients, conversation, corpus, ipspace
from hydrawatch.simulate.accounts import (
    CONSUMER_DOMAINS,
    Account,
    account_id,
    api_key_id,
    email_for,
    payment_fingerprint,
)
from hydrawatch.simulate.exchange import Client, Emitter, Item, thinking_params
from hydrawatch.simulate.models import NEW_MODEL, is_reasoning, pick
from hydrawatch.simulate.seeding import lognormal_around
from hydrawatch.simulate.spec import PopulationSpec
from hydrawatch.simulate.timing import DAY, HOUR, Habit, human_times, poisson_stream, tz_of
from hydrawatch.simulate.world import Actor, World

Builder = Callable[[World, PopulationSpec, int], Iterator[Actor]]
IpFn = Callable[[random.Random, float], str]


def home_ip(country: str) -> IpFn:
    """A residential address that changes now and then, and a phone's address in some sessions."""
    state: dict[str, Any] = {"ip": None, "until": 0.0}

    def ip(rng: random.Random, ts: float) -> str:
        if state["ip"] is None or ts > state["until"]:
            state["ip"] = ipspace.random_ip(rng, "residential", country)
            state["until"] = ts + rng.uniform(2, 20) * DAY
        if rng.random() < 0.08:
            return ipspace.random_ip(rng, "residential", country)
        return str(state["ip"])

    return ip


def pool_ip(pool: tuple[str, ...], sticky_s: float) -> IpFn:
    """An address from a shared pool (NAT egress, VPN exits), kept for ``sticky_s`` seconds."""
    state: dict[str, Any] = {"ip": None, "until": 0.0}

    def ip(rng: random.Random, ts: float) -> str:
        if state["ip"] is None or ts > state["until"]:
            state["ip"] = pool[int(rng.random() * len(pool))]
            state["until"] = ts + sticky_s
        return str(state["ip"])

    return ip


def _window(messages: list[dict[str, str]], keep: int) -> list[dict[str, str]]:
    """The conversation as logged: the opening user message and the last ``keep`` messages."""
    if len(messages) <= keep + 1:
        return messages
    return [messages[0], *messages[-keep:]]


def _adoption(rng: random.Random, world: World, share: float) -> float | None:
    if world.release_ts is None or rng.random() >= share:
        return None
    return world.release_ts + rng.expovariate(1.0 / (2.5 * DAY))


def _model(rng: random.Random, mix: str, adopt_ts: float | None, ts: float) -> str:
    if adopt_ts is not None and ts >= adopt_ts and rng.random() < 0.6:
        return NEW_MODEL
    return pick(rng, mix)


def _legit_account(rng: random.Random, world: World, kind: str, i: int, country: str, **kw: Any) -> Account:
    domain = kw.pop("domain", None) or CONSUMER_DOMAINS[int(rng.random() * len(CONSUMER_DOMAINS))]
    return Account(
        account_id=account_id(world.seed, kind, i),
        created_at=_created(rng, world, kw.pop("new_share", 0.0)),
        email=email_for(rng, domain),
        payment_fingerprint=kw.pop("payment", payment_fingerprint(world.seed, kind, i)),
        country=country,
        signup_path=kw.pop("signup_path", "standard"),
        verified=kw.pop("verified", rng.random() < 0.7),
        organization=kw.pop("organization", None),
    )


def _created(rng: random.Random, world: World, new_share: float) -> float:
    """Sign-up time: most accounts are months old, ``new_share`` sign up just before or during the window."""
    if rng.random() < new_share:
        return world.start + rng.uniform(-2.0, 0.8 * (world.end - world.start) / DAY) * DAY
    return world.start - rng.uniform(5, 700) * DAY


def _country(rng: random.Random) -> str:
    cs = (
        "US",
        "US",
        "US",
        "GB",
        "DE",
        "FR",
        "IN",
        "BR",
        "CA",
        "JP",
        "KR",
        "ES",
        "IT",
        "NL",
        "AU",
        "MX",
        "PL",
        "SE",
        "CN",
        "VN",
        "TR",
        "PH",
    )
    return cs[int(rng.random() * len(cs))]


# ---- behaviours: one person's stream of requests ------------------------------------------------


def chat_events(
    rng: random.Random, world: World, acct: Account, habit: Habit, ip: IpFn, client: Client, mix: str = "chat"
) -> Iterator[Item]:
    em = Emitter(acct.account_id, rng, world.responses)
    adopt = _adoption(rng, world, 0.25)
    pools = ("chat", "chat", "writing", "questions", "roleplay", "faq_questions")
    tz = tz_of(acct.country)
    messages: list[dict[str, str]] = []
    model = pick(rng, mix)
    temp = rng.choice((None, 0.7, 1.0))
    for ts, k in human_times(rng, max(world.start, acct.created_at), world.end, tz, habit):
        if k == 0 or not habit.multi_turn:
            texts = corpus.pool(pools[int(rng.random() * len(pools))])
            messages = [{"role": "user", "content": texts[int(rng.random() * len(texts))]}]
            model = _model(rng, mix, adopt, ts)
        else:
            messages = [
                *_window(messages, 8),
                {"role": "assistant", "content": corpus.response_text(rng, rng.randint(150, 700))},
                {
                    "role": "user",
                    "content": conversation.FOLLOW_UPS[int(rng.random() * len(conversation.FOLLOW_UPS))],
                },
            ]
        params: dict[str, Any] = {"stream": True}
        if temp is not None:
            params["temperature"] = temp
        if is_reasoning(model) and rng.random() < 0.3:
            thinking_params(params, client.user_agent, "medium")
        yield em.emit(
            ts,
            model=model,
            messages=list(messages),
            client=client,
            ip=ip(rng, ts),
            params=params,
            out_median=320,
        )


def developer_events(
    rng: random.Random, world: World, acct: Account, habit: Habit, ip: IpFn, client: Client
) -> Iterator[Item]:
    em = Emitter(acct.account_id, rng, world.responses)
    adopt = _adoption(rng, world, 0.45)
    pools = ("code", "faq_questions", "writing_short", "questions", "chat")
    tz = tz_of(acct.country)
    system = rng.choice(
        (None, "You are a helpful assistant.", "You are a concise senior engineer. Answer with code first.")
    )
    temp = rng.choice((0.0, 0.2, 0.7, 1.0, None))
    max_tokens = rng.choice((256, 512, 1024, 2048, 4096, None))
    messages: list[dict[str, str]] = []
    model = pick(rng, "developer")
    for ts, k in human_times(rng, max(world.start, acct.created_at), world.end, tz, habit):
        if k == 0 or not habit.multi_turn or rng.random() < 0.5:
            texts = corpus.pool(pools[int(rng.random() * len(pools))])
            messages = [{"role": "user", "content": texts[int(rng.random() * len(texts))]}]
            if k == 0:
                model = _model(rng, "developer", adopt, ts)
        else:
            messages = [
                *_window(messages, 6),
                {"role": "assistant", "content": corpus.response_text(rng, rng.randint(200, 900))},
                {
                    "role": "user",
                    "content": conversation.FOLLOW_UPS[int(rng.random() * len(conversation.FOLLOW_UPS))],
                },
            ]
        params: dict[str, Any] = {}
        if temp is not None:
            params["temperature"] = temp
        if max_tokens is not None:
            params["max_tokens"] = max_tokens
        if rng.random() < 0.2:
            params["stream"] = True
        if is_reasoning(model) and rng.random() < 0.5:
            thinking_params(params, client.user_agent, rng.choice(("low", "medium", "high")))
        yield em.emit(
            ts,
            model=model,
            messages=list(messages),
            system=system,
            client=client,
            ip=ip(rng, ts),
            params=params,
            out_median=420,
        )


def _client(rng: random.Random, world: World, acct: Account, kinds: tuple[str, ...]) -> Client:
    ua, fp = clients.pick_client(rng, kinds)
    return Client(ua, fp, api_key_id(world.seed, acct.account_id, 0))


# ---- population builders --------------------------------------------------------------------------


def chat_users(world: World, spec: PopulationSpec, n: int) -> Iterator[Actor]:
    for i in range(n):
        rng = world.rng(spec.population, i)
        acct = _legit_account(rng, world, spec.population, i, _country(rng), new_share=0.1)
        habit = Habit(
            active_prob=rng.uniform(0.25, 0.8), sessions=rng.uniform(1, 3), turns=rng.uniform(1.5, 5)
        )
        client = _client(rng, world, acct, ("browser", "browser", "sdk"))
        yield Actor(
            acct, spec.population, None, chat_events(rng, world, acct, habit, home_ip(acct.country), client)
        )


def developers(world: World, spec: PopulationSpec, n: int) -> Iterator[Actor]:
    for i in range(n):
        rng = world.rng(spec.population, i)
        acct = _legit_account(
            rng,
            world,
            spec.population,
            i,
            _country(rng),
            signup_path=rng.choice(("standard", "standard", "startup")),
            new_share=0.1,
        )
        habit = Habit(
            profile="work",
            active_prob=rng.uniform(0.5, 0.9),
            weekend=0.25,
            sessions=rng.uniform(2, 4),
            turns=rng.uniform(2, 6),
            gap_s=45.0,
        )
        client = _client(rng, world, acct, ("sdk",))
        yield Actor(
            acct,
            spec.population,
            None,
            developer_events(rng, world, acct, habit, home_ip(acct.country), client),
        )


def b2b_integrators(world: World, spec: PopulationSpec, n: int) -> Iterator[Actor]:
    """High volume from one account: datacenter IPs, a fixed system prompt, templated user content,
    around the clock; some integrations tell the model to reason step by step."""
    per_day = float(spec.options.get("per_day", 2500))
    for i in range(n):
        rng = world.rng(spec.population, i)
        integ = conversation.INTEGRATIONS[(i + rng.randrange(2)) % len(conversation.INTEGRATIONS)]
        acct = _legit_account(
            rng,
            world,
            spec.population,
            i,
            rng.choice(("US", "DE", "GB", "SG", "FR")),
            signup_path="enterprise",
            verified=True,
            domain=f"{integ.name.split('-')[0]}{rng.randrange(10, 99)}-corp.com",
            organization=f"org_{integ.name}_{i}",
        )
        yield Actor(
            acct, spec.population, None, _b2b_events(rng, world, acct, integ, per_day * rng.uniform(0.5, 1.5))
        )


def _b2b_events(
    rng: random.Random, world: World, acct: Account, integ: conversation.Integration, per_day: float
) -> Iterator[Item]:
    em = Emitter(acct.account_id, rng, world.responses, error_rate=0.01)
    ips = ipspace.ip_pool(rng, "cloud", rng.randint(2, 6))
    ua = rng.choice(
        ("OpenAI/Python 1.68.2", "OpenAI/JS 4.77.0", "Go-http-client/2.0", "Java-http-client/21.0.4")
    )
    keys = [
        Client(ua, clients.fingerprint(ua, "linux-x86_64"), api_key_id(world.seed, acct.account_id, k))
        for k in range(rng.randint(1, 3))
    ]
    model = pick(rng, "b2b")
    lang = rng.choice(conversation.LANGS)
    params: dict[str, Any] = {"temperature": integ.temperature, "max_tokens": integ.max_tokens}
    for ts in poisson_stream(rng, world.start, world.end, per_day, amp=0.6, tz=tz_of(acct.country)):
        system, user = conversation.fill_integration(rng, integ, lang)
        yield em.emit(
            ts,
            model=model,
            messages=[{"role": "user", "content": user}],
            system=system,
            client=keys[int(rng.random() * len(keys))],
            ip=ips[int(rng.random() * len(ips))],
            params=params,
            out_median=integ.out_median,
            out_sigma=0.4,
        )


def researchers(world: World, spec: PopulationSpec, n: int) -> Iterator[Actor]:
    """Eval accounts: benchmark prompts with "think step by step", in bursts at fixed concurrency."""
    for i in range(n):
        rng = world.rng(spec.population, i)
        acct = _legit_account(
            rng,
            world,
            spec.population,
            i,
            rng.choice(("US", "GB", "DE", "CN", "CH", "CA")),
            signup_path="research",
            domain=rng.choice(
                ("stanford.edu", "ethz.ch", "mila.quebec", "cs.cmu.edu", "ox.ac.uk", "tsinghua.edu.cn")
            ),
        )
        yield Actor(acct, spec.population, None, _research_events(rng, world, acct, spec.options))


def _research_events(rng: random.Random, world: World, acct: Account, opts: dict[str, Any]) -> Iterator[Item]:
    em = Emitter(acct.account_id, rng, world.responses, error_rate=0.02)
    ua = rng.choice(
        ("OpenAI/Python 1.99.1", "AsyncOpenAI/Python 1.82.0", "litellm/1.74.0", "Anthropic/Python 0.64.0")
    )
    client = Client(ua, clients.fingerprint(ua, "linux-x86_64"), api_key_id(world.seed, acct.account_id, 0))
    ips = ipspace.ip_pool(rng, "cloud", 2) if rng.random() < 0.6 else ipspace.subnet_hosts("campus", 2, 200)
    burst_prob = float(opts.get("burst_prob", 0.3))
    tz = tz_of(acct.country)
    day = world.start
    while day < world.end:
        if rng.random() < burst_prob:
            template = conversation.EVAL_TEMPLATES[int(rng.random() * len(conversation.EVAL_TEMPLATES))]
            items = corpus.pool(rng.choice(("questions", "code", "faq_questions")))
            offset = rng.randrange(len(items))
            size = rng.randint(150, min(1200, 4 * len(items)))
            model = (
                rng.choice(("nova-2.5-pro", "nova-2.5-reasoner", "nova-2", "nova-3-pro"))
                if world.release_ts is not None and day > world.release_ts
                else pick(rng, "research")
            )
            params: dict[str, Any] = {"temperature": 0.0, "max_tokens": rng.choice((1024, 2048, 4096))}
            if rng.random() < 0.3:
                params["logprobs"] = True
                params["top_logprobs"] = 5
            concurrency = rng.choice((1, 2, 4, 8))
            t = day + (rng.uniform(9, 22) - tz) * HOUR
            for j in range(size):
                if t >= world.end:
                    return
                q = items[(offset + j) % len(items)]
                if t >= world.start:
                    yield em.emit(
                        t,
                        model=model,
                        messages=[{"role": "user", "content": template.format(q=q)}],
                        client=client,
                        ip=ips[j % len(ips)],
                        params=params,
                        out_median=600,
                        elicited="step" in template,
                    )
                t += lognormal_around(rng, 6.0 / concurrency, 0.5)
            day = max(day, t - (t - world.start) % DAY)
        day += DAY


def agentic_coders(world: World, spec: PopulationSpec, n: int) -> Iterator[Actor]:
    """Heavy agentic coding users: long multi-turn contexts with tools, fast turns, many per day."""
    for i in range(n):
        rng = world.rng(spec.population, i)
        acct = _legit_account(
            rng,
            world,
            spec.population,
            i,
            _country(rng),
            signup_path=rng.choice(("standard", "startup")),
            new_share=0.05,
        )
        habit = Habit(
            profile="work",
            active_prob=rng.uniform(0.5, 0.95),
            weekend=0.3,
            sessions=rng.uniform(1.5, 4),
            turns=rng.uniform(12, 45),
            gap_s=14.0,
        )
        yield Actor(
            acct, spec.population, None, _agent_events(rng, world, acct, habit, home_ip(acct.country))
        )


def _agent_events(rng: random.Random, world: World, acct: Account, habit: Habit, ip: IpFn) -> Iterator[Item]:
    em = Emitter(acct.account_id, rng, world.responses, error_rate=0.01)
    ua = clients.AGENT_UAS[int(rng.random() * len(clients.AGENT_UAS))]
    client = Client(
        ua, clients.fingerprint(ua, rng.choice(clients.PLATFORMS)), api_key_id(world.seed, acct.account_id, 0)
    )
    tools = [
        {"type": "function", "function": {"name": t}} for t in conversation.AGENT_TOOLS[: rng.randint(6, 14)]
    ]
    system = conversation.AGENT_SYSTEM_CORE * rng.randint(2, 5)
    adopt = _adoption(rng, world, 0.6)
    messages: list[dict[str, str]] = []
    context = 0
    model = pick(rng, "agentic")
    for ts, k in human_times(rng, max(world.start, acct.created_at), world.end, tz_of(acct.country), habit):
        if k == 0:
            texts = corpus.pool(rng.choice(("code", "faq_questions", "writing_short")))
            messages = [{"role": "user", "content": texts[int(rng.random() * len(texts))]}]
            context = rng.randint(2000, 9000)
            model = _model(rng, "agentic", adopt, ts)
        else:
            code = corpus.pool("code")
            action = conversation.AGENT_ACTIONS[int(rng.random() * len(conversation.AGENT_ACTIONS))]
            tool, path = rng.choice(conversation.AGENT_TOOLS), rng.choice(conversation.FILES)
            call = f"{action}\n[tool_call] {tool}({path})"
            result = code[int(rng.random() * len(code))][:1500]
            messages = [
                *_window(messages, 6),
                {"role": "assistant", "content": call},
                {"role": "tool", "content": result},
            ]
            context += rng.randint(800, 5000)
        params: dict[str, Any] = {
            "stream": True,
            "max_tokens": rng.choice((8192, 16384, 32000)),
            "tools": tools,
        }
        if is_reasoning(model) or rng.random() < 0.5:
            thinking_params(params, ua, "medium")
        yield em.emit(
            ts,
            model=model,
            messages=list(messages),
            system=system,
            client=client,
            ip=ip(rng, ts),
            params=params,
            out_median=260,
            extra_input_tokens=min(context, 180000),
        )


def company_accounts(world: World, spec: PopulationSpec, n: int) -> Iterator[Actor]:
    """One company: many accounts sharing a payment method, an email domain and office NAT addresses."""
    rng0 = world.rng(spec.population, "company")
    payment = payment_fingerprint(world.seed, spec.population, "corporate-card")
    office = ipspace.subnet_hosts("office", 3)
    domain = str(spec.options.get("domain", "northwind-analytics.com"))
    country = str(spec.options.get("country", "US"))
    signup = rng0.uniform(100, 400)
    for i in range(n):
        rng = world.rng(spec.population, i)
        acct = _legit_account(
            rng,
            world,
            spec.population,
            i,
            country,
            domain=domain,
            payment=payment,
            signup_path="enterprise",
            verified=True,
            organization=domain,
        )
        acct.created_at = world.start - (signup - rng.uniform(0, 60)) * DAY
        habit = Habit(
            profile="work", active_prob=0.85, weekend=0.1, sessions=rng.uniform(2, 4), turns=3, gap_s=50
        )
        office_or_home: IpFn = pool_ip(office, 4 * HOUR) if rng.random() < 0.85 else home_ip(country)
        if rng.random() < 0.3:
            yield Actor(
                acct,
                spec.population,
                None,
                _agent_events(
                    rng,
                    world,
                    acct,
                    Habit(profile="work", active_prob=0.8, weekend=0.1, sessions=2, turns=20, gap_s=14),
                    office_or_home,
                ),
            )
        else:
            client = _client(rng, world, acct, ("sdk",))
            yield Actor(
                acct, spec.population, None, developer_events(rng, world, acct, habit, office_or_home, client)
            )


def campus_nat(world: World, spec: PopulationSpec, n: int) -> Iterator[Actor]:
    """Many unrelated students behind one campus /24 (a handful of NAT egress addresses)."""
    nat = ipspace.subnet_hosts("campus", int(spec.options.get("nat_addresses", 4)))
    domain = str(spec.options.get("domain", "ucsb.edu"))
    for i in range(n):
        rng = world.rng(spec.population, i)
        acct = _legit_account(
            rng,
            world,
            spec.population,
            i,
            "US",
            domain=domain,
            signup_path="education",
            new_share=0.15,
            verified=rng.random() < 0.4,
        )
        habit = Habit(
            profile="student",
            active_prob=rng.uniform(0.2, 0.7),
            sessions=rng.uniform(1, 3),
            turns=rng.uniform(1.5, 5),
        )
        ip = pool_ip(nat, 1800.0)
        if rng.random() < 0.7:
            client = _client(rng, world, acct, ("browser",))
            yield Actor(acct, spec.population, None, chat_events(rng, world, acct, habit, ip, client))
        else:
            client = _client(rng, world, acct, ("sdk",))
            yield Actor(acct, spec.population, None, developer_events(rng, world, acct, habit, ip, client))


def vpn_users(world: World, spec: PopulationSpec, n: int) -> Iterator[Actor]:
    """Privacy-minded users on commercial VPNs: shared exit addresses, country mismatch, hopping."""
    exits = ipspace.ip_pool(world.rng(spec.population, "exits"), "vpn", int(spec.options.get("exits", 60)))
    for i in range(n):
        rng = world.rng(spec.population, i)
        acct = _legit_account(rng, world, spec.population, i, _country(rng), new_share=0.1)
        habit = Habit(
            active_prob=rng.uniform(0.3, 0.8), sessions=rng.uniform(1, 3), turns=rng.uniform(1.5, 4)
        )
        ip = pool_ip(exits, rng.uniform(0.5, 12) * HOUR)
        if rng.random() < 0.6:
            yield Actor(
                acct,
                spec.population,
                None,
                chat_events(rng, world, acct, habit, ip, _client(rng, world, acct, ("browser", "sdk"))),
            )
        else:
            yield Actor(
                acct,
                spec.population,
                None,
                developer_events(rng, world, acct, habit, ip, _client(rng, world, acct, ("sdk",))),
            )


KINDS: dict[str, Builder] = {
    "chat": chat_users,
    "developer": developers,
    "b2b": b2b_integrators,
    "research": researchers,
    "agentic": agentic_coders,
    "company": company_accounts,
    "campus": campus_nat,
    "vpn": vpn_users,
}
