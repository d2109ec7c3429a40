"""The gateway: an OpenAI/Anthropic-compatible proxy and decision API in the request path.

Public entry points (imported lazily so ``hydrawatch keys ...`` starts fast):
``build_app(config)``, ``open_state(config)``, ``load_config(path)``, ``parse_config(doc)``,
``GatewayConfig``, ``GatewayState``.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "build_app": "hydrawatch.gateway.app",
    "open_state": "hydrawatch.gateway.state",
    "GatewayState": "hydrawatch.gateway.state",
    "ConfigError": "hydrawatch.gateway.config",
    "GatewayConfig": "hydrawatch.gateway.config",
    "UpstreamConfig": "hydrawatch.gateway.config",
    "load_config": "hydrawatch.gateway.config",
    "parse_config": "hydrawatch.gateway.config",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'hydrawatch.gateway' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
