"""Concurrency-1 latency and TTFT, measured on several targets interleaved in rounds.

Every target gets the same bodies in the same order over one keep-alive connection; the
rounds go A, B, C, then B, C, A, ... so slow spells of a noisy machine hit every target alike.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from httpwire import Connection, WireError, build_post


@dataclass(frozen=True)
class Target:
    name: str
    host: str
    port: int
    path: str
    headers: dict[str, str]


@dataclass
class Series:
    """Latencies (ms) of the successful requests of one target, and the failures by reason."""

    total_ms: list[float] = field(default_factory=list)
    ttft_ms: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)


def check(status: int, body: bytes, stream: bool) -> str | None:
    """Why a response does not count as a success (None when it does)."""
    if status != 200:
        return f"status {status}"
    if stream:
        return None if b"[DONE]" in body and b'"content"' in body else "incomplete stream"
    return None if b'"choices"' in body else "no choices in body"


async def run_block(
    conn: Connection, target: Target, bodies: list[bytes], start: int, n: int, stream: bool, into: Series
) -> None:
    """One untimed request with bodies[start], then ``n`` timed ones with the next bodies.

    One untimed request goes first (retried once on a fresh connection): the server may have
    closed the idle keep-alive connection while the other targets had their turn.
    """
    warm = build_post(target.host, target.path, bodies[start % len(bodies)], target.headers)
    for _ in range(2):
        try:
            await conn.send(warm)
            break
        except (WireError, OSError):
            continue
    for i in range(start + 1, start + 1 + n):
        req = build_post(target.host, target.path, bodies[i % len(bodies)], target.headers)
        try:
            t0, resp = await conn.send(req)
        except (WireError, OSError) as e:
            into.errors[f"{type(e).__name__}"] += 1
            continue
        why = check(resp.status, resp.body, stream)
        if why is not None:
            into.errors[why] += 1
            continue
        into.total_ms.append((resp.done_at - t0) * 1000.0)
        if stream and resp.first_data_at is not None:
            into.ttft_ms.append((resp.first_data_at - t0) * 1000.0)


async def interleaved(
    targets: list[Target],
    bodies: list[bytes],
    *,
    rounds: int,
    per_round: int,
    stream: bool,
    warmup: int = 50,
    deadline: float | None = None,
    after_block: Callable[[Target], Awaitable[None]] | None = None,
) -> dict[str, Series]:
    """Warm each target up, then ``rounds`` x (per_round requests to each target in turn).

    Every target gets the same bodies in the same order (each body once per target).
    ``after_block(target)`` runs after each block, outside the timed requests.

    Stops early (fewer rounds, still interleaved) when ``time.monotonic()`` passes ``deadline``.
    """
    conns = {t.name: Connection(t.host, t.port) for t in targets}
    out = {t.name: Series() for t in targets}
    try:
        for t in targets:
            await run_block(conns[t.name], t, bodies, 0, warmup, stream, Series())
            if after_block is not None:
                await after_block(t)
        for r in range(rounds):
            if deadline is not None and time.monotonic() > deadline:
                break
            k = r % len(targets)  # rotate the order too, so no target always follows the same one
            start = warmup + 1 + r * (per_round + 1)
            for t in targets[k:] + targets[:k]:
                await run_block(conns[t.name], t, bodies, start, per_round, stream, out[t.name])
                if after_block is not None:
                    await after_block(t)
    finally:
        for c in conns.values():
            await c.close()
    return out
