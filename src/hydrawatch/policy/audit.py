"""The audit log: every action above allow (and every override that lowered one), with reasons.

One JSON object per line in ``<state dir>/audit.jsonl``; in redis mode each record is also
XADDed to a Redis stream (``<prefix>audit``, capped) so every replica's actions are in one
place. Recording never raises into the request path: failures are counted and logged."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

from redis.asyncio import Redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from hydrawatch.policy.decision import Decision

log = logging.getLogger(__name__)

AUDIT_FILE = "audit.jsonl"


def audit_record(*, ts: float, account_id: str, decision: Decision, request_id: str) -> dict[str, Any]:
    d = decision
    return {
        "ts": ts,
        "request_id": request_id,
        "account_id": account_id,
        "action": d.action,
        "band_action": d.band_action,
        "shadow_action": d.shadow_action,
        "risk": d.risk,
        "campaign_id": d.campaign_id,
        "reasons": list(d.reasons),
        "max_tokens_cap": d.max_tokens_cap,
        "max_choices": d.max_choices,
        "strip_reasoning": d.strip_reasoning,
        "strip_logprobs": d.strip_logprobs,
        "throttle_factor": d.throttle_factor,
        "retry_after": d.retry_after,
    }


class AuditLog:
    """Call ``record`` for every decision; only auditable ones are written."""

    def __init__(
        self,
        path: str | Path,  # the state directory, or a ``*.jsonl`` file
        *,
        redis_url: str | None = None,
        key_prefix: str = "hydrawatch:",
        stream_maxlen: int = 1_000_000,
        timeout: float = 0.25,
    ) -> None:
        p = Path(path)
        # a state directory (existing or not) gets audit.jsonl inside; a *.jsonl path is the file
        self.path = p if p.suffix == ".jsonl" and not p.is_dir() else p / AUDIT_FILE
        self.stream = key_prefix + "audit"
        self.stream_maxlen = stream_maxlen
        self.timeout = timeout
        self.errors = 0
        self.written = 0
        self._file: TextIO | None = None
        self.redis: Redis | None = None
        if redis_url is not None:
            self.redis = Redis.from_url(
                redis_url,
                socket_timeout=timeout,
                socket_connect_timeout=timeout,
                retry=Retry(NoBackoff(), 0),
                health_check_interval=0,
            )

    def _write(self, line: str) -> None:
        if self._file is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = self.path.open("a", encoding="utf-8")
        self._file.write(line + "\n")
        self._file.flush()

    async def record(self, *, ts: float, account_id: str, decision: Decision, request_id: str) -> None:
        if not decision.auditable:
            return
        rec = audit_record(ts=ts, account_id=account_id, decision=decision, request_id=request_id)
        line = json.dumps(rec, separators=(",", ":"), ensure_ascii=False)
        try:
            self._write(line)
            self.written += 1
        except OSError as e:
            self.errors += 1
            log.error("audit log write failed (%s): %s", self.path, e)
        if self.redis is not None:
            try:
                await asyncio.wait_for(
                    self.redis.xadd(
                        self.stream, {"record": line}, maxlen=self.stream_maxlen, approximate=True
                    ),
                    timeout=self.timeout * 2,
                )
            except Exception as e:  # Redis down: the file still has it
                self.errors += 1
                log.warning("audit stream XADD failed: %s", e)

    async def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        if self.redis is not None:
            await self.redis.aclose()


def read_audit(path: str | Path) -> Iterator[dict[str, Any]]:
    """The records of an audit file (a directory means its ``audit.jsonl``); bad lines are skipped."""
    p = Path(path)
    if p.is_dir():
        p = p / AUDIT_FILE
    if not p.exists():
        return
    with p.open(encoding="utf-8", errors="replace") as f:
        for line in f:
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            if isinstance(rec, dict):
                yield rec
