"""Client identities: user agents of real SDKs, browsers and tools, and a TLS/HTTP client
fingerprint derived from the client software and platform."""

from __future__ import annotations

import random

from hydrawatch.simulate.seeding import short_hash

SDK_UAS: tuple[str, ...] = (
    "OpenAI/Python 1.54.3",
    "OpenAI/Python 1.68.2",
    "OpenAI/Python 1.99.1",
    "OpenAI/Python 2.3.0",
    "AsyncOpenAI/Python 1.82.0",
    "OpenAI/JS 4.77.0",
    "OpenAI/JS 5.12.1",
    "Anthropic/Python 0.49.0",
    "Anthropic/Python 0.64.0",
    "Anthropic/JS 0.39.0",
    "langchain-openai/0.3.9",
    "litellm/1.74.0",
    "python-httpx/0.28.1",
    "python-requests/2.32.3",
    "axios/1.7.9",
    "Go-http-client/2.0",
    "curl/8.5.0",
    "okhttp/4.12.0",
    "Java-http-client/21.0.4",
)
BROWSER_UAS: tuple[str, ...] = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/129.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/18.1 Safari/605.1.15",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:131.0) Gecko/20100101 Firefox/131.0",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) Version/18.0 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/129.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/130.0.0.0 Safari/537.36",
)
AGENT_UAS: tuple[str, ...] = (
    "claude-cli/1.0.58 (external, cli)",
    "Cursor/1.2.4",
    "aider/0.82.1",
    "opencode/0.3.12",
    "cline/3.17.0 (vscode)",
    "continue/1.0.14 (jetbrains)",
    "codex_cli_rs/0.21.0",
)
PLATFORMS: tuple[str, ...] = ("linux-x86_64", "darwin-arm64", "win-amd64", "linux-aarch64")


def fingerprint(ua: str, platform: str) -> str:
    """A JA4-like client fingerprint: same software on the same platform, same value."""
    return "t13d" + short_hash("fp", ua.split("/")[0], platform, n=14)


def pick_client(rng: random.Random, kinds: tuple[str, ...] = ("sdk",)) -> tuple[str, str]:
    """(user_agent, client_fingerprint) of a client of one of ``kinds`` (sdk, browser, agent)."""
    kind = kinds[int(rng.random() * len(kinds))]
    pool = {"sdk": SDK_UAS, "browser": BROWSER_UAS, "agent": AGENT_UAS}[kind]
    ua = pool[int(rng.random() * len(pool))]
    return ua, fingerprint(ua, PLATFORMS[int(rng.random() * len(PLATFORMS))])
