"""Prometheus counters and gauges, hand-written (text exposition format 0.0.4)."""

from __future__ import annotations

from collections.abc import Callable

Labels = tuple[tuple[str, str], ...]

_HELP: dict[str, tuple[str, str]] = {
    "hydrawatch_requests_total": ("counter", "Requests answered, by route and status."),
    "hydrawatch_decisions_total": ("counter", "Policy decisions, by action."),
    "hydrawatch_tokens_total": ("counter", "Tokens billed, by direction (input, output)."),
    "hydrawatch_upstream_errors_total": ("counter", "Upstream failures, by kind."),
    "hydrawatch_upstream_retries_total": (
        "counter",
        "Requests sent again on a new connection: the upstream had closed the kept-alive one.",
    ),
    "hydrawatch_quota_denied_total": ("counter", "Requests refused by a quota."),
    "hydrawatch_client_disconnects_total": ("counter", "Streams the client closed before the end."),
    "hydrawatch_events_recorded_total": ("counter", "Exchange events written to the event store."),
    "hydrawatch_events_dropped_total": ("counter", "Exchange events dropped (queue full or store down)."),
    "hydrawatch_events_pending": ("gauge", "Exchange events waiting to be written."),
    "hydrawatch_live_scoring_pending": ("gauge", "Exchanges waiting for the live scorer."),
    "hydrawatch_live_scoring_dropped_total": (
        "counter",
        "Exchanges not handed to the live scorer (its queue was full).",
    ),
    "hydrawatch_live_scoring_restarts_total": ("counter", "Times the scorer process died and was restarted."),
    "hydrawatch_live_scoring_down": ("gauge", "1 while live scoring should run but does not."),
}


def _escape(v: str) -> str:
    return v.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


class Metrics:
    def __init__(self) -> None:
        self._values: dict[str, dict[Labels, float]] = {}
        self._gauges: dict[str, Callable[[], float]] = {}

    def inc(self, name: str, labels: Labels = (), value: float = 1.0) -> None:
        series = self._values.get(name)
        if series is None:
            series = self._values[name] = {}
        series[labels] = series.get(labels, 0.0) + value

    def gauge(self, name: str, read: Callable[[], float]) -> None:
        """A value read when scraped (also used for counters kept elsewhere)."""
        self._gauges[name] = read

    def value(self, name: str, labels: Labels = ()) -> float:
        if name in self._gauges and not labels:
            return float(self._gauges[name]())
        return self._values.get(name, {}).get(labels, 0.0)

    def render(self) -> str:
        lines: list[str] = []
        names = sorted(set(self._values) | set(self._gauges))
        for name in names:
            kind, help_ = _HELP.get(name, ("gauge" if name in self._gauges else "counter", name))
            lines.append(f"# HELP {name} {help_}")
            lines.append(f"# TYPE {name} {kind}")
            if name in self._gauges:
                lines.append(f"{name} {float(self._gauges[name]()):g}")
                continue
            for labels, v in sorted(self._values[name].items()):
                lab = ",".join(f'{k}="{_escape(val)}"' for k, val in labels)
                lines.append(f"{name}{{{lab}}} {v:g}" if lab else f"{name} {v:g}")
        return "\n".join(lines) + "\n"
