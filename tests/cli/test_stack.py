"""`durable-runs demo` and `durable-runs dev` as real processes on free ports.

Each child inherits a unique `DURABLE_RUNS_TASK_QUEUE`, so after the command ends we can look for
any process still carrying it: there must be none, and every port must be free again.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import time
import uuid
from pathlib import Path

import psutil

from durable_runs.processes import free_port
from tests.cli.helpers import (
    PROJECT_ROOT,
    cli_args,
    port_open,
    processes_with_env,
    subprocess_env,
)

DEMO_TIMEOUT_S = 60.0
READY_TIMEOUT_S = 45.0


def _ports() -> dict[str, int]:
    return {
        "--temporal-port": free_port(),
        "--ui-port": free_port(),
        "--emulator-port": free_port(),
        "--bridge-port": free_port(),
    }


def _port_args(ports: dict[str, int]) -> list[str]:
    return [item for flag, port in ports.items() for item in (flag, str(port))]


def _assert_nothing_left(marker: str, ports: dict[str, int]) -> None:
    deadline = time.monotonic() + 5
    while True:
        left = processes_with_env("DURABLE_RUNS_TASK_QUEUE", marker)
        busy = [port for port in ports.values() if port_open(port)]
        if not left and not busy:
            return
        assert time.monotonic() < deadline, f"left running: {left}, ports in use: {busy}"
        time.sleep(0.1)


def test_demo_end_to_end(tmp_path: Path) -> None:
    """The demo starts the stack, answers 4, prints the comparison, exits 0, leaves nothing."""
    ports = _ports()
    marker = f"demo-{uuid.uuid4().hex[:8]}"
    done = subprocess.run(
        cli_args("demo", *_port_args(ports), "--data-dir", str(tmp_path / "state")),
        capture_output=True,
        text=True,
        timeout=DEMO_TIMEOUT_S,
        env=subprocess_env(DURABLE_RUNS_TASK_QUEUE=marker),
        cwd=PROJECT_ROOT,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert "answer   4" in out
    assert "Paris" in out and "Tokyo" in out and "°F" in out
    assert "answer   42" in out
    # Responses leads; the seed's Assistants API comes last, named for what it is.
    assert out.index("(a) Responses, polling") < out.index("(d) Assistants (the seed's API)")
    assert "polling vs webhooks" in out
    assert out.count(f"http://127.0.0.1:{ports['--ui-port']}/namespaces/default/workflows/") == 4
    assert (tmp_path / "state" / "temporal.db").exists()
    _assert_nothing_left(marker, ports)


async def _read_until(stream: asyncio.StreamReader, text: str, bound_s: float) -> str:
    seen = ""

    async def read() -> str:
        nonlocal seen
        while text not in seen:
            line = await stream.readline()
            if not line:
                raise AssertionError(f"output ended before {text!r}:\n{seen}")
            seen += line.decode()
        return seen

    return await asyncio.wait_for(read(), bound_s)


async def test_dev_stays_up_and_stops_everything_on_ctrl_c(tmp_path: Path) -> None:
    """`dev` prints its addresses, serves until SIGINT, then stops every part it started."""
    ports = _ports()
    marker = f"dev-{uuid.uuid4().hex[:8]}"
    process = await asyncio.create_subprocess_exec(
        *cli_args("dev", *_port_args(ports), "--data-dir", str(tmp_path / "state")),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env=subprocess_env(DURABLE_RUNS_TASK_QUEUE=marker),
        cwd=PROJECT_ROOT,
    )
    try:
        assert process.stdout is not None
        out = await _read_until(process.stdout, "Ctrl-C stops everything", READY_TIMEOUT_S)
        assert f"http://127.0.0.1:{ports['--ui-port']}" in out
        assert all(port_open(port) for port in ports.values())
        children = psutil.Process(process.pid).children(recursive=True)
        assert len(children) >= 4  # temporal, bridge, emulator, worker
        process.send_signal(signal.SIGINT)
        rest, _ = await asyncio.wait_for(process.communicate(), 30)
        assert process.returncode == 0, out + rest.decode()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    await asyncio.to_thread(_assert_nothing_left, marker, ports)
