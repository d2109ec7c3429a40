"""The ``hydrawatch`` command. Each stage owns its subcommand in ``<stage>/cli.py``;
they are imported only when used, so ``hydrawatch --help`` stays fast."""

from __future__ import annotations

import importlib
from typing import Any

import click

# name -> "module:attribute" of a click command
COMMANDS: dict[str, str] = {
    "simulate": "hydrawatch.simulate.cli:simulate",
    "hunt": "hydrawatch.hunt.cli:hunt",
    "bench": "hydrawatch.bench.cli:bench",
    "baseline": "hydrawatch.baselines.cli:baseline",
    "ingest": "hydrawatch.ingest.cli:ingest",
    "demo": "hydrawatch.demo:demo",
    "serve": "hydrawatch.gateway.cli:serve",
    "keys": "hydrawatch.gateway.cli:keys",
    "accounts": "hydrawatch.gateway.cli:accounts",
    "score": "hydrawatch.score.cli:score",
}

HELP: dict[str, str] = {
    "simulate": "Generate exchange logs with ground truth (legitimate users and campaigns).",
    "hunt": "Find distillation campaigns in exchange logs and explain every flag.",
    "bench": "Score hydrawatch and today's baselines on simulated scenarios.",
    "baseline": "Run one of today's detectors (threshold rules, PRADA) and write the report contract.",
    "ingest": "Validate and normalise exchange logs; report bad records.",
    "demo": "Simulate a week with campaigns in it, hunt it, print and save the report.",
    "serve": "Run the gateway: an OpenAI/Anthropic-compatible proxy and decision API.",
    "keys": "Create, list and revoke gateway API keys.",
    "accounts": "Set an account's tier and verification for the gateway.",
    "score": "Run the live scorer for gateway replicas (consumes the Redis event stream).",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module, _, attr = target.partition(":")
        try:
            cmd: Any = getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError) as e:  # a stage not built yet must not break the others
            raise click.ClickException(f"command {cmd_name!r} is unavailable: {e}") from e
        return cmd  # type: ignore[no-any-return]

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, HELP.get(name, "")) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="hydrawatch")
def main() -> None:
    """hydrawatch: detect, attribute and stop LLM distillation campaigns."""
