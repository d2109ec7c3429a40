"""Token and request quotas per account and per campaign, in-process or shared through Redis."""

from hydrawatch.quota.estimate import estimate_tokens
from hydrawatch.quota.headers import quota_headers
from hydrawatch.quota.limits import Limit, QuotaConfigError, QuotaLimits, load_limits
from hydrawatch.quota.store import QuotaStore, make_quota_store
from hydrawatch.quota.usage import Denied, Reservation, Usage

__all__ = [
    "Denied",
    "Limit",
    "QuotaConfigError",
    "QuotaLimits",
    "QuotaStore",
    "Reservation",
    "Usage",
    "estimate_tokens",
    "load_limits",
    "make_quota_store",
    "quota_headers",
]
