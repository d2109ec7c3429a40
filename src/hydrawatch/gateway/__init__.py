"""The gateway: an OpenAI/Anthropic-compatible proxy and decision API in the request path."""

from hydrawatch.gateway.app import build_app
from hydrawatch.gateway.config import ConfigError, GatewayConfig, UpstreamConfig, load_config, parse_config
from hydrawatch.gateway.state import GatewayState, open_state

__all__ = [
    "ConfigError",
    "GatewayConfig",
    "GatewayState",
    "UpstreamConfig",
    "build_app",
    "load_config",
    "open_state",
    "parse_config",
]
