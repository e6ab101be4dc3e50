"""The embedded stack as subprocesses: Temporal dev server, emulator, webhook bridge, worker.

`running_stack(config)` starts each part (see `durable_runs.processes`), waits (with a bound)
until it is ready, and stops everything it started when the block ends, whether normally, on an
error or on Ctrl-C: SIGTERM to each process group, then SIGKILL after a grace period. An
`atexit` hook kills any survivor if the interpreter exits without running the block's cleanup.
"""

from __future__ import annotations

import asyncio
import base64
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from durable_runs.processes import (
    Part,
    PartError,
    bridge_part,
    child_env,
    emulator_part,
    port_open,
    temporal_part,
    wait_client,
    worker_part,
)
from durable_runs.settings import DEFAULT_TASK_QUEUE, Settings

EMULATOR_API_KEY = "sk-emulator-durable-runs"
"""The key the worker sends to the emulator (it accepts any key not starting with `sk-bad`)."""


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


def new_webhook_secret() -> str:
    """A fresh Standard Webhooks secret (`whsec_` + base64 of 32 random bytes)."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


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

    def start(self, part: Part) -> Part:
        """Start `part` and own it: `stop()` stops it. Returns it (not yet ready)."""
        self.parts.append(part.start())
        return part

    async def stop(self) -> None:
        """Stop every part, newest first: SIGTERM, then SIGKILL after a grace period."""
        while self.parts:
            await self.parts.pop().stop()


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
    ports = {"Temporal": config.temporal_port, "Temporal UI": config.ui_port}
    if config.emulator:
        ports["emulator"] = config.emulator_port
    ports["bridge"] = config.bridge_port
    _ensure_free(config, ports)
    logs = config.data_dir / "logs"
    host = config.host
    try:
        temporal = stack.start(
            temporal_part(
                logs,
                host=host,
                port=config.temporal_port,
                ui_port=config.ui_port,
                db_filename=config.data_dir / "temporal.db" if config.persistent else None,
            )
        )
        await temporal.wait_ready()
        client = await wait_client(temporal, stack.settings())

        secret_env = {"OPENAI_WEBHOOK_SECRET": stack.webhook_secret}
        # The bridge reads each response an event names: it needs the worker's key and base
        # URL (without the emulator, both come from this process's environment).
        openai_env: dict[str, str] = {}
        if config.emulator:
            openai_env = {
                "OPENAI_BASE_URL": stack.emulator_url + "/v1",
                "OPENAI_API_KEY": EMULATOR_API_KEY,
            }
        bridge_env = {**secret_env, **openai_env, "TEMPORAL_ADDRESS": stack.temporal_address}
        bridge = stack.start(
            bridge_part(logs, host=host, port=config.bridge_port, env=child_env(bridge_env))
        )
        if config.emulator:
            emulator = stack.start(
                emulator_part(
                    logs,
                    host=host,
                    port=config.emulator_port,
                    webhook_url=stack.webhook_url,
                    env=child_env(secret_env),  # the secret travels in the environment
                )
            )
            await emulator.wait_ready()
        await bridge.wait_ready()
        worker = stack.start(
            worker_part(
                logs, client=client, task_queue=config.task_queue, env=child_env(openai_env)
            )
        )
        await worker.wait_ready()
    except PartError as err:
        raise StackError(str(err)) from err


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
    waits = {asyncio.ensure_future(part.wait_exit()): part for part in stack.parts}
    try:
        done, _ = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in waits:
            task.cancel()
    return waits[next(iter(done))]
