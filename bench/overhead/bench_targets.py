"""How each server under test is configured and started (the exact configurations are recorded)."""

from __future__ import annotations

import secrets
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from bench_servers import Server, clean_env, free_port, start, wait_ready

HERE = Path(__file__).resolve().parent
HYDRAWATCH = Path(sys.executable).parent / "hydrawatch"
LITELLM = Path("/work/litellm-venv/bin/litellm")

# LiteLLM: one model routed to the stub, a master key (so every request is authenticated),
# no database (no DATABASE_URL), no callbacks, no spend logs, local cost map, telemetry off.
LITELLM_CONFIG = """\
model_list:
  - model_name: bench-model
    litellm_params:
      model: openai/bench-model
      api_base: {api_base}
      api_key: sk-upstream-not-checked
litellm_settings:
  telemetry: false
  set_verbose: false
  request_timeout: 60
general_settings:
  master_key: {master_key}
  disable_spend_logs: true
"""
LITELLM_ENV = {"LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_LOG": "ERROR"}


@dataclass(frozen=True)
class Started:
    server: Server
    headers: dict[str, str]  # what a client sends to be authenticated
    config_text: str  # the exact configuration (file contents, or a note when none)
    command: list[str]


def start_upstream(logdir: Path, cores: str | None) -> Started:
    port = free_port()
    cmd = [sys.executable, str(HERE / "upstream_stub.py"), "--port", str(port)]
    srv = start("upstream", cmd, port, logdir, cores=cores, env=clean_env())
    wait_ready(srv, "/v1/models")
    return Started(srv, {}, "(none: upstream_stub.py)", cmd)


def start_hydrawatch(
    logdir: Path, upstream: Server, cores: str | None, config_text: str | None, name: str = "hydrawatch"
) -> Started:
    """``hydrawatch serve`` in a fresh state dir; ``config_text`` None = no config file (defaults)."""
    state = logdir / f"{name}-state"
    base = [str(HYDRAWATCH)]
    cfg_args: list[str] = []
    if config_text is not None:
        cfg = logdir / f"{name}.yaml"
        cfg.write_text(config_text)
        cfg_args = ["--config", str(cfg)]
    env = clean_env()
    made = subprocess.run(
        [*base, "keys", "create", "bench-account", "--state", str(state), *cfg_args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if made.returncode != 0:
        raise RuntimeError(f"hydrawatch keys create failed: {made.stderr.strip()}")
    key = made.stdout.strip().splitlines()[-1]
    port = free_port()
    cmd = [
        *base,
        "serve",
        "--state",
        str(state),
        *cfg_args,
        "--upstream",
        f"{upstream.base}/v1",
        "--port",
        str(port),
    ]
    srv = start(name, cmd, port, logdir, cores=cores, env=env)
    wait_ready(srv, "/healthz")
    return Started(
        srv, {"authorization": f"Bearer {key}"}, config_text or "(no config file: built-in defaults)", cmd
    )


def start_litellm(logdir: Path, upstream: Server, cores: str | None) -> Started:
    master = "sk-bench-" + secrets.token_hex(12)
    text = LITELLM_CONFIG.format(api_base=f"{upstream.base}/v1", master_key=master)
    cfg = logdir / "litellm.yaml"
    cfg.write_text(text)
    port = free_port()
    cmd = [
        str(LITELLM),
        "--config",
        str(cfg),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--num_workers",
        "1",
        "--telemetry",
        "False",
    ]
    env = clean_env() | LITELLM_ENV
    srv = start("litellm", cmd, port, logdir, cores=cores, env=env, cwd=logdir)
    wait_ready(srv, "/health/liveliness", timeout=180)
    shown = text.replace(master, "sk-bench-<random>") + "".join(
        f"# env {k}={v}\n" for k, v in LITELLM_ENV.items()
    )
    return Started(srv, {"authorization": f"Bearer {master}"}, shown, cmd)
