"""``hydrawatch score``: the live scorer as its own process.

``hydrawatch score --redis URL`` consumes the replicas' shared event stream (see
``redis_worker``); ``hydrawatch serve --redis URL`` starts one itself unless the config says
``live_scoring: {scorer: external}``. ``--pipe`` is the embedded scorer that ``serve``
starts as its child (rows on stdin, verdicts on stdout; see ``pipe``).
"""

from __future__ import annotations

import importlib
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
import orjson

from hydrawatch.score.engine import ScoringEngine
from hydrawatch.score.priority import lower_priority

if TYPE_CHECKING:
    from hydrawatch.gateway.config import GatewayConfig


def _factory(spec: str | None) -> Callable[[float], ScoringEngine]:
    if not spec:
        from hydrawatch.score.engine import load_engine

        return load_engine
    module, _, attr = spec.partition(":")
    try:
        fn: Callable[[float], ScoringEngine] = getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as e:
        raise click.ClickException(f"--engine {spec}: {e}") from None
    return fn


def _early(
    risk: float | None, min_intents: int | None, min_share: float | None, cfg: GatewayConfig | None
) -> tuple[float, int, float] | None:
    """The early throttle (risk, min intents, min share) from the options, falling back on the
    gateway config (``cfg``; None: the defaults) and the throttle band of its policy."""
    from hydrawatch.gateway.config import EARLY_THROTTLE
    from hydrawatch.policy import Policy, PolicyError

    setting = cfg.early_throttle if cfg is not None else EARLY_THROTTLE
    if setting is None and risk is None:
        return None
    k, share = setting or EARLY_THROTTLE
    if risk is None:
        try:
            risk = Policy.load(cfg.policy_file if cfg is not None else None).throttle_floor() or 0.0
        except PolicyError as e:
            raise click.ClickException(str(e)) from None
    if not risk:
        return None
    return (risk, min_intents or k, share if min_share is None else min_share)


def _status_writer() -> Callable[[dict[str, Any]], None]:
    lock = threading.Lock()

    def write(msg: dict[str, Any]) -> None:
        with lock:
            try:
                sys.stdout.buffer.write(orjson.dumps(msg) + b"\n")
                sys.stdout.buffer.flush()
            except (OSError, ValueError):
                pass

    return write


def _watch_stdin(stop: threading.Event) -> None:
    """Stop when stdin closes: the gateway that started this process is gone."""

    def run() -> None:
        try:
            while sys.stdin.buffer.read(4096):
                pass
        except (OSError, ValueError):
            pass
        stop.set()
        # the lease is released on the way out; do not wait for a model load to end first
        timer = threading.Timer(10.0, os._exit, args=(0,))
        timer.daemon = True
        timer.start()

    threading.Thread(target=run, name="hydrawatch-score-parent", daemon=True).start()


@click.command("score")
@click.option("--redis", "redis_url", default=None, help="Redis URL: consume the replicas' event stream.")
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="The gateway's YAML config (redis, redis_prefix, live_scoring).",
)
@click.option("--prefix", default=None, help="Redis key prefix (default: the config's, else hydrawatch:).")
@click.option("--link-seconds", type=float, default=None, help="Seconds between linkage passes (default 60).")
@click.option(
    "--link-clock",
    type=click.Choice(["wall", "events"]),
    default="wall",
    show_default=True,
    help="Time linkage passes by the wall clock or by the events' own timestamps (replays).",
)
@click.option(
    "--early-risk",
    type=click.FloatRange(0.0, 1.0),
    default=None,
    help="Risk given to an account throttled early (0: no early throttle). Default: the bottom of "
    "the throttle band of the config's policy (0.5 in the built-in policy).",
)
@click.option(
    "--early-min-intents",
    type=click.IntRange(1),
    default=None,
    help="Early throttle: requests showing a distillation intent it takes (default: config's, else 2).",
)
@click.option(
    "--early-min-share",
    type=click.FloatRange(0.0, 1.0),
    default=None,
    help="Early throttle: and this share of all the account sent (default: config's, else 0.2).",
)
@click.option("--lease-seconds", type=float, default=10.0, show_default=True, help="Leader lease.")
@click.option(
    "--rebuild-events",
    type=int,
    default=200_000,
    show_default=True,
    help="On taking over, relearn at most this many of the newest events.",
)
@click.option("--pipe", is_flag=True, hidden=True, help="Embedded scorer: rows on stdin, verdicts on stdout.")
@click.option("--status", "status_out", is_flag=True, hidden=True, help="JSON status lines on stdout.")
@click.option("--watch-stdin", is_flag=True, hidden=True, help="Exit when stdin closes.")
@click.option("--engine", "engine_spec", default=None, hidden=True, help="module:function making the engine.")
@click.option(
    "--nice",
    type=click.IntRange(0, 19),
    default=0,
    show_default=True,
    help="Lower this process's CPU priority by N, and its autogroup's when it leads its own session "
    "(serve starts its scorer so, with 10: on a shared core "
    "the request path goes first).",
)
@click.option("--log-level", default="warning", type=click.Choice(["debug", "info", "warning", "error"]))
def score(
    redis_url: str | None,
    config_path: Path | None,
    prefix: str | None,
    link_seconds: float | None,
    link_clock: str,
    early_risk: float | None,
    early_min_intents: int | None,
    early_min_share: float | None,
    lease_seconds: float,
    rebuild_events: int,
    pipe: bool,
    status_out: bool,
    watch_stdin: bool,
    engine_spec: str | None,
    nice: int,
    log_level: str,
) -> None:
    """Run the live scorer: event rows in, verdicts into the verdict cache."""
    for problem in lower_priority(nice):
        print(f"hydrawatch score: {problem}", file=sys.stderr)
    logging.basicConfig(
        stream=sys.stderr,
        level=getattr(logging, log_level.upper()),
        format="%(asctime)s %(levelname)s scorer[%(process)d] %(message)s",
    )
    base_factory = _factory(engine_spec)
    early: tuple[float, int, float] | None = None  # risk, min intents, min share

    def factory(seconds: float) -> ScoringEngine:
        engine = base_factory(seconds)
        engine.link_clock = link_clock
        if hasattr(engine.scorer, "early"):
            from hydrawatch.detect.online import EarlyThrottle

            engine.scorer.early = (
                EarlyThrottle(min_intents=early[1], min_share=early[2], risk=early[0]) if early else None
            )
        return engine

    if pipe:
        from hydrawatch.score.pipe import main

        early = _early(early_risk, early_min_intents, early_min_share, None)
        sys.exit(main(link_seconds or 60.0, factory))
    from hydrawatch.gateway.config import ConfigError, load_config

    try:
        cfg = load_config(config_path)
    except ConfigError as e:
        raise click.ClickException(str(e)) from None
    early = _early(early_risk, early_min_intents, early_min_share, cfg)
    url = redis_url or cfg.redis_url
    if not url:
        raise click.UsageError(
            "give --redis URL (or `redis:` in --config): the scorer reads its event stream"
        )
    from hydrawatch.score.redis_worker import RedisScorer

    link = link_seconds or cfg.link_seconds
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, (lambda *_: None) if watch_stdin else (lambda *_: stop.set()))
    if watch_stdin:
        _watch_stdin(stop)
    worker = RedisScorer(
        url,
        prefix=prefix or cfg.redis_prefix,
        factory=lambda: factory(link),
        lease_seconds=lease_seconds,
        rebuild_events=rebuild_events,
        status=_status_writer() if status_out else None,
    )
    if not status_out:
        click.echo(f"hydrawatch scorer {worker.consumer} on {url} (stream {worker.stream})", err=True)
    try:
        worker.run(stop)
    finally:
        worker.close()
