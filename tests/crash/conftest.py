"""Crash-suite fixtures: per test, a Temporal dev server process, the emulator, worker processes.

Select the suite with `pytest -m crash` (or deselect it with `-m "not crash"`).
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from durable_runs_emulator.app import create_app
from durable_runs_emulator.config import EmulatorConfig
from durable_runs_emulator.server import RunningEmulator
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from temporalio.client import Client

from durable_runs.processes import Part
from durable_runs.serving import serving
from tests.crash.procs import START_BOUND_S, DevServer, worker_proc
from tests.crash.tools import LEDGER_ENV, MODE_ENV, Ledger


def pytest_configure(config: pytest.Config) -> None:
    """Register the `crash` marker."""
    config.addinivalue_line(
        "markers", "crash: real-process crash tests (SIGKILL workers, restart servers)"
    )


CREATE_PATH = re.compile(r"^/v1/(responses|threads/[^/]+/runs)$")
"""The creates of a run (Assistants) or a response (Responses)."""


class AnswerGate:
    """ASGI wrapper of the emulator: while closed, a create is committed but its answer is held.

    That is the moment a crash can lose a create the API made: the object exists (and shows in
    the stats), the worker has not seen its id. Creates that arrive while it is open pass.
    """

    def __init__(self, app: ASGIApp) -> None:
        """Args: app: the emulator app."""
        self.app = app
        self.opened = asyncio.Event()
        self.opened.set()
        self.held = 0

    def close(self) -> None:
        """Hold the answers of the creates that arrive from now on."""
        self.opened.clear()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the call through, holding a create's answer while closed."""
        gated = (
            scope["type"] == "http"
            and scope["method"] == "POST"
            and bool(CREATE_PATH.match(scope["path"]))
            and not self.opened.is_set()
        )
        if not gated:
            await self.app(scope, receive, send)
            return

        async def held_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                self.held += 1
                await self.opened.wait()
            await send(message)

        await self.app(scope, receive, held_send)


@dataclass
class Stack:
    """Everything one crash test runs against.

    Attributes:
        workdir: Logs, the Temporal database, the tool ledger.
        server: The Temporal dev server process.
        emulator: The OpenAI emulator (in this process, real HTTP).
        gate: Holds create answers on demand (`AnswerGate`).
        client: Temporal client of `server`.
        ledger: The test tools' ledger.
        task_queue: This test's queue.
        procs: Every process started, stopped at teardown.
    """

    workdir: Path
    server: DevServer
    emulator: RunningEmulator
    gate: AnswerGate
    client: Client
    ledger: Ledger
    task_queue: str = field(default_factory=lambda: f"crash-{uuid.uuid4()}")
    procs: list[Part] = field(default_factory=list)

    def track(self, proc: Part) -> Part:
        """Register a process for teardown and start it."""
        self.procs.append(proc)
        return proc.start()

    async def start_worker(self, name: str, *, mode: str = "run", wait: bool = True) -> Part:
        """Start a worker process on this test's queue.

        Args:
            name: Log name (`worker-1`).
            mode: The test tools' `CRASH_TOOL_MODE` in this process.
            wait: Wait until it polls both of its queues.
        """
        proc = self.track(
            worker_proc(
                self.workdir,
                name,
                client=self.client,
                task_queue=self.task_queue,
                openai_base_url=self.emulator.base_url,
                extra_env={LEDGER_ENV: str(self.ledger.directory), MODE_ENV: mode},
            )
        )
        if wait:
            await proc.wait_ready(bound_s=START_BOUND_S)
        return proc

    async def objects_of(self, workflow_id: str) -> list[dict[str, Any]]:
        """The emulator's records of every run/response created for a workflow."""
        stats = await self.emulator.stats()
        ids = stats["runs_by_workflow"].get(workflow_id, [])
        ids += stats.get("responses_by_workflow", {}).get(workflow_id, [])
        objects = {**stats["runs"], **stats.get("responses", {})}
        return [{"id": i, **objects[i]} for i in ids]

    def logs(self) -> str:
        """Log tails of every process, for failure messages."""
        procs = [self.server.proc, *self.procs]
        return "\n".join(f"==== {p.name} ({p.log_path})\n{p.log_tail()}" for p in procs)


@asynccontextmanager
async def open_stack(tmp_path: Path, config: EmulatorConfig | None = None) -> AsyncIterator[Stack]:
    """Start a dev server and an emulator; yield the stack; stop every process at the end."""
    server = DevServer(tmp_path)
    try:
        await server.start()
        app = create_app(config)
        gate = AnswerGate(app)
        async with serving(gate, access_log=False) as served:
            root = served.root_url
            emu = RunningEmulator(root, f"{root}/v1", app.state.emulator)
            stack = Stack(
                workdir=tmp_path,
                server=server,
                emulator=emu,
                gate=gate,
                client=await server.connect(),
                ledger=Ledger(tmp_path / "ledger"),
            )
            try:
                yield stack
            finally:
                stack.ledger.release()
                gate.opened.set()
                for proc in reversed(stack.procs):
                    proc.kill()
                print(stack.logs())  # shown by pytest when the test failed
    finally:
        await server.stop()


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    """A fresh dev server process, emulator and ledger for one test."""
    async with open_stack(tmp_path) as opened:
        yield opened
