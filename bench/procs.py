"""The benchmark's processes: Temporal dev server, emulator, bridge, worker; and their metering."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil
from temporalio.client import Client

from durable_runs.devserver import start_dev_environment

ROOT = Path(__file__).resolve().parent.parent
"""The project root: the working directory of child processes (`worker.py` lives there)."""

API_KEY = "sk-bench-durable-runs"
"""Any key the emulator accepts."""

STARTUP_TIMEOUT_S = 60.0
"""Bound on waiting for a child process to become ready."""

MIB = 1024 * 1024


def free_port() -> int:
    """A port that was free on 127.0.0.1 a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def peak_rss_bytes(proc: psutil.Process) -> int:
    """The kernel's high-water mark of resident memory (`VmHWM`), else the current RSS."""
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{proc.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    rss: int = proc.memory_info().rss
    return rss


@dataclass
class Usage:
    """CPU and memory of one measured process over one benchmark phase.

    Attributes:
        cpu_seconds: User + system CPU used during the phase.
        peak_rss_bytes: Highest resident memory seen (kernel high-water mark).
        baseline_rss_bytes: Resident memory when the phase began (after startup).
    """

    cpu_seconds: float
    peak_rss_bytes: int
    baseline_rss_bytes: int


@dataclass
class Meter:
    """Measures a process from `begin()` to `end()` (call `end()` before it exits)."""

    pid: int
    _proc: psutil.Process = field(init=False)
    _cpu0: float = 0.0
    _rss0: int = 0
    _peak: int = 0

    def __post_init__(self) -> None:
        self._proc = psutil.Process(self.pid)

    def _cpu(self) -> float:
        times = self._proc.cpu_times()
        return float(times.user + times.system)

    def begin(self) -> None:
        """Start the phase: remember CPU so far and the current RSS."""
        self._cpu0 = self._cpu()
        self._rss0 = int(self._proc.memory_info().rss)

    def sample(self) -> None:
        """Note the current RSS (a fallback where `VmHWM` is unavailable)."""
        with contextlib.suppress(psutil.Error):
            self._peak = max(self._peak, int(self._proc.memory_info().rss))

    def end(self) -> Usage:
        """Finish the phase; the process must still be alive."""
        self.sample()
        return Usage(
            cpu_seconds=self._cpu() - self._cpu0,
            peak_rss_bytes=max(self._peak, peak_rss_bytes(self._proc)),
            baseline_rss_bytes=self._rss0,
        )


@asynccontextmanager
async def temporal_server() -> AsyncIterator[Client]:
    """The real Temporal dev server with our search attributes and latency settings."""
    env = await start_dev_environment()
    async with env:
        yield env.client


def temporal_server_pid(client: Client) -> int:
    """The pid of the dev server `client` talks to: our child process listening on its port.

    Raises:
        LookupError: No child process of ours listens on that port.
    """
    port = int(client.service_client.config.target_host.rsplit(":", 1)[1])
    for child in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.Error):
            if any(c.laddr.port == port for c in child.net_connections(kind="tcp")):
                pid: int = child.pid
                return pid
    raise LookupError(f"no child process listens on port {port}")


@dataclass
class Emulator:
    """The emulator running in a child process.

    Attributes:
        root_url: `http://127.0.0.1:port`.
        pid: Its process id.
    """

    root_url: str
    pid: int
    http: httpx.AsyncClient

    @property
    def base_url(self) -> str:
        """What `AsyncOpenAI(base_url=...)` needs."""
        return self.root_url + "/v1"

    async def stats(self) -> dict[str, Any]:
        """`GET /_emulator/stats`."""
        response = await self.http.get(self.root_url + "/_emulator/stats", timeout=120)
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result

    async def reset(self) -> None:
        """`POST /_emulator/reset`: clear the counters (objects stay)."""
        (await self.http.post(self.root_url + "/_emulator/reset")).raise_for_status()

    async def configure(self, **changes: Any) -> None:
        """`POST /_emulator/config` (a JSON merge)."""
        response = await self.http.post(self.root_url + "/_emulator/config", json=changes)
        response.raise_for_status()


async def _wait_http_ok(
    http: httpx.AsyncClient, url: str, proc: asyncio.subprocess.Process
) -> None:
    """Wait until `url` answers 2xx, the child dies (error) or the startup bound passes."""
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.returncode is not None:
            raise RuntimeError(f"child {proc.pid} exited with {proc.returncode} during startup")
        with contextlib.suppress(httpx.TransportError):
            if (await http.get(url, timeout=2)).is_success:
                return
        # Readiness probe of another process: no event to wait on, so probe with a bound.
        await asyncio.sleep(0.05)
    raise TimeoutError(f"{url} did not come up within {STARTUP_TIMEOUT_S:g} s")


async def stop_process(proc: asyncio.subprocess.Process, *, timeout_s: float = 15.0) -> None:
    """SIGTERM, then SIGKILL if it does not exit within `timeout_s`."""
    if proc.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            proc.terminate()
        try:
            await asyncio.wait_for(proc.wait(), timeout_s)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()


@asynccontextmanager
async def emulator_process(log_dir: Path) -> AsyncIterator[Emulator]:
    """Start the emulator (quiet) on a free port; stop it on exit."""
    port = free_port()
    log = (log_dir / "emulator.log").open("ab")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "durable_runs_emulator", "--quiet", "--port", str(port),
        cwd=ROOT, stdout=log, stderr=log, stdin=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    limits = httpx.Limits(max_connections=10)
    try:
        async with httpx.AsyncClient(limits=limits) as http:
            root = f"http://127.0.0.1:{port}"
            await _wait_http_ok(http, root + "/_emulator/health", proc)
            yield Emulator(root_url=root, pid=proc.pid, http=http)
    finally:
        await stop_process(proc)
        log.close()


BRIDGE_CODE = (
    "import sys; from durable_runs.bridge.server import serve; "
    "from durable_runs.settings import Settings; "
    "serve(Settings(), host='127.0.0.1', port=int(sys.argv[1]), log_level='warning')"
)
"""The bridge as production runs it, configured from its environment (no access log)."""


@dataclass(frozen=True)
class BridgeProcess:
    """The webhook bridge running in a child process.

    Attributes:
        root_url: `http://127.0.0.1:port`.
        pid: Its process id.
    """

    root_url: str
    pid: int

    @property
    def url(self) -> str:
        """The webhook endpoint the emulator posts to."""
        return self.root_url + "/webhooks/openai"


@asynccontextmanager
async def bridge_process(
    *, temporal_address: str, api_url: str, secret: str, log: Path, routing: str = "retrieve"
) -> AsyncIterator[BridgeProcess]:
    """Start the bridge on a free port with `routing`; stop it on exit.

    It gets the emulator's base URL and the bench's key: on an id-only event it retrieves the
    response from the API itself, as it would from api.openai.com.
    """
    port = free_port()
    env = {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        "OPENAI_WEBHOOK_SECRET": secret,
        "OPENAI_API_KEY": API_KEY,
        "OPENAI_BASE_URL": api_url,
        "TEMPORAL_ADDRESS": temporal_address,
        "TEMPORAL_NAMESPACE": "default",
        "DURABLE_RUNS_BRIDGE_ROUTING": routing,
    }
    with log.open("ab") as out:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-c", BRIDGE_CODE, str(port),
            cwd=ROOT, env=env, stdout=out, stderr=out, stdin=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        root = f"http://127.0.0.1:{port}"
        try:
            async with httpx.AsyncClient() as http:
                await _wait_http_ok(http, root + "/healthz", proc)
            yield BridgeProcess(root_url=root, pid=proc.pid)
        finally:
            await stop_process(proc)


@dataclass
class WorkerProcess:
    """`python worker.py` in a child process, with its meter."""

    proc: asyncio.subprocess.Process
    meter: Meter
    ready: asyncio.Event
    _drain: asyncio.Task[None]

    @property
    def pid(self) -> int:
        """Its process id."""
        return self.proc.pid

    async def kill(self) -> None:
        """SIGKILL: no graceful shutdown, in-flight tasks are lost."""
        with contextlib.suppress(ProcessLookupError):
            self.proc.send_signal(signal.SIGKILL)
        await self.proc.wait()
        await self._drain

    async def stop(self) -> None:
        """SIGTERM (graceful), then SIGKILL after a bound."""
        await stop_process(self.proc)
        await self._drain


async def _drain_lines(
    stream: asyncio.StreamReader, log: Path, on_line: Callable[[str], None]
) -> None:
    with log.open("ab") as out:
        while line := await stream.readline():
            out.write(line)
            on_line(line.decode(errors="replace"))


async def start_worker(env: Mapping[str, str], log: Path) -> WorkerProcess:
    """Start `python worker.py` with `env` added and wait until it polls its queues.

    Raises:
        RuntimeError: The worker exited during startup.
        TimeoutError: It did not report polling within the startup bound.
    """
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "worker.py",
        cwd=ROOT, env={**os.environ, **env, "PYTHONUNBUFFERED": "1"},
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    ready = asyncio.Event()

    def on_line(line: str) -> None:
        if "worker polling" in line:
            ready.set()

    assert proc.stderr is not None
    drain = asyncio.create_task(_drain_lines(proc.stderr, log, on_line))
    died = asyncio.create_task(proc.wait())
    ready_task = asyncio.create_task(ready.wait())
    done, _ = await asyncio.wait(
        {died, ready_task}, timeout=STARTUP_TIMEOUT_S, return_when=asyncio.FIRST_COMPLETED
    )
    for task in (died, ready_task):
        if task not in done:
            task.cancel()
    if not ready.is_set():
        await stop_process(proc)
        await drain
        if died in done:
            raise RuntimeError(f"worker exited with {proc.returncode} during startup; see {log}")
        raise TimeoutError(f"worker did not start within {STARTUP_TIMEOUT_S:g} s; see {log}")
    return WorkerProcess(proc=proc, meter=Meter(proc.pid), ready=ready, _drain=drain)


def worker_env(
    *, temporal_address: str, base_url: str, task_queue: str, rpm: int, tools: str | None = None
) -> dict[str, str]:
    """Environment of a worker subprocess pointed at the bench's servers."""
    env = {
        "OPENAI_API_KEY": API_KEY,
        "OPENAI_BASE_URL": base_url,
        "TEMPORAL_ADDRESS": temporal_address,
        "TEMPORAL_NAMESPACE": "default",
        "DURABLE_RUNS_TASK_QUEUE": task_queue,
        "DURABLE_RUNS_OPENAI_RPM": str(rpm),
        "DURABLE_RUNS_BACKEND": "assistants",
    }
    if tools:
        env["DURABLE_RUNS_TOOLS"] = tools
    return env


async def sample_until(meters: list[Meter], done: asyncio.Event, every_s: float = 0.25) -> None:
    """Sample the meters' RSS until `done` is set (fallback for peak RSS without `VmHWM`)."""
    while not done.is_set():
        for meter in meters:
            meter.sample()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(done.wait(), every_s)
