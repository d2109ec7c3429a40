"""Start, probe, watch and stop the servers under test (upstream stub, hydrawatch, LiteLLM).

Every server runs as a child process in its own session on a random free port, optionally
pinned to CPU cores with ``taskset``; its output goes to a log file in the run's temp dir.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import psutil


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pinned(cmd: list[str], cores: str | None) -> list[str]:
    """``cmd`` prefixed with ``taskset -c cores`` (unchanged when cores is None or taskset is missing)."""
    if cores is None or shutil.which("taskset") is None:
        return cmd
    return ["taskset", "-c", cores, *cmd]


@dataclass
class Server:
    name: str
    port: int
    proc: subprocess.Popen[bytes]
    log: Path
    cores: str | None
    peak_rss_bytes: int = 0

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def tree(self) -> list[psutil.Process]:
        try:
            p = psutil.Process(self.proc.pid)
            return [p, *p.children(recursive=True)]
        except psutil.Error:
            return []

    def rss_bytes(self) -> int:
        total = 0
        for p in self.tree():
            with contextlib.suppress(psutil.Error):
                total += p.memory_info().rss
        return total

    def cpu_seconds(self) -> float:
        total = 0.0
        for p in self.tree():
            try:
                t = p.cpu_times()
                total += t.user + t.system
            except psutil.Error:
                pass
        return total

    def log_tail(self, n: int = 20) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""


def start(
    name: str,
    cmd: list[str],
    port: int,
    logdir: Path,
    *,
    cores: str | None = None,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> Server:
    log = logdir / f"{name}.log"
    with log.open("wb") as fh:
        proc = subprocess.Popen(
            pinned(cmd, cores), stdout=fh, stderr=subprocess.STDOUT, env=env, cwd=cwd, start_new_session=True
        )
    return Server(name, port, proc, log, cores)


def wait_ready(
    server: Server, path: str, timeout: float = 120.0, headers: dict[str, str] | None = None
) -> None:
    """Poll ``GET path`` until it answers 2xx; raise RuntimeError (with the log tail) otherwise."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise RuntimeError(f"{server.name} exited with {server.proc.returncode}:\n{server.log_tail()}")
        try:
            req = urllib.request.Request(server.base + path, headers=headers or {})
            with urllib.request.urlopen(req, timeout=2) as r:
                if 200 <= r.status < 300:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.25)
    raise RuntimeError(f"{server.name} not ready after {timeout:.0f} s:\n{server.log_tail()}")


def stop(server: Server, grace: float = 15.0) -> None:
    """SIGTERM this server's own process (and its children), SIGKILL after ``grace`` seconds."""
    procs = server.tree()
    for p in procs:
        with contextlib.suppress(psutil.Error):
            p.terminate()
    _, alive = psutil.wait_procs(procs, timeout=grace)
    for p in alive:
        with contextlib.suppress(psutil.Error):
            p.kill()
    with contextlib.suppress(subprocess.TimeoutExpired):
        server.proc.wait(5)


@dataclass
class RssMonitor:
    """Background sampler of each server's RSS (process tree), keeping the peak on the Server."""

    servers: list[Server]
    interval: float = 0.2
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def _loop(self) -> None:
        while not self._stop.is_set():
            for s in self.servers:
                s.peak_rss_bytes = max(s.peak_rss_bytes, s.rss_bytes())
            self._stop.wait(self.interval)

    def __enter__(self) -> RssMonitor:
        self._thread = threading.Thread(target=self._loop, name="rss-monitor", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        for s in self.servers:
            s.peak_rss_bytes = max(s.peak_rss_bytes, s.rss_bytes())


def clean_env(
    drop_prefixes: tuple[str, ...] = ("HYDRAWATCH_", "LITELLM_", "DATABASE_URL", "DIRECT_URL"),
) -> dict[str, str]:
    """The current environment without settings that would change a server's configuration."""
    return {k: v for k, v in os.environ.items() if not k.startswith(drop_prefixes)}
