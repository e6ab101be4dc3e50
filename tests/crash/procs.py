"""Real processes for crash tests: the Temporal dev server, workers and the bridge as subprocesses.

They are `durable_runs.processes` parts: each runs in its own process group with its output in a
log file; `kill()` is SIGKILL (a crash: no graceful shutdown, nothing flushed), `stop()` is
SIGTERM then SIGKILL after a bound. Children see none of this process's `OPENAI_*`, `TEMPORAL_*`,
`DURABLE_RUNS_*` or `CRASH_*` variables, only what the test sets.
"""

from __future__ import annotations

from pathlib import Path

from temporalio.client import Client

from durable_runs.processes import (
    SETTINGS_PREFIXES,
    Part,
    bridge_part,
    child_env,
    free_port,
    temporal_part,
    wait_client,
    worker_part,
)
from durable_runs.settings import Settings

START_BOUND_S = 30.0
"""Bound on a process of a crash test becoming ready."""


def subprocess_env(**overrides: str) -> dict[str, str]:
    """This process's environment without our settings' variables, plus `overrides`."""
    return child_env(overrides, drop_prefixes=(*SETTINGS_PREFIXES, "CRASH_"))


class DevServer:
    """The real Temporal dev server (`temporal server start-dev`) persisting to a SQLite file.

    It can be stopped and started again on the same ports and database, so workflows survive.
    """

    def __init__(self, workdir: Path) -> None:
        """Args: workdir: holds the database file and the log."""
        self.port = free_port()
        self.db_path = workdir / "temporal.db"
        self.proc = temporal_part(
            workdir, port=self.port, db_filename=self.db_path, env=subprocess_env()
        )

    @property
    def address(self) -> str:
        """`host:port` for `TEMPORAL_ADDRESS`."""
        return f"127.0.0.1:{self.port}"

    async def start(self, *, bound_s: float = START_BOUND_S) -> None:
        """Start the server and wait until it answers a client."""
        await self.proc.launch(bound_s=bound_s)
        await self.connect(bound_s=bound_s)

    async def stop(self) -> None:
        """Stop the server (SIGTERM, SIGKILL after a bound); the database file stays."""
        await self.proc.stop(grace_s=10)

    async def connect(self, *, bound_s: float = START_BOUND_S) -> Client:
        """A client with our pydantic data converter (waits while the server starts)."""
        settings = Settings(TEMPORAL_ADDRESS=self.address, TEMPORAL_NAMESPACE="default")
        return await wait_client(self.proc, settings, bound_s=bound_s)


def worker_proc(
    workdir: Path,
    name: str,
    *,
    client: Client,
    task_queue: str,
    openai_base_url: str,
    tools: str = "tests.crash.tools:registry",
    extra_env: dict[str, str] | None = None,
) -> Part:
    """A worker process configured from the environment, like production (not started).

    Ready once it polls both queues of `task_queue` (`await proc.wait_ready()`).

    Args:
        workdir: Holds its log.
        name: Distinguishes workers of one test (`worker-1`, `worker-2`).
        client: Client of the test's server (its address goes to the worker).
        task_queue: `DURABLE_RUNS_TASK_QUEUE`.
        openai_base_url: `OPENAI_BASE_URL` (the emulator).
        tools: `DURABLE_RUNS_TOOLS`.
        extra_env: More variables (the test tools' ledger and mode).
    """
    env = subprocess_env(
        OPENAI_API_KEY="sk-crash-test",
        OPENAI_BASE_URL=openai_base_url,
        DURABLE_RUNS_TOOLS=tools,
        # The run moves to the new worker 1 s after the crash instead of Temporal's 10 s.
        DURABLE_RUNS_STICKY_TIMEOUT_S="1",
        **(extra_env or {}),
    )
    return worker_part(workdir, client=client, task_queue=task_queue, env=env, name=name)


def bridge_proc(
    workdir: Path, *, port: int, temporal_address: str, webhook_secret: str, openai_base_url: str
) -> Part:
    """The webhook bridge as its own process, configured from the environment (not started).

    It reads an id-only event's response from the API (`OPENAI_BASE_URL`, the emulator). Ready
    once it answers `GET /healthz` (`await proc.wait_ready()`).
    """
    env = subprocess_env(
        TEMPORAL_ADDRESS=temporal_address,
        OPENAI_WEBHOOK_SECRET=webhook_secret,
        OPENAI_API_KEY="sk-crash-test",
        OPENAI_BASE_URL=openai_base_url,
    )
    return bridge_part(workdir, port=port, env=env)
