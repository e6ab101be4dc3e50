"""The benchmark's processes: Temporal dev server, emulator, bridge, worker; and their metering."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil
from temporalio.client import Client

from durable_runs.processes import (
    PROJECT_ROOT,
    Part,
    bridge_part,
    child_env,
    emulator_part,
    free_port,
    temporal_part,
    wait_client,
    worker_part,
)
from durable_runs.settings import Settings

ROOT = PROJECT_ROOT
"""The project root: the working directory of child processes."""

API_KEY = "sk-bench-durable-runs"
"""Any key the emulator accepts."""

STARTUP_TIMEOUT_S = 60.0
"""Bound on waiting for a child process to become ready."""

MIB = 1024 * 1024


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


@dataclass(frozen=True)
class TemporalServer:
    """The Temporal dev server in a child process, and a client of it.

    Attributes:
        client: Connected client (pydantic payloads).
        pid: The server's process id.
    """

    client: Client
    pid: int

    @property
    def address(self) -> str:
        """`host:port` for `TEMPORAL_ADDRESS`."""
        return self.client.service_client.config.target_host


@asynccontextmanager
async def temporal_server(log_dir: Path) -> AsyncIterator[TemporalServer]:
    """The real Temporal dev server (headless, in memory) with our search attributes and
    latency settings, on a free port; stopped on exit."""
    port = free_port()
    part = temporal_part(log_dir, port=port)
    try:
        await part.launch(bound_s=STARTUP_TIMEOUT_S)
        settings = Settings(TEMPORAL_ADDRESS=f"127.0.0.1:{port}", TEMPORAL_NAMESPACE="default")
        client = await wait_client(part, settings, bound_s=STARTUP_TIMEOUT_S)
        yield TemporalServer(client=client, pid=part.pid)
    finally:
        await part.stop()


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


async def stop_process(proc: asyncio.subprocess.Process, *, timeout_s: float = 15.0) -> None:
    """SIGTERM, then SIGKILL if it does not exit within `timeout_s`.

    For the client loop, which talks to the bench over pipes; the project's own processes are
    `durable_runs.processes` parts.
    """
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
    part = emulator_part(log_dir, port=port, quiet=True)
    limits = httpx.Limits(max_connections=10)
    try:
        await part.launch(bound_s=STARTUP_TIMEOUT_S)
        async with httpx.AsyncClient(limits=limits) as http:
            yield Emulator(root_url=f"http://127.0.0.1:{port}", pid=part.pid, http=http)
    finally:
        await part.stop()


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
    env = child_env(
        {
            "OPENAI_WEBHOOK_SECRET": secret,
            "OPENAI_API_KEY": API_KEY,
            "OPENAI_BASE_URL": api_url,
            "TEMPORAL_ADDRESS": temporal_address,
            "TEMPORAL_NAMESPACE": "default",
            "DURABLE_RUNS_BRIDGE_ROUTING": routing,
        }
    )
    # Warnings only: a log line per request would count as bridge CPU.
    part = bridge_part(log.parent, port=port, env=env, name=log.stem, log_level="warning")
    try:
        await part.launch(bound_s=STARTUP_TIMEOUT_S)
        yield BridgeProcess(root_url=f"http://127.0.0.1:{port}", pid=part.pid)
    finally:
        await part.stop()


@dataclass
class WorkerProcess:
    """A worker in a child process, with its meter.

    Attributes:
        part: The child process.
        meter: Measures it (CPU, memory).
    """

    part: Part
    meter: Meter

    @property
    def pid(self) -> int:
        """Its process id."""
        return self.part.pid

    async def kill(self) -> None:
        """SIGKILL: no graceful shutdown, in-flight tasks are lost."""
        self.part.kill()

    async def stop(self) -> None:
        """SIGTERM (graceful), then SIGKILL after a bound."""
        await self.part.stop(grace_s=15.0)


async def start_worker(client: Client, env: Mapping[str, str], log: Path) -> WorkerProcess:
    """Start a worker with `env` added and wait until it polls its queues.

    Args:
        client: Client of the server it joins (its address and namespace go to the worker).
        env: Its settings (`worker_env`); `DURABLE_RUNS_TASK_QUEUE` names its queue.
        log: Its log file.

    Raises:
        PartError: The worker exited during startup, or did not poll within the bound (it is
            stopped first).
    """
    part = worker_part(
        log.parent,
        client=client,
        task_queue=env["DURABLE_RUNS_TASK_QUEUE"],
        env=child_env(env),
        name=log.stem,
    )
    try:
        await part.launch(bound_s=STARTUP_TIMEOUT_S)
    except BaseException:
        await part.stop()
        raise
    return WorkerProcess(part=part, meter=Meter(part.pid))


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
