"""Real processes for crash tests: the Temporal dev server, workers and the bridge as subprocesses.

Every process runs in its own process group with its output in a log file; `kill()` is SIGKILL
(a crash: no graceful shutdown, nothing flushed), `stop()` is SIGTERM then SIGKILL after a bound.
Waiting is always for a condition with a bound (`wait_for`), never a fixed sleep.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from temporalio.api.workflowservice.v1 import GetSystemInfoRequest
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from durable_runs.devserver import start_dev_args
from tests.waiting import ConditionTimeout, wait_for

PROJECT_ROOT = Path(__file__).resolve().parents[2]
"""The repository root: the cwd of worker and bridge subprocesses (`python worker.py`)."""


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Proc:
    """One subprocess with its log file.

    Attributes:
        name: For messages and the log file name.
        args: The command.
        log_path: Where stdout and stderr go (appended across restarts).
        env: The full environment.
        cwd: Working directory.
    """

    name: str
    args: list[str]
    log_path: Path
    env: dict[str, str] = field(default_factory=lambda: dict(os.environ))
    cwd: Path = PROJECT_ROOT
    _popen: subprocess.Popen[bytes] | None = None

    def start(self) -> Proc:
        """Start the process (in a new process group); returns self."""
        assert not self.alive, f"{self.name} is already running"
        with self.log_path.open("ab") as log:
            log.write(f"---- start {self.name}: {' '.join(self.args)}\n".encode())
            log.flush()
            self._popen = subprocess.Popen(
                self.args,
                cwd=self.cwd,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    @property
    def pid(self) -> int:
        """The process id."""
        assert self._popen is not None
        return self._popen.pid

    @property
    def alive(self) -> bool:
        """True while the process runs."""
        return self._popen is not None and self._popen.poll() is None

    def kill(self) -> None:
        """SIGKILL the process group and reap it: a crash, nothing runs after this."""
        if self._popen is None:
            return
        if self._popen.poll() is None:
            os.killpg(self._popen.pid, signal.SIGKILL)
        self._popen.wait(timeout=10)

    def stop(self, *, grace_s: float = 10.0) -> None:
        """SIGTERM, then SIGKILL if it is still running after `grace_s`."""
        if self._popen is None or self._popen.poll() is not None:
            return
        os.killpg(self._popen.pid, signal.SIGTERM)
        try:
            self._popen.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            self.kill()

    def log_tail(self, lines: int = 40) -> str:
        """The end of the process's log, for failure messages."""
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


def subprocess_env(**overrides: str) -> dict[str, str]:
    """This process's environment without our settings' variables, plus `overrides`."""
    prefixes = ("OPENAI_", "TEMPORAL_", "DURABLE_RUNS_", "CRASH_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}
    env["PYTHONUNBUFFERED"] = "1"
    env.update(overrides)
    return env


class DevServer:
    """The real Temporal dev server (`temporal server start-dev`) persisting to a SQLite file.

    It can be stopped and started again on the same port and database, so workflows survive.
    """

    def __init__(self, workdir: Path) -> None:
        """Args: workdir: holds the database file and the log."""
        self.port = free_port()
        self.ui_port = free_port()
        self.db_path = workdir / "temporal.db"
        self.proc = Proc(
            "temporal",
            start_dev_args(
                port=self.port,
                ui_port=self.ui_port,
                db_filename=str(self.db_path),
                http_port=free_port(),  # fixed: a restart must not let the CLI pick `port`
            ),
            log_path=workdir / "temporal.log",
            env=subprocess_env(),
        )

    @property
    def address(self) -> str:
        """`host:port` for `TEMPORAL_ADDRESS`."""
        return f"127.0.0.1:{self.port}"

    async def start(self, *, bound_s: float = 30.0) -> None:
        """Start the server and wait until it answers a client."""
        self.proc.start()

        async def ready() -> bool:
            if not self.proc.alive:
                raise ConditionTimeout(f"temporal exited:\n{self.proc.log_tail()}")
            client = await Client.connect(self.address)
            await client.workflow_service.get_system_info(GetSystemInfoRequest())
            return True

        await wait_for(ready, within=bound_s, what="the Temporal dev server accepts clients")

    def stop(self) -> None:
        """Stop the server (SIGTERM, SIGKILL after a bound); the database file stays."""
        self.proc.stop(grace_s=10)

    async def connect(self) -> Client:
        """A client with our pydantic data converter."""
        return await Client.connect(self.address, data_converter=pydantic_data_converter)


def worker_proc(
    workdir: Path,
    name: str,
    *,
    temporal_address: str,
    task_queue: str,
    openai_base_url: str,
    tools: str = "tests.crash.tools:registry",
    extra_env: dict[str, str] | None = None,
) -> Proc:
    """A `python worker.py` process configured from the environment, like production.

    Args:
        workdir: Holds its log.
        name: Distinguishes workers of one test (`worker-1`, `worker-2`).
        temporal_address: `TEMPORAL_ADDRESS`.
        task_queue: `DURABLE_RUNS_TASK_QUEUE`.
        openai_base_url: `OPENAI_BASE_URL` (the emulator).
        tools: `DURABLE_RUNS_TOOLS`.
        extra_env: More variables (the test tools' ledger and mode).
    """
    env = subprocess_env(
        OPENAI_API_KEY="sk-crash-test",
        OPENAI_BASE_URL=openai_base_url,
        TEMPORAL_ADDRESS=temporal_address,
        DURABLE_RUNS_TASK_QUEUE=task_queue,
        DURABLE_RUNS_TOOLS=tools,
        **(extra_env or {}),
    )
    return Proc(name, [sys.executable, "worker.py"], log_path=workdir / f"{name}.log", env=env)


async def wait_worker_polling(proc: Proc, *, bound_s: float = 30.0) -> None:
    """Wait until the worker process logged that it polls its queues."""

    async def polling() -> bool:
        if not proc.alive:
            raise ConditionTimeout(f"{proc.name} exited:\n{proc.log_tail()}")
        return "worker polling" in proc.log_path.read_text(errors="replace")

    await wait_for(polling, within=bound_s, what=f"{proc.name} polls")


BRIDGE_CODE = (
    "import sys; from durable_runs.bridge.server import serve; from durable_runs.settings import Settings; "
    "serve(Settings(), host='127.0.0.1', port=int(sys.argv[1]), log_level='warning')"
)


def bridge_proc(
    workdir: Path, *, port: int, temporal_address: str, webhook_secret: str, openai_base_url: str
) -> Proc:
    """The webhook bridge as its own process (uvicorn), configured from the environment.

    It reads an id-only event's response from the API (`OPENAI_BASE_URL`, the emulator).
    """
    env = subprocess_env(
        TEMPORAL_ADDRESS=temporal_address,
        OPENAI_WEBHOOK_SECRET=webhook_secret,
        OPENAI_API_KEY="sk-crash-test",
        OPENAI_BASE_URL=openai_base_url,
    )
    return Proc(
        "bridge",
        [sys.executable, "-c", BRIDGE_CODE, str(port)],
        log_path=workdir / "bridge.log",
        env=env,
    )


async def wait_bridge_healthy(proc: Proc, port: int, *, bound_s: float = 30.0) -> None:
    """Wait until the bridge answers `GET /healthz`."""

    async def healthy() -> bool:
        if not proc.alive:
            raise ConditionTimeout(f"bridge exited:\n{proc.log_tail()}")
        async with httpx.AsyncClient() as http:
            response = await http.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
            return response.status_code == 200

    await wait_for(healthy, within=bound_s, what="the bridge answers /healthz")
