"""The embedded stack as subprocesses: Temporal dev server, emulator, webhook bridge, worker.

`running_stack(config)` starts each part, waits (with a bound) until it is ready, and stops
everything it started when the block ends, whether normally, on an error or on Ctrl-C:
SIGTERM to each process group, then SIGKILL after a grace period. An `atexit` hook kills any
survivor if the interpreter exits without running the block's cleanup.
"""

from __future__ import annotations

import asyncio
import atexit
import base64
import contextlib
import os
import secrets
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx
from temporalio.client import Client

from durable_runs.client import connect_client, live_pollers
from durable_runs.devserver import start_dev_args
from durable_runs.settings import DEFAULT_TASK_QUEUE, OPENAI_QUEUE_SUFFIX, Settings

PROJECT_ROOT = Path(__file__).resolve().parent.parent
"""Directory holding `durable_runs/` and `worker.py` (put on the children's PYTHONPATH)."""

EMULATOR_API_KEY = "sk-emulator-durable-runs"
"""The key the worker sends to the emulator (it accepts any key not starting with `sk-bad`)."""

READY_TIMEOUT_S = 60.0
STOP_GRACE_S = 10.0


class StackError(RuntimeError):
    """A part of the stack failed to start (the message names it and its log file)."""


@dataclass(frozen=True)
class StackConfig:
    """What to start and where.

    Attributes:
        host: Interface every part listens on.
        temporal_port: Temporal frontend (gRPC).
        ui_port: Temporal Web UI.
        emulator_port: OpenAI emulator.
        bridge_port: Webhook bridge.
        data_dir: Holds the Temporal database (`temporal.db`) and the logs.
        task_queue: Queue the worker polls.
        emulator: Start the emulator and point the worker at it; False uses the environment's
            `OPENAI_API_KEY` / `OPENAI_BASE_URL` (then webhooks need a public bridge URL).
        webhook_secret: Secret shared by the emulator (signing) and the bridge (verifying);
            generated when None.
        persistent: Keep Temporal's state in `data_dir/temporal.db` across restarts.
    """

    host: str = "127.0.0.1"
    temporal_port: int = 7233
    ui_port: int = 8233
    emulator_port: int = 4010
    bridge_port: int = 8000
    data_dir: Path = Path(".durable-runs")
    task_queue: str = DEFAULT_TASK_QUEUE
    emulator: bool = True
    webhook_secret: str | None = None
    persistent: bool = True


@dataclass
class Part:
    """One started subprocess."""

    name: str
    process: asyncio.subprocess.Process
    log_path: Path


_LIVE: dict[int, str] = {}
"""Process-group ids started by this process and not yet stopped (for the atexit hook)."""


def _kill_survivors() -> None:
    for pgid in list(_LIVE):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGKILL)
        _LIVE.pop(pgid, None)


atexit.register(_kill_survivors)


def new_webhook_secret() -> str:
    """A fresh Standard Webhooks secret (`whsec_` + base64 of 32 random bytes)."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def port_open(host: str, port: int) -> bool:
    """True when something accepts TCP connections on `host:port`."""
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
        return True
    return False


@dataclass
class Stack:
    """A started stack: addresses of its parts and the settings to reach it."""

    config: StackConfig
    webhook_secret: str
    parts: list[Part] = field(default_factory=list)

    @property
    def temporal_address(self) -> str:
        """`host:port` of the Temporal frontend."""
        return f"{self.config.host}:{self.config.temporal_port}"

    @property
    def ui_url(self) -> str:
        """The Temporal Web UI."""
        return f"http://{self.config.host}:{self.config.ui_port}"

    @property
    def emulator_url(self) -> str:
        """The emulator's root URL (`/v1` is its OpenAI API, `/_emulator/stats` its counters)."""
        return f"http://{self.config.host}:{self.config.emulator_port}"

    @property
    def bridge_url(self) -> str:
        """The bridge's root URL."""
        return f"http://{self.config.host}:{self.config.bridge_port}"

    @property
    def webhook_url(self) -> str:
        """Where the emulator POSTs webhook events."""
        return self.bridge_url + "/webhooks/openai"

    def settings(self) -> Settings:
        """Settings for a client of this stack (Temporal address, UI, queue)."""
        return Settings(
            TEMPORAL_ADDRESS=self.temporal_address,
            TEMPORAL_UI_URL=self.ui_url,
            DURABLE_RUNS_TASK_QUEUE=self.config.task_queue,
        )

    async def stop(self) -> None:
        """Stop every part, newest first: SIGTERM, then SIGKILL after a grace period."""
        while self.parts:
            await _stop(self.parts.pop())


def _child_env(extra: dict[str, str]) -> dict[str, str]:
    env = dict(os.environ)
    path = env.get("PYTHONPATH")
    env["PYTHONPATH"] = str(PROJECT_ROOT) + (os.pathsep + path if path else "")
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


async def _spawn(stack: Stack, name: str, args: list[str], env: dict[str, str]) -> Part:
    logs = stack.config.data_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    log_path = logs / f"{name}.log"
    log: IO[bytes] = log_path.open("wb")
    try:
        process = await asyncio.create_subprocess_exec(
            *args,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=log,
            stderr=asyncio.subprocess.STDOUT,
            env=env,
            cwd=str(PROJECT_ROOT),
            start_new_session=True,  # its own group: Ctrl-C reaches us, we stop it in order
        )
    finally:
        log.close()
    _LIVE[process.pid] = name
    part = Part(name=name, process=process, log_path=log_path)
    stack.parts.append(part)
    return part


async def _stop(part: Part) -> None:
    process = part.process
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), STOP_GRACE_S)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            await process.wait()
    # Anything the part itself started (same group) goes too.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    _LIVE.pop(process.pid, None)


def _tail(path: Path, lines: int = 15) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


async def _wait_ready(part: Part, check: Callable[[], Awaitable[bool]], what: str) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while True:
        if part.process.returncode is not None:
            raise StackError(
                f"{part.name} exited with code {part.process.returncode} before it was ready "
                f"(log: {part.log_path})\n{_tail(part.log_path)}"
            )
        if await check():
            return
        if time.monotonic() > deadline:
            raise StackError(
                f"{part.name} not ready after {READY_TIMEOUT_S:g} s: {what} "
                f"(log: {part.log_path})\n{_tail(part.log_path)}"
            )
        await asyncio.sleep(0.1)


def _port_check(host: str, port: int) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return await asyncio.to_thread(port_open, host, port)

    return check


def _http_check(url: str) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        try:
            async with httpx.AsyncClient(timeout=1.0) as http:
                return (await http.get(url)).status_code == 200
        except httpx.HTTPError:
            return False

    return check


def _free_port(host: str) -> int:
    """A port nothing listens on now, for the dev server's HTTP API.

    Left to itself, the CLI picks one before it binds `--port`, and can pick that very port.
    """
    with socket.socket() as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def _ensure_free(config: StackConfig, ports: dict[str, int]) -> None:
    for name, port in ports.items():
        if port_open(config.host, port):
            raise StackError(
                f"port {port} ({name}) is already in use on {config.host}: is another stack "
                "running? Stop it or choose other ports (see `durable-runs dev --help`)"
            )


async def start_stack(stack: Stack) -> None:
    """Start the parts of `stack` in order and wait until each is ready.

    Raises:
        StackError: A port is taken, or a part exited or was not ready in time.
    """
    config = stack.config
    python = sys.executable
    ports = {"Temporal": config.temporal_port, "Temporal UI": config.ui_port}
    if config.emulator:
        ports["emulator"] = config.emulator_port
    ports["bridge"] = config.bridge_port
    _ensure_free(config, ports)
    config.data_dir.mkdir(parents=True, exist_ok=True)

    db = str((config.data_dir / "temporal.db").resolve()) if config.persistent else None
    args = start_dev_args(
        port=config.temporal_port,
        ui_port=config.ui_port,
        db_filename=db,
        http_port=_free_port(config.host),
    )
    args += ["--ip", config.host]
    temporal = await _spawn(stack, "temporal", args, _child_env({}))
    await _wait_ready(
        temporal,
        _port_check(config.host, config.temporal_port),
        f"port {config.temporal_port} closed",
    )
    client = await _wait_client(stack, temporal)

    secret_env = {"OPENAI_WEBHOOK_SECRET": stack.webhook_secret}
    # The bridge reads each response an event names: it needs the worker's key and base URL
    # (without the emulator, both come from this process's environment).
    openai_env: dict[str, str] = {}
    if config.emulator:
        openai_env = {
            "OPENAI_BASE_URL": stack.emulator_url + "/v1",
            "OPENAI_API_KEY": EMULATOR_API_KEY,
        }
    bridge = await _spawn(
        stack,
        "bridge",
        [python, "-m", "durable_runs.cli", "bridge", "--host", config.host,
         "--port", str(config.bridge_port)],
        _child_env({**secret_env, **openai_env, "TEMPORAL_ADDRESS": stack.temporal_address}),
    )  # fmt: skip

    if config.emulator:
        emulator = await _spawn(
            stack,
            "emulator",
            [python, "-m", "durable_runs_emulator", "--host", config.host,
             "--port", str(config.emulator_port), "--webhook-url", stack.webhook_url],
            _child_env(secret_env),  # the secret travels in the environment, not argv
        )  # fmt: skip
        await _wait_ready(
            emulator, _http_check(stack.emulator_url + "/_emulator/health"), "no health answer"
        )
    await _wait_ready(bridge, _http_check(stack.bridge_url + "/healthz"), "no health answer")

    worker = await _spawn(
        stack,
        "worker",
        [python, "-m", "durable_runs.cli", "worker"],
        _child_env(
            {
                **openai_env,
                "TEMPORAL_ADDRESS": stack.temporal_address,
                "DURABLE_RUNS_TASK_QUEUE": config.task_queue,
            }
        ),
    )
    await _wait_ready(worker, _worker_check(client, config.task_queue), "no poller on its queues")


async def _wait_client(stack: Stack, part: Part) -> Client:
    result: list[Client] = []

    async def check() -> bool:
        try:
            result.append(await connect_client(stack.settings()))
        except RuntimeError:
            return False
        return True

    await _wait_ready(part, check, "the frontend does not answer")
    return result[0]


def _worker_check(client: Client, queue: str) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        main = await live_pollers(client, queue, "workflow")
        api = await live_pollers(client, queue + OPENAI_QUEUE_SUFFIX, "activity")
        return bool(main and api)

    return check


@asynccontextmanager
async def running_stack(config: StackConfig | None = None) -> AsyncIterator[Stack]:
    """Start the stack; stop everything it started when the block ends (also on errors).

    Args:
        config: Ports, data directory, queue; defaults when None.

    Yields:
        The started stack, every part ready.

    Raises:
        StackError: A part failed to start (whatever had started is stopped first).
    """
    config = config or StackConfig()
    stack = Stack(config=config, webhook_secret=config.webhook_secret or new_webhook_secret())
    try:
        await start_stack(stack)
        yield stack
    finally:
        # Shielded: a second cancellation must not leave children behind.
        await asyncio.shield(stack.stop())


async def first_exit(stack: Stack) -> Part:
    """Wait until any part of the stack exits; returns it (for `dev` to report)."""
    waits = {asyncio.ensure_future(part.process.wait()): part for part in stack.parts}
    try:
        done, _ = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in waits:
            task.cancel()
    return waits[next(iter(done))]
