"""``hydrawatch serve``, ``hydrawatch keys``, ``hydrawatch accounts``.

The key commands open the same store as ``serve`` (``--state DIR`` / the config's
``state_dir``, or ``--redis URL``), so they work from the same directory while the
gateway runs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import click
import orjson

from hydrawatch.gateway.config import ConfigError, GatewayConfig, UpstreamConfig, load_config
from hydrawatch.gateway.keystore import AccountRecord, KeyStoreError, valid_payment_fingerprint

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")


def _store_options(f: F) -> F:
    f = click.option("--redis", "redis_url", default=None, help="Redis URL (shared state across replicas).")(
        f
    )
    f = click.option(
        "--state",
        "state_dir",
        type=click.Path(file_okay=False, path_type=Path),
        default=None,
        help="Embedded state directory (default ./hydrawatch-state).",
    )(f)
    f = click.option(
        "--config",
        "config_path",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        help="YAML config.",
    )(f)
    return f


def _config(
    config_path: Path | None, state_dir: Path | None, redis_url: str | None, **kw: Any
) -> GatewayConfig:
    try:
        cfg = load_config(config_path)
    except ConfigError as e:
        raise click.ClickException(str(e)) from None
    return cfg.with_overrides(state_dir=state_dir, redis_url=redis_url, **kw)


def _run(coro: Coroutine[Any, Any, T]) -> T:
    try:
        return asyncio.run(coro)
    except KeyStoreError as e:
        raise click.ClickException(str(e)) from None
    except OSError as e:
        raise click.ClickException(f"cannot open the key store: {e}") from None


async def _with_store(cfg: GatewayConfig, fn: Callable[[Any], Coroutine[Any, Any, T]]) -> T:
    from hydrawatch.gateway.keystore import open_key_store

    store = open_key_store(cfg)
    try:
        return await fn(store)
    except Exception as e:
        if type(e).__module__.startswith("redis"):
            raise click.ClickException(f"Redis: {e}") from None
        raise
    finally:
        await store.close()


# ------------------------------------------------------------------------ serve
@click.command("serve")
@_store_options
@click.option("--upstream", "upstreams", multiple=True, help="Upstream base URL (all models); repeatable.")
@click.option("--host", default=None, help="Listen address (default 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Listen port (default 8080).")
@click.option("--log-level", default="warning", type=click.Choice(["debug", "info", "warning", "error"]))
def serve(
    config_path: Path | None,
    state_dir: Path | None,
    redis_url: str | None,
    upstreams: tuple[str, ...],
    host: str | None,
    port: int | None,
    log_level: str,
) -> None:
    """Run the gateway: an OpenAI/Anthropic-compatible proxy and decision API."""
    for u in upstreams:
        if not u.startswith(("http://", "https://")):
            raise click.BadParameter(f"{u!r}: must start with http:// or https://", param_hint="--upstream")
    ups = tuple(UpstreamConfig(base_url=u.rstrip("/"), name=f"upstream{i}") for i, u in enumerate(upstreams))
    cfg = _config(config_path, state_dir, redis_url, host=host, port=port, upstreams=ups or None)
    if not cfg.upstreams:
        raise click.ClickException("no upstream: give --upstream URL or `upstreams:` in the config file")
    import logging

    import uvicorn

    from hydrawatch.gateway.app import build_app
    from hydrawatch.policy import Policy, PolicyError
    from hydrawatch.quota import QuotaConfigError, load_limits

    try:  # fail before binding the port, with the file and key named
        Policy.load(cfg.policy_file)
        load_limits(dict(cfg.quotas))
    except (PolicyError, QuotaConfigError) as e:
        raise click.ClickException(str(e)) from None
    logging.basicConfig(
        level=getattr(logging, log_level.upper()), format="%(asctime)s %(levelname)s %(message)s"
    )
    mode = f"redis {cfg.redis_url}" if cfg.redis_url else f"embedded, state {cfg.state_dir}"
    click.echo(
        f"hydrawatch gateway on http://{cfg.host}:{cfg.port} ({mode}); upstreams: "
        + ", ".join(u.base_url for u in cfg.upstreams),
        err=True,
    )
    uvicorn.run(
        build_app(cfg),
        host=cfg.host,
        port=cfg.port,
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_level=log_level,
        lifespan="on",
        proxy_headers=False,  # the gateway resolves client IPs itself (trusted_proxies)
        server_header=False,
        timeout_graceful_shutdown=10,
        # idle keep-alive connections live longer than clients keep them (httpx, and so the
        # OpenAI/Anthropic SDKs, drop theirs after 5 s, uvicorn's own default): otherwise the
        # server closes a connection just as a client reuses it, and that request fails
        timeout_keep_alive=75,
    )


# ------------------------------------------------------------------------- keys
@click.group("keys")
def keys() -> None:
    """Create, list and revoke gateway API keys."""


@keys.command("create")
@click.argument("account_id")
@click.option("--name", default="", help="A label for the key.")
@_store_options
def keys_create(
    account_id: str, name: str, config_path: Path | None, state_dir: Path | None, redis_url: str | None
) -> None:
    """Create a key for ACCOUNT_ID; the key is printed once, as the last line."""
    cfg = _config(config_path, state_dir, redis_url)
    key, rec = _run(_with_store(cfg, lambda s: s.create_key(account_id, name)))
    click.echo(
        f"Created {rec.key_id} for account {rec.account_id}. Store the key now; it is not shown again:"
    )
    click.echo(key)


@keys.command("list")
@click.option("--account", "account_id", default=None, help="Only this account's keys.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@_store_options
def keys_list(
    account_id: str | None,
    as_json: bool,
    config_path: Path | None,
    state_dir: Path | None,
    redis_url: str | None,
) -> None:
    """List keys (ids and prefixes; never the keys)."""
    cfg = _config(config_path, state_dir, redis_url)
    recs = _run(_with_store(cfg, lambda s: s.list_keys(account_id)))
    if as_json:
        for r in recs:
            click.echo(orjson.dumps(r.to_json()).decode())
        return
    if not recs:
        click.echo("no keys")
        return
    click.echo(f"{'KEY_ID':<22} {'ACCOUNT':<24} {'PREFIX':<12} {'STATUS':<8} NAME")
    for r in recs:
        click.echo(
            f"{r.key_id:<22} {r.account_id:<24} {r.prefix + '…':<12} "
            f"{'active' if r.active else 'revoked':<8} {r.name}"
        )


@keys.command("revoke")
@click.argument("key_id")
@_store_options
def keys_revoke(key_id: str, config_path: Path | None, state_dir: Path | None, redis_url: str | None) -> None:
    """Revoke KEY_ID (takes effect within keys.cache_seconds on every gateway)."""
    cfg = _config(config_path, state_dir, redis_url)
    ok = _run(_with_store(cfg, lambda s: s.revoke(key_id)))
    if not ok:
        raise click.ClickException(f"{key_id}: no such active key")
    click.echo(f"revoked {key_id}")


# --------------------------------------------------------------------- accounts
@click.group("accounts")
def accounts() -> None:
    """Set an account's tier, verification and payment fingerprint for the gateway."""


@accounts.command("set")
@click.argument("account_id")
@click.option("--tier", default=None, help="Quota tier (a tier of the config's quotas: section).")
@click.option("--verified/--unverified", default=None, help="Mark the account verified (or not).")
@click.option(
    "--payment-fingerprint",
    "payment_fingerprint",
    metavar="FP",
    default=None,
    help="The fingerprint of the account's payment method (billing system id, not card data); "
    "accounts sharing one are linked by the scorer.",
)
@_store_options
def accounts_set(
    account_id: str,
    tier: str | None,
    verified: bool | None,
    payment_fingerprint: str | None,
    config_path: Path | None,
    state_dir: Path | None,
    redis_url: str | None,
) -> None:
    """Set ACCOUNT_ID's tier, verification and/or payment fingerprint."""
    if tier is None and verified is None and payment_fingerprint is None:
        raise click.UsageError("give --tier, --verified/--unverified and/or --payment-fingerprint")
    if payment_fingerprint is not None:
        try:
            valid_payment_fingerprint(payment_fingerprint)
        except KeyStoreError as e:
            raise click.BadParameter(str(e), param_hint="--payment-fingerprint") from None
    cfg = _config(config_path, state_dir, redis_url)
    if tier is not None:
        _check_tier(cfg, tier)
    acc = _run(
        _with_store(
            cfg,
            lambda s: s.set_account(
                account_id, tier=tier, verified=verified, payment_fingerprint=payment_fingerprint
            ),
        )
    )
    click.echo(f"{acc.account_id}: {_account_fields(acc, ' ')}")


def _account_fields(acc: AccountRecord, sep: str) -> str:
    fields = [f"tier={acc.tier}", f"verified={'yes' if acc.verified else 'no'}"]
    fields.append(f"payment_fingerprint={acc.payment_fingerprint or '-'}")
    return sep.join(fields)


def _check_tier(cfg: GatewayConfig, tier: str) -> None:
    from hydrawatch.quota import QuotaConfigError, load_limits

    try:
        limits = load_limits(dict(cfg.quotas))
    except QuotaConfigError as e:
        raise click.ClickException(str(e)) from None
    if tier not in limits.tiers:
        raise click.ClickException(f"unknown tier {tier!r} (configured: {', '.join(sorted(limits.tiers))})")


@accounts.command("list")
@_store_options
def accounts_list(config_path: Path | None, state_dir: Path | None, redis_url: str | None) -> None:
    """List accounts with their tier, verification and payment fingerprint."""
    cfg = _config(config_path, state_dir, redis_url)
    accs = _run(_with_store(cfg, lambda s: s.list_accounts()))
    for a in accs:
        click.echo(a.account_id + "\t" + _account_fields(a, "\t"))
