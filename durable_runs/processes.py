"""Child processes of the dev stack, the benchmarks and the crash tests: one way to run each part.

A `Part` is one command with its environment and log file. `start()` spawns it in its own
process group (Ctrl-C in a terminal reaches only us, and a stop reaches whatever the part itself
started), `wait_ready()` probes its readiness check until it passes, the part exits, or a bound
passes; `stop()` is SIGTERM then SIGKILL after a grace period, `kill()` is SIGKILL at once (a
crash: nothing flushed), `restart()` stops and starts it again with the same command, ports and
log. Every start appends to the log under a header line. An `atexit` hook kills the groups still
running if the interpreter exits without stopping them.

The factories build the project's parts: the Temporal dev server (`temporal server start-dev`),
the emulator (`python -m durable_runs_emulator`), the webhook bridge
(`python -m durable_runs.cli bridge`) and a worker (`python -m durable_runs.cli worker`).
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from temporalio.client import Client
from temporalio.service import RPCError

from durable_runs.client import TemporalUnreachableError, connect_client, live_pollers
from durable_runs.devserver import start_dev_args
from durable_runs.settings import OPENAI_QUEUE_SUFFIX, Settings

PROJECT_ROOT = Path(__file__).resolve().parent.parent
"""Directory holding `durable_runs/` (first on the children's PYTHONPATH; their working dir)."""

READY_TIMEOUT_S = 60.0
"""Default bound on a part becoming ready."""

STOP_GRACE_S = 10.0
"""Default time a part gets to exit after SIGTERM before SIGKILL."""

PROBE_TIMEOUT_S = 5.0
"""Bound on one readiness probe (a half-started server may accept and never answer)."""

POLL_S = 0.1
"""Interval of probes and exit checks: another process's state has no event to wait on."""

SETTINGS_PREFIXES = ("OPENAI_", "TEMPORAL_", "DURABLE_RUNS_")
"""Environment variables our settings read; `child_env(drop_prefixes=...)` can leave them out."""


class PartError(RuntimeError):
    """A part exited before it was ready, or was not ready in time (names it and its log)."""


@dataclass(frozen=True)
class Readiness:
    """When a started part counts as ready.

    Attributes:
        probe: True once the part is ready; given the part (a probe may need its pid).
        what: The condition, for the message when it never holds (`GET /healthz answers 200`).
    """

    probe: Callable[[Part], Awaitable[bool]]
    what: str


_LIVE: set[int] = set()
"""Process groups started by this process and not yet stopped (for the atexit hook)."""


def _kill_survivors() -> None:
    for pgid in list(_LIVE):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGKILL)
        _LIVE.discard(pgid)


atexit.register(_kill_survivors)


@dataclass
class Part:
    """One child process: command, environment, log file and readiness check.

    Attributes:
        name: For messages and log headers (`temporal`, `worker-1`).
        argv: The command.
        log_path: Where stdout and stderr go, appended across starts.
        env: The child's whole environment (see `child_env`).
        ready: Its readiness check; None means ready once spawned.
        cwd: Working directory.
    """

    name: str
    argv: Sequence[str]
    log_path: Path
    env: Mapping[str, str]
    ready: Readiness | None = None
    cwd: Path = PROJECT_ROOT
    _popen: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)

    @property
    def process(self) -> subprocess.Popen[bytes]:
        """The running (or last) process.

        Raises:
            RuntimeError: The part was never started.
        """
        if self._popen is None:
            raise RuntimeError(f"{self.name} was never started")
        return self._popen

    @property
    def pid(self) -> int:
        """Its process id (also its process group id)."""
        return self.process.pid

    @property
    def alive(self) -> bool:
        """True while the process runs."""
        return self._popen is not None and self._popen.poll() is None

    @property
    def returncode(self) -> int | None:
        """Its exit code; None while it runs (or before it started)."""
        return None if self._popen is None else self._popen.poll()

    def start(self) -> Part:
        """Spawn the process in a new process group, output appended to the log; returns self.

        Raises:
            RuntimeError: It is already running.
        """
        if self.alive:
            raise RuntimeError(f"{self.name} is already running")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            log.write(f"---- start {self.name}: {' '.join(self.argv)}\n".encode())
            log.flush()
            self._popen = subprocess.Popen(
                list(self.argv),
                cwd=self.cwd,
                env=dict(self.env),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        _LIVE.add(self._popen.pid)
        return self

    async def wait_ready(self, *, bound_s: float = READY_TIMEOUT_S) -> None:
        """Probe the readiness check until it passes.

        Args:
            bound_s: Give up after this long.

        Raises:
            PartError: The part exited first, or the bound passed (the log's tail is in the
                message).
        """
        if self.ready is None:
            return
        await self.wait_until(self.ready, bound_s=bound_s)

    async def wait_until(self, readiness: Readiness, *, bound_s: float = READY_TIMEOUT_S) -> None:
        """Probe `readiness` (any condition about this part) until it passes, while it runs.

        Args:
            readiness: The condition.
            bound_s: Give up after this long.

        Raises:
            PartError: The part exited first, or the bound passed.
        """
        deadline = time.monotonic() + bound_s
        while True:
            if not self.alive:
                raise PartError(
                    f"{self.name} exited with code {self.returncode} before it was ready "
                    f"(log: {self.log_path})\n{self.log_tail()}"
                )
            with contextlib.suppress(TimeoutError):
                if await asyncio.wait_for(readiness.probe(self), PROBE_TIMEOUT_S):
                    return
            if time.monotonic() > deadline:
                raise PartError(
                    f"{self.name} not ready after {bound_s:g} s: {readiness.what} "
                    f"(log: {self.log_path})\n{self.log_tail()}"
                )
            await asyncio.sleep(POLL_S)

    async def launch(self, *, bound_s: float = READY_TIMEOUT_S) -> Part:
        """`start()`, then `wait_ready()`; returns self.

        Raises:
            PartError: It exited or was not ready within `bound_s` (it is left to the caller's
                stop, like any started part).
        """
        self.start()
        await self.wait_ready(bound_s=bound_s)
        return self

    def kill(self) -> None:
        """SIGKILL the process group and reap it: a crash, nothing of it runs after this."""
        if self._popen is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._popen.pid, signal.SIGKILL)
        self._popen.wait()
        _LIVE.discard(self._popen.pid)

    async def stop(self, *, grace_s: float = STOP_GRACE_S) -> None:
        """SIGTERM the process group; SIGKILL it if the process still runs after `grace_s`."""
        if self._popen is None:
            return
        if self._popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._popen.pid, signal.SIGTERM)
            await self.wait_exit(within=grace_s)
        # Also reaches whatever the part started itself and left in its group.
        self.kill()

    async def restart(
        self, *, grace_s: float = STOP_GRACE_S, bound_s: float = READY_TIMEOUT_S
    ) -> Part:
        """`stop()` if it runs, then `launch()` with the same command, environment and log."""
        await self.stop(grace_s=grace_s)
        return await self.launch(bound_s=bound_s)

    async def wait_exit(self, *, within: float | None = None) -> int | None:
        """Wait until the process exits, at most `within` seconds (None: no bound).

        Returns:
            Its exit code; None when it still runs after `within`.
        """
        process = self.process
        deadline = None if within is None else time.monotonic() + within
        while (code := process.poll()) is None:
            if deadline is not None and time.monotonic() >= deadline:
                return None
            # A child's exit gives this loop no event (the loop may not own a child watcher).
            await asyncio.sleep(POLL_S)
        return code

    def log_tail(self, lines: int = 15) -> str:
        """The end of the log, for failure messages."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


# ---- environment and ports ------------------------------------------------------------------


def child_env(
    extra: Mapping[str, str] | None = None, *, drop_prefixes: Sequence[str] = ()
) -> dict[str, str]:
    """This process's environment for a child: the project first on PYTHONPATH, unbuffered.

    Args:
        extra: Variables set on top.
        drop_prefixes: Leave out inherited variables starting with these (e.g.
            `SETTINGS_PREFIXES`, so a test's child sees only what the test sets).
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith(tuple(drop_prefixes))}
    path = env.get("PYTHONPATH")
    env["PYTHONPATH"] = str(PROJECT_ROOT) + (os.pathsep + path if path else "")
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra or {})
    return env


_HANDED_OUT: set[int] = set()
"""Ports `free_port` already gave this process: a port is free until its part binds it, and
the kernel may offer the same one again meanwhile (a dev server was once given one port for
both its gRPC and HTTP APIs and could not start)."""


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on now on `host`, never one this process was given before."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((host, 0))
            port: int = sock.getsockname()[1]
        if port not in _HANDED_OUT:
            _HANDED_OUT.add(port)
            return port


def port_bindable(host: str, port: int) -> bool:
    """True when a server could listen on `host:port` now (bound as uvicorn binds: reusing
    the address, so connections of a dead listener waiting out TIME_WAIT do not count)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


async def wait_port_bindable(host: str, port: int, *, bound_s: float = READY_TIMEOUT_S) -> None:
    """Wait until `host:port` can be bound again, e.g. before restarting a killed server on it.

    A port a killed server listened on can be held for a while by another socket: a client
    that connected to the dead port from that very port (a TCP self-connect, possible when the
    port lies in the ephemeral range, as `free_port()`'s do), or an outgoing connection that
    was given it as its local port. A restart then fails with "address already in use".

    Raises:
        PartError: It was still taken after `bound_s`.
    """
    deadline = time.monotonic() + bound_s
    while not port_bindable(host, port):
        if time.monotonic() > deadline:
            raise PartError(f"port {port} on {host} still in use after {bound_s:g} s")
        await asyncio.sleep(POLL_S)  # another socket's release gives no event to wait on


def port_open(host: str, port: int) -> bool:
    """True when something accepts TCP connections on `host:port`."""
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
        return True
    return False


# ---- readiness checks ----------------------------------------------------------------------


def port_check(host: str, port: int) -> Readiness:
    """Ready once `host:port` accepts connections."""

    async def probe(_: Part) -> bool:
        return await asyncio.to_thread(port_open, host, port)

    return Readiness(probe, f"port {port} on {host} accepts connections")


def http_check(url: str) -> Readiness:
    """Ready once `GET url` answers 2xx."""

    async def probe(_: Part) -> bool:
        try:
            async with httpx.AsyncClient(timeout=1.0) as http:
                return (await http.get(url)).is_success
        except httpx.HTTPError:
            return False

    return Readiness(probe, f"GET {url} answers 2xx")


def worker_check(client: Client, task_queue: str) -> Readiness:
    """Ready once this very process polls both queues of a run (`<queue>`, `<queue>-openai`).

    The poller's identity is the SDK's default `pid@host`, so pollers of a killed predecessor,
    which Temporal lists for a while, do not count.
    """

    async def probe(part: Part) -> bool:
        mine = f"{part.pid}@"
        try:
            main = await live_pollers(client, task_queue, "workflow")
            api = await live_pollers(client, task_queue + OPENAI_QUEUE_SUFFIX, "activity")
        except RPCError:
            return False
        return any(p.startswith(mine) for p in main) and any(p.startswith(mine) for p in api)

    return Readiness(probe, f"it polls {task_queue} and {task_queue}{OPENAI_QUEUE_SUFFIX}")


async def wait_client(
    part: Part, settings: Settings, *, bound_s: float = READY_TIMEOUT_S
) -> Client:
    """Connect to the Temporal server `part` runs, retrying while it does not answer yet.

    Args:
        part: The server's part (its exit ends the wait).
        settings: Address and namespace of the server.
        bound_s: Give up after this long.

    Returns:
        A connected client (pydantic payloads).

    Raises:
        PartError: The part exited, or no client connected within `bound_s`.
    """
    clients: list[Client] = []

    async def connected(_: Part) -> bool:
        try:
            clients.append(await connect_client(settings))
        except TemporalUnreachableError:
            return False
        return True

    what = f"no Temporal frontend answers at {settings.temporal_address}"
    await part.wait_until(Readiness(connected, what), bound_s=bound_s)
    return clients[0]


# ---- the project's parts --------------------------------------------------------------------


def temporal_part(
    log_dir: Path,
    *,
    port: int,
    host: str = "127.0.0.1",
    ui_port: int | None = None,
    db_filename: Path | None = None,
    env: Mapping[str, str] | None = None,
    name: str = "temporal",
) -> Part:
    """The Temporal dev server with our search attributes and latency settings.

    Restartable on the same ports: its HTTP API port is chosen here, once.

    Args:
        log_dir: Holds `<name>.log`.
        port: gRPC frontend.
        host: Interface it listens on.
        ui_port: The Web UI; None runs it headless.
        db_filename: SQLite file keeping workflows across restarts; in memory when None.
        env: The whole environment (default `child_env()`).
        name: Part and log name.
    """
    argv = start_dev_args(
        port=port,
        ui_port=ui_port,
        db_filename=str(db_filename.resolve()) if db_filename else None,
        http_port=free_port(host),
        ip=host,
    )
    return Part(
        name,
        argv,
        log_dir / f"{name}.log",
        child_env() if env is None else env,
        port_check(host, port),
    )


def emulator_part(
    log_dir: Path,
    *,
    port: int,
    host: str = "127.0.0.1",
    webhook_url: str | None = None,
    quiet: bool = False,
    env: Mapping[str, str] | None = None,
    name: str = "emulator",
) -> Part:
    """The OpenAI emulator (`python -m durable_runs_emulator`, a dev extra).

    Args:
        log_dir: Holds `<name>.log`.
        port: Where it listens.
        host: Interface it listens on.
        webhook_url: Where it posts signed events; the secret comes from `OPENAI_WEBHOOK_SECRET`
            in `env` (kept out of the command line).
        quiet: No access log (it costs CPU under load).
        env: The whole environment (default `child_env()`).
        name: Part and log name.
    """
    argv = [sys.executable, "-m", "durable_runs_emulator", "--host", host, "--port", str(port)]
    if webhook_url:
        argv += ["--webhook-url", webhook_url]
    if quiet:
        argv.append("--quiet")
    ready = http_check(f"http://{host}:{port}/_emulator/health")
    return Part(name, argv, log_dir / f"{name}.log", child_env() if env is None else env, ready)


def bridge_part(
    log_dir: Path,
    *,
    port: int,
    host: str = "127.0.0.1",
    env: Mapping[str, str] | None = None,
    name: str = "bridge",
    log_level: str = "info",
) -> Part:
    """The webhook bridge (`python -m durable_runs.cli bridge`), configured by `env`.

    Args:
        log_dir: Holds `<name>.log`.
        port: Where it listens.
        host: Interface it listens on.
        env: The whole environment (`OPENAI_WEBHOOK_SECRET`, `TEMPORAL_ADDRESS`, and for
            `retrieve` routing `OPENAI_API_KEY` / `OPENAI_BASE_URL`); default `child_env()`.
        name: Part and log name.
        log_level: uvicorn's log level (`info` logs every request).
    """
    argv = [sys.executable, "-m", "durable_runs.cli", "bridge", "--host", host, "--port", str(port),
            "--log-level", log_level]  # fmt: skip
    ready = http_check(f"http://{host}:{port}/healthz")
    return Part(name, argv, log_dir / f"{name}.log", child_env() if env is None else env, ready)


def worker_part(
    log_dir: Path,
    *,
    client: Client,
    task_queue: str,
    env: Mapping[str, str] | None = None,
    name: str = "worker",
) -> Part:
    """A worker (`python -m durable_runs.cli worker`) on the server and namespace of `client`.

    `TEMPORAL_ADDRESS`, `TEMPORAL_NAMESPACE` and `DURABLE_RUNS_TASK_QUEUE` are set from the
    arguments; the rest (`OPENAI_*`, other `DURABLE_RUNS_*`) comes from `env`. Ready once this
    process polls both of its queues.

    Args:
        log_dir: Holds `<name>.log`.
        client: Client of the server the worker joins (also used by the readiness check).
        task_queue: Main task queue.
        env: The whole environment (default `child_env()`).
        name: Part and log name.
    """
    full_env = {
        **(child_env() if env is None else env),
        "TEMPORAL_ADDRESS": client.service_client.config.target_host,
        "TEMPORAL_NAMESPACE": client.namespace,
        "DURABLE_RUNS_TASK_QUEUE": task_queue,
    }
    argv = [sys.executable, "-m", "durable_runs.cli", "worker"]
    return Part(name, argv, log_dir / f"{name}.log", full_env, worker_check(client, task_queue))
