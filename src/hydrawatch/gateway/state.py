"""Everything a running gateway holds: stores, clients, queues, counters.

Built once per process by :func:`open_state`; the Starlette app reaches it through
``app.state.gw``. Embedded mode keeps state in ``state_dir`` (keys in SQLite, events in
DuckDB, audit JSONL); redis mode shares keys, quotas, verdicts and the event stream.
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

from hydrawatch.gateway.auth import Authenticator
from hydrawatch.gateway.clientip import ClientIpResolver
from hydrawatch.gateway.config import GatewayConfig
from hydrawatch.gateway.httpclients import HttpClients
from hydrawatch.gateway.keystore import KeyStore, open_key_store
from hydrawatch.gateway.metrics import Metrics
from hydrawatch.gateway.recorder import DuckDBEventSink, EventSink, RedisEventSink
from hydrawatch.gateway.scoring import ScorerProcess, scorer_argv
from hydrawatch.gateway.upstream import Router
from hydrawatch.policy import AuditLog, Policy, RedisVerdictCache, VerdictCache, make_verdict_cache
from hydrawatch.quota import QuotaStore, load_limits, make_quota_store

log = logging.getLogger("hydrawatch.gateway")


@dataclass(slots=True)
class GatewayState:
    config: GatewayConfig
    keys: KeyStore
    auth: Authenticator
    quota: QuotaStore
    policy: Policy
    verdicts: VerdictCache
    audit: AuditLog
    sink: EventSink
    router: Router
    ips: ClientIpResolver
    http: HttpClients
    metrics: Metrics
    live: ScorerProcess | None = None
    tasks: set[asyncio.Task[Any]] = field(default_factory=set)

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        """Run ``coro`` off the request path (errors are logged, never raised)."""
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[Any]) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("background task failed: %r", task.exception())

    def scoring_down(self) -> bool:
        """Live scoring should run but does not (its process died, or no replica's scorer leads)."""
        return self.live is not None and self.live.down

    def score(self, row: dict[str, Any]) -> None:
        """Hand an event row to the embedded scorer (before it is redacted for recording)."""
        if self.live is not None and self.live.feed:
            self.live.submit(row)

    async def drain(self) -> None:
        """Wait for background work and write pending events (tests, shutdown)."""
        while self.tasks:
            await asyncio.gather(*list(self.tasks), return_exceptions=True)
        if self.live is not None:
            await self.live.drain()
        await self.sink.flush()

    async def close(self) -> None:
        if self.live is not None:  # stop scoring first: shutdown never waits on analysis
            await self.live.close()
        while self.tasks:
            await asyncio.gather(*list(self.tasks), return_exceptions=True)
        await self.sink.close()  # writes every pending event
        await self.http.aclose()
        for closer in (self.quota.close, self.verdicts_close, self.audit.close, self.keys.close):
            try:
                await closer()
            except Exception as e:  # closing must not mask the shutdown
                log.warning("closing: %r", e)

    async def verdicts_close(self) -> None:
        close = getattr(self.verdicts, "close", None)
        if close is not None:
            await close()


def _quota_config(config: GatewayConfig) -> dict[str, Any]:
    q = dict(config.quotas)
    if config.redis_url and "key_prefix" not in q:
        q["key_prefix"] = config.redis_prefix + "quota:"
    return q


async def open_state(config: GatewayConfig) -> GatewayState:
    metrics = Metrics()
    keys = open_key_store(config)
    limits = load_limits(_quota_config(config))
    quota = make_quota_store(limits, config.redis_url)
    policy = Policy.load(config.policy_file)
    verdicts: VerdictCache
    if config.redis_url:
        # the same bound as the quota store's Redis calls: a verdict read that gives up early
        # (the cache's own default is 0.1 s) drops the campaign from the decision on a busy
        # host, and the request is then charged to the account alone
        verdicts = RedisVerdictCache(config.redis_url, key_prefix=config.redis_prefix, timeout=limits.timeout)
    else:
        verdicts = make_verdict_cache(None, key_prefix=config.redis_prefix)
    audit = AuditLog(config.state_dir, redis_url=config.redis_url, key_prefix=config.redis_prefix)
    rec = config.record
    sink: EventSink
    if config.redis_url:
        import redis.asyncio as aioredis

        client = aioredis.Redis.from_url(config.redis_url, socket_timeout=2.0, socket_connect_timeout=2.0)
        sink = RedisEventSink(
            client,
            config.redis_prefix + "events",
            maxsize=rec.queue_size,
            retention_days=rec.retention_days,
        )
    else:
        sink = DuckDBEventSink(
            config.state_dir / "events.duckdb",
            maxsize=rec.queue_size,
            batch_size=rec.batch_size,
            flush_seconds=rec.flush_seconds,
            retention_days=rec.retention_days,
        )
    http = HttpClients(config.timeouts)
    gw = GatewayState(
        config=config,
        keys=keys,
        auth=Authenticator(keys, config.key_cache_seconds),
        quota=quota,
        policy=policy,
        verdicts=verdicts,
        audit=audit,
        sink=sink,
        router=Router(config.upstreams),
        ips=ClientIpResolver(config.trusted_proxies),
        http=http,
        metrics=metrics,
    )
    await sink.start()
    gw.live = await start_scorer(config, verdicts, policy)
    metrics.gauge("hydrawatch_events_pending", lambda: float(sink.pending()))
    metrics.gauge("hydrawatch_upstream_retries_total", lambda: float(http.retries))
    metrics.gauge("hydrawatch_events_recorded_total", lambda: float(sink.recorded))
    metrics.gauge("hydrawatch_events_dropped_total", lambda: float(sink.dropped))
    if gw.live is not None:
        live = gw.live
        metrics.gauge("hydrawatch_live_scoring_pending", lambda: float(live.pending()))
        metrics.gauge("hydrawatch_live_scoring_dropped_total", lambda: float(live.dropped))
        metrics.gauge("hydrawatch_live_scoring_restarts_total", lambda: float(live.restarts))
        metrics.gauge("hydrawatch_live_scoring_down", lambda: float(live.down))
    return gw


def _scorer_installed() -> bool:
    try:
        return importlib.util.find_spec("hydrawatch.detect.online") is not None
    except (ImportError, ValueError):
        return False


def early_throttle_args(config: GatewayConfig, policy: Policy) -> tuple[str, ...]:
    """The scorer's early-throttle options: the config's thresholds, at the bottom of this
    policy's throttle band (off when the config turns it off or no band throttles)."""
    floor = policy.throttle_floor()
    if config.early_throttle is None or not floor:
        return ("--early-risk", "0")
    k, share = config.early_throttle
    return ("--early-risk", f"{floor:g}", "--early-min-intents", str(k), "--early-min-share", f"{share:g}")


async def start_scorer(config: GatewayConfig, verdicts: VerdictCache, policy: Policy) -> ScorerProcess | None:
    """The scorer process this gateway supervises (None: live scoring off or run elsewhere)."""
    if not config.live_scoring:
        return None
    if not _scorer_installed():
        log.warning("live scoring disabled: hydrawatch.detect.online is not installed")
        return None
    link = (
        "--link-seconds", f"{config.link_seconds:g}", "--link-clock", config.link_clock,
        *early_throttle_args(config, policy),
    )  # fmt: skip
    proc: ScorerProcess
    if config.redis_url:
        if config.scorer == "external":
            return None
        import redis.asyncio as aioredis

        lease = config.redis_prefix + "scorer:leader"
        probe = aioredis.Redis.from_url(config.redis_url, socket_timeout=1.0, socket_connect_timeout=1.0)

        async def leading() -> bool:
            return bool(await probe.exists(lease))

        argv = scorer_argv(
            "--redis", config.redis_url, "--prefix", config.redis_prefix, *link,
            "--status", "--watch-stdin",
        )  # fmt: skip
        proc = ScorerProcess(argv, None, feed=False, lease_check=leading, lease_close=probe.aclose)
    else:
        argv = scorer_argv("--pipe", *link)
        proc = ScorerProcess(argv, verdicts, feed=True, maxsize=config.scoring_queue)
    await proc.start()
    return proc
