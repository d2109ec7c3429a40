"""Policy: risk bands to graded actions, request/response degrading, verdict cache, audit log."""

from hydrawatch.policy.audit import AuditLog, read_audit
from hydrawatch.policy.decision import ACTIONS, AccountInfo, Action, Decision, Verdict
from hydrawatch.policy.degrade import (
    StreamDegrader,
    degrade_request,
    degrade_response,
    degrade_sse_event,
)
from hydrawatch.policy.policy import Policy, PolicyError
from hydrawatch.policy.verdicts import (
    InMemoryVerdictCache,
    RedisVerdictCache,
    VerdictCache,
    make_verdict_cache,
)

__all__ = [
    "ACTIONS",
    "AccountInfo",
    "Action",
    "AuditLog",
    "Decision",
    "InMemoryVerdictCache",
    "Policy",
    "PolicyError",
    "RedisVerdictCache",
    "StreamDegrader",
    "Verdict",
    "VerdictCache",
    "degrade_request",
    "degrade_response",
    "degrade_sse_event",
    "make_verdict_cache",
    "read_audit",
]
