"""Gateway configuration: one YAML file, every setting optional.

With no file the gateway runs on the embedded default: state in ``./hydrawatch-state``,
no Redis, built-in policy and quota defaults. Secrets may come from the environment:
``HYDRAWATCH_ADMIN_TOKEN``, ``HYDRAWATCH_DECISION_TOKEN``, ``HYDRAWATCH_KEY_SECRET``.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import yaml

ApiKind = Literal["openai", "anthropic"]
PromptRecording = Literal["full", "redacted", "none"]

DEFAULT_STATE_DIR = "hydrawatch-state"


class ConfigError(ValueError):
    """A configuration problem, reported as ``file: key: problem``."""


@dataclass(frozen=True, slots=True)
class UpstreamConfig:
    base_url: str
    api: ApiKind | None = None  # None: whatever API the request came in on
    models: tuple[str, ...] = ("*",)
    api_key: str | None = None
    name: str = ""


@dataclass(frozen=True, slots=True)
class Timeouts:
    connect: float = 5.0
    read: float = 600.0
    write: float = 30.0
    pool: float = 5.0


@dataclass(frozen=True, slots=True)
class RecordConfig:
    prompts: PromptRecording = "full"
    retention_days: float | None = None
    queue_size: int = 50_000
    flush_seconds: float = 5.0
    batch_size: int = 5_000


# the scorer's early throttle by default: 2+ requests and 20%+ of an account's show an intent
EARLY_THROTTLE: tuple[int, float] = (2, 0.2)


@dataclass(frozen=True, slots=True)
class GatewayConfig:
    source: str = "<defaults>"
    host: str = "127.0.0.1"
    port: int = 8080
    state_dir: Path = Path(DEFAULT_STATE_DIR)
    redis_url: str | None = None
    redis_prefix: str = "hydrawatch:"
    upstreams: tuple[UpstreamConfig, ...] = ()
    timeouts: Timeouts = Timeouts()
    upstream_5xx: Literal["502", "passthrough"] = "502"
    admin_token: str | None = None
    decision_token: str | None = None
    key_secret: str | None = None
    key_cache_seconds: float = 1.0
    trusted_proxies: tuple[str, ...] = ()
    max_body_bytes: int = 8 << 20
    default_max_tokens: int = 4096
    record: RecordConfig = RecordConfig()
    policy_file: str | None = None
    quotas: Mapping[str, Any] = field(default_factory=dict)
    live_scoring: bool = True
    link_seconds: float = 60.0
    scorer: Literal["child", "external"] = "child"  # redis mode: external = `hydrawatch score` elsewhere
    link_clock: Literal["wall", "events"] = "wall"  # events: linkage passes timed by event ts (replays)
    scoring_queue: int = 20_000  # embedded: rows handed to the scorer and not yet scored
    # early throttle (detect.online.EarlyThrottle): None = off; else (min_intents, min_share)
    early_throttle: tuple[int, float] | None = EARLY_THROTTLE
    replay_clock: bool = False  # BENCHMARK ONLY: take "now" from the X-Hydrawatch-Replay-Ts header

    def with_overrides(self, **kw: Any) -> GatewayConfig:
        return replace(self, **{k: v for k, v in kw.items() if v is not None})


_TOP_KEYS = {
    "host",
    "port",
    "state_dir",
    "redis",
    "redis_prefix",
    "upstreams",
    "timeouts",
    "upstream_5xx",
    "admin_token",
    "decision_token",
    "keys",
    "trusted_proxies",
    "max_body_bytes",
    "default_max_tokens",
    "record",
    "policy",
    "quotas",
    "live_scoring",
    "replay_clock",
}


def _early_throttle(r: _Reader, raw: Any) -> tuple[int, float] | None:
    key = "live_scoring.early_throttle"
    if raw is False:
        return None
    if raw is True:
        return EARLY_THROTTLE
    m = r.mapping(raw, key, {"min_intents", "min_share"})
    k = int(r.num(m.get("min_intents", EARLY_THROTTLE[0]), f"{key}.min_intents", minimum=1, integer=True))
    share = r.num(m.get("min_share", EARLY_THROTTLE[1]), f"{key}.min_share", minimum=0.0)
    if not share <= 1.0:  # also NaN
        raise r.fail(f"{key}.min_share", "must be a share between 0 and 1")
    return (k, share)


class _Reader:
    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, key: str, problem: str) -> ConfigError:
        return ConfigError(f"{self.source}: {key}: {problem}")

    def mapping(self, v: Any, key: str, allowed: set[str]) -> dict[str, Any]:
        if v is None:
            return {}
        if not isinstance(v, dict):
            raise self.fail(key, "must be a mapping")
        unknown = sorted(str(k) for k in v if k not in allowed)
        if unknown:
            raise self.fail(
                f"{key}.{unknown[0]}" if key else unknown[0], f"unknown setting (known: {sorted(allowed)})"
            )
        return v

    def str_(self, v: Any, key: str) -> str:
        if not isinstance(v, str) or not v:
            raise self.fail(key, "must be a non-empty string")
        return v

    def num(self, v: Any, key: str, *, minimum: float = 0.0, integer: bool = False) -> float:
        if isinstance(v, bool) or not isinstance(v, int | float) or (integer and not isinstance(v, int)):
            raise self.fail(key, "must be an integer" if integer else "must be a number")
        if v < minimum:
            raise self.fail(key, f"must be >= {minimum:g}")
        return float(v)


def _secret(value: Any, env: str, r: _Reader, key: str) -> str | None:
    if value is None:
        return os.environ.get(env) or None
    return r.str_(value, key)


def _upstream(r: _Reader, i: int, v: Any) -> UpstreamConfig:
    key = f"upstreams[{i}]"
    d = r.mapping(v, key, {"base_url", "api", "models", "api_key", "api_key_env", "name"})
    base = r.str_(d.get("base_url"), f"{key}.base_url")
    if not base.startswith(("http://", "https://")):
        raise r.fail(f"{key}.base_url", "must start with http:// or https://")
    api = d.get("api")
    if api is not None and api not in ("openai", "anthropic"):
        raise r.fail(f"{key}.api", "must be openai or anthropic")
    models_v = d.get("models", ["*"])
    if isinstance(models_v, str):
        models_v = [models_v]
    if not isinstance(models_v, list) or not models_v or not all(isinstance(m, str) and m for m in models_v):
        raise r.fail(f"{key}.models", "must be a list of model name globs")
    api_key = d.get("api_key")
    if api_key is not None:
        api_key = r.str_(api_key, f"{key}.api_key")
    elif d.get("api_key_env") is not None:
        env = r.str_(d["api_key_env"], f"{key}.api_key_env")
        api_key = os.environ.get(env)
        if not api_key:
            raise r.fail(f"{key}.api_key_env", f"environment variable {env} is not set")
    name = str(d.get("name") or f"upstream{i}")
    return UpstreamConfig(
        base_url=base.rstrip("/"), api=api, models=tuple(models_v), api_key=api_key, name=name
    )


def parse_config(raw: Any, source: str = "<config>") -> GatewayConfig:
    """Validate a parsed YAML document; every problem names the file and the key."""
    r = _Reader(source)
    d = r.mapping(raw, "", _TOP_KEYS)
    kw: dict[str, Any] = {"source": source}
    if "host" in d:
        kw["host"] = r.str_(d["host"], "host")
    if "port" in d:
        port = int(r.num(d["port"], "port", minimum=0, integer=True))
        if port > 65535:
            raise r.fail("port", "must be <= 65535")
        kw["port"] = port
    if "state_dir" in d:
        kw["state_dir"] = Path(r.str_(d["state_dir"], "state_dir"))
    if d.get("redis") is not None:
        url = r.str_(d["redis"], "redis")
        if not url.startswith(("redis://", "rediss://", "unix://")):
            raise r.fail("redis", "must be a redis:// URL")
        kw["redis_url"] = url
    if "redis_prefix" in d:
        kw["redis_prefix"] = r.str_(d["redis_prefix"], "redis_prefix")
    ups = d.get("upstreams")
    if ups is not None:
        if not isinstance(ups, list):
            raise r.fail("upstreams", "must be a list of {base_url, api, models}")
        kw["upstreams"] = tuple(_upstream(r, i, u) for i, u in enumerate(ups))
    if "timeouts" in d:
        t = r.mapping(d["timeouts"], "timeouts", {"connect", "read", "write", "pool"})
        kw["timeouts"] = Timeouts(**{k: r.num(v, f"timeouts.{k}", minimum=0.001) for k, v in t.items()})
    if "upstream_5xx" in d:
        v = str(d["upstream_5xx"])
        if v not in ("502", "passthrough"):
            raise r.fail("upstream_5xx", "must be 502 or passthrough")
        kw["upstream_5xx"] = v
    kw["admin_token"] = _secret(d.get("admin_token"), "HYDRAWATCH_ADMIN_TOKEN", r, "admin_token")
    kw["decision_token"] = _secret(d.get("decision_token"), "HYDRAWATCH_DECISION_TOKEN", r, "decision_token")
    keys = r.mapping(d.get("keys"), "keys", {"secret", "cache_seconds"})
    kw["key_secret"] = _secret(keys.get("secret"), "HYDRAWATCH_KEY_SECRET", r, "keys.secret")
    if "cache_seconds" in keys:
        kw["key_cache_seconds"] = r.num(keys["cache_seconds"], "keys.cache_seconds")
    if "trusted_proxies" in d:
        tp = d["trusted_proxies"] or []
        if isinstance(tp, str):
            tp = [tp]
        if not isinstance(tp, list):
            raise r.fail("trusted_proxies", "must be a list of CIDRs")
        for j, cidr in enumerate(tp):
            try:
                ipaddress.ip_network(str(cidr), strict=False)
            except ValueError as e:
                raise r.fail(f"trusted_proxies[{j}]", f"not a CIDR: {e}") from None
        kw["trusted_proxies"] = tuple(str(c) for c in tp)
    if "max_body_bytes" in d:
        kw["max_body_bytes"] = int(r.num(d["max_body_bytes"], "max_body_bytes", minimum=1, integer=True))
    if "default_max_tokens" in d:
        kw["default_max_tokens"] = int(
            r.num(d["default_max_tokens"], "default_max_tokens", minimum=1, integer=True)
        )
    if "record" in d:
        kw["record"] = _record(r, d["record"])
    if d.get("policy") is not None:
        p = r.str_(d["policy"], "policy")
        base = Path(source).parent if source not in ("<config>", "<defaults>") else Path(".")
        kw["policy_file"] = str((base / p) if not Path(p).is_absolute() else Path(p))
    if d.get("quotas") is not None:
        if not isinstance(d["quotas"], dict):
            raise r.fail("quotas", "must be a mapping")
        kw["quotas"] = d["quotas"]
    if "live_scoring" in d:
        ls = d["live_scoring"]
        if isinstance(ls, bool):
            kw["live_scoring"] = ls
        else:
            m = r.mapping(
                ls,
                "live_scoring",
                {"enabled", "link_seconds", "link_clock", "scorer", "queue_size", "early_throttle"},
            )
            if "enabled" in m:
                if not isinstance(m["enabled"], bool):
                    raise r.fail("live_scoring.enabled", "must be true or false")
                kw["live_scoring"] = m["enabled"]
            if "link_seconds" in m:
                kw["link_seconds"] = r.num(m["link_seconds"], "live_scoring.link_seconds", minimum=0.1)
            if "scorer" in m:
                if m["scorer"] not in ("child", "external"):
                    raise r.fail("live_scoring.scorer", "must be child or external")
                kw["scorer"] = m["scorer"]
            if "link_clock" in m:
                if m["link_clock"] not in ("wall", "events"):
                    raise r.fail("live_scoring.link_clock", "must be wall or events")
                kw["link_clock"] = m["link_clock"]
            if "queue_size" in m:
                kw["scoring_queue"] = int(
                    r.num(m["queue_size"], "live_scoring.queue_size", minimum=1, integer=True)
                )
            if "early_throttle" in m:
                kw["early_throttle"] = _early_throttle(r, m["early_throttle"])
    if "replay_clock" in d:
        if not isinstance(d["replay_clock"], bool):
            raise r.fail("replay_clock", "must be true or false")
        kw["replay_clock"] = d["replay_clock"]
    return GatewayConfig(**kw)


def _record(r: _Reader, v: Any) -> RecordConfig:
    m = r.mapping(v, "record", {"prompts", "retention_days", "queue_size", "flush_seconds", "batch_size"})
    kw: dict[str, Any] = {}
    if "prompts" in m:
        if m["prompts"] not in ("full", "redacted", "none"):
            raise r.fail("record.prompts", "must be full, redacted or none")
        kw["prompts"] = m["prompts"]
    if m.get("retention_days") is not None:
        kw["retention_days"] = r.num(m["retention_days"], "record.retention_days", minimum=0.0001)
    if "queue_size" in m:
        kw["queue_size"] = int(r.num(m["queue_size"], "record.queue_size", minimum=1, integer=True))
    if "batch_size" in m:
        kw["batch_size"] = int(r.num(m["batch_size"], "record.batch_size", minimum=1, integer=True))
    if "flush_seconds" in m:
        kw["flush_seconds"] = r.num(m["flush_seconds"], "record.flush_seconds", minimum=0.01)
    return RecordConfig(**kw)


def load_config(path: str | Path | None) -> GatewayConfig:
    """Read the YAML file (``None``: defaults plus environment secrets)."""
    if path is None:
        return parse_config({}, "<defaults>")
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigError(f"{p}: cannot read: {e.strerror or e}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{p}: not UTF-8 text") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else "YAML"
        raise ConfigError(f"{p}: {where}: invalid YAML: {getattr(e, 'problem', None) or e}") from None
    return parse_config(raw if raw is not None else {}, str(p))
