"""The process harness: spawn, readiness with a bound, stop, kill, restart, and the Temporal wait.

Children here are tiny Python scripts, except in the Temporal readiness test, which starts the
real dev server late on a port the wait is already probing.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from durable_runs.processes import (
    PROJECT_ROOT,
    Part,
    PartError,
    Readiness,
    child_env,
    free_port,
    port_bindable,
    port_check,
    temporal_part,
    wait_client,
    wait_port_bindable,
)
from durable_runs.settings import Settings
from durable_runs.stack import Stack, StackConfig, first_exit
from tests.waiting import wait_for

SLEEP = "import time; time.sleep(60)"


def script(name: str, code: str, tmp_path: Path, ready: Readiness | None = None) -> Part:
    """A part running `python -c CODE`, logging to `tmp_path/NAME.log`."""
    return Part(name, [sys.executable, "-c", code], tmp_path / f"{name}.log", child_env(), ready)


def log_says(text: str) -> Readiness:
    """Ready once the part's output (its log without the harness's header lines) holds `text`."""

    async def probe(part: Part) -> bool:
        return text in output(part)

    return Readiness(probe, f"the log says {text!r}")


def output(part: Part) -> str:
    """What the part printed, across its starts."""
    lines = part.log_path.read_text().splitlines(keepends=True)
    return "".join(line for line in lines if not line.startswith("---- start "))


def gone(pid: int) -> bool:
    """True when no live (non-zombie) process has this pid."""
    try:
        return bool(psutil.Process(pid).status() == psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return True


def test_child_env_puts_the_project_first_and_can_drop_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TEMPORAL_ADDRESS", "elsewhere:7233")
    monkeypatch.setenv("PYTHONPATH", "/somewhere")
    env = child_env({"DURABLE_RUNS_TASK_QUEUE": "q"}, drop_prefixes=("TEMPORAL_",))
    assert env["PYTHONPATH"] == f"{PROJECT_ROOT}{os.pathsep}/somewhere"
    assert env["PYTHONUNBUFFERED"] == "1"
    assert "TEMPORAL_ADDRESS" not in env
    assert env["DURABLE_RUNS_TASK_QUEUE"] == "q"
    assert child_env()["TEMPORAL_ADDRESS"] == "elsewhere:7233"


async def test_ready_once_its_port_opens_then_stop_and_restart(tmp_path: Path) -> None:
    """A server that opens its port late: the wait retries until then; stop, restart, stop."""
    port = free_port()
    code = (
        "import socket, time; time.sleep(0.5); s = socket.socket(); "
        "s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); "
        f"s.bind(('127.0.0.1', {port})); s.listen(); time.sleep(60)"
    )
    part = script("server", code, tmp_path, port_check("127.0.0.1", port))
    try:
        await part.launch(bound_s=20)
        first = part.pid
        assert part.alive
        await part.restart(bound_s=20)
        assert part.alive and part.pid != first and gone(first)
        await part.stop()
        assert not part.alive and part.returncode == -15  # SIGTERM sufficed
        assert part.log_path.read_text().count("---- start server:") == 2
    finally:
        part.kill()


async def test_exit_before_ready_names_the_part_and_its_log(tmp_path: Path) -> None:
    part = script("broken", "print('no config'); raise SystemExit(3)", tmp_path, log_says("up"))
    with pytest.raises(PartError, match=r"broken exited with code 3[\s\S]*no config"):
        await part.launch(bound_s=20)


async def test_not_ready_within_the_bound(tmp_path: Path) -> None:
    part = script("slow", SLEEP, tmp_path, log_says("never"))
    try:
        with pytest.raises(PartError, match="slow not ready after 0.5 s: the log says 'never'"):
            await part.launch(bound_s=0.5)
    finally:
        part.kill()


async def test_stop_escalates_to_sigkill_and_reaches_the_group(tmp_path: Path) -> None:
    """A part that ignores SIGTERM is killed after the grace period, with its own child."""
    code = (
        "import signal, subprocess, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); "
        "print('up', child.pid, flush=True); time.sleep(60)"
    )
    part = script("stubborn", code, tmp_path, log_says("up"))
    try:
        await part.launch(bound_s=20)
        grandchild = int(output(part).split()[1])
        await part.stop(grace_s=0.5)
        assert part.returncode == -9
        await wait_for(lambda: asyncio.to_thread(gone, grandchild), within=5, what="child gone")
    finally:
        part.kill()


async def test_kill_is_immediate_and_start_again_appends_to_the_log(tmp_path: Path) -> None:
    part = script("victim", "print('up', flush=True); import time; time.sleep(60)", tmp_path)
    part.ready = log_says("up")
    try:
        await part.launch(bound_s=20)
        part.kill()
        assert part.returncode == -9
        part.start()

        async def printed_twice() -> bool:
            return output(part) == "up\nup\n"

        await wait_for(printed_twice, within=20, what="the second start printed")
        with pytest.raises(RuntimeError, match="already running"):
            part.start()
    finally:
        part.kill()


def test_survivors_are_killed_when_the_interpreter_exits(tmp_path: Path) -> None:
    """A part never stopped does not outlive the process that started it."""
    code = (
        "import sys; from pathlib import Path; from durable_runs.processes import Part, child_env; "
        f"p = Part('orphan', [sys.executable, '-c', {SLEEP!r}], Path({str(tmp_path)!r}) / 'o.log', "
        "child_env()).start(); print(p.pid)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        env=child_env(),
        check=True,
    )
    orphan = int(done.stdout.strip())
    assert gone(orphan)


async def test_first_exit_reports_the_part_that_ended(tmp_path: Path) -> None:
    stack = Stack(config=StackConfig(data_dir=tmp_path), webhook_secret="whsec_x")
    try:
        stack.start(script("steady", SLEEP, tmp_path))
        quitter = stack.start(script("quitter", "raise SystemExit(4)", tmp_path))
        assert await asyncio.wait_for(first_exit(stack), 20) is quitter
        assert quitter.process.returncode == 4
    finally:
        await stack.stop()


async def test_temporal_wait_retries_until_the_server_answers(tmp_path: Path) -> None:
    """The client wait keeps trying while nothing listens yet, then connects."""
    port = free_port()
    settings = Settings(TEMPORAL_ADDRESS=f"127.0.0.1:{port}", TEMPORAL_NAMESPACE="default")
    watched = script("watched", SLEEP, tmp_path).start()
    server = temporal_part(tmp_path, port=port)

    async def start_late() -> None:
        await asyncio.sleep(1.0)  # the wait below meets a closed port first
        server.start()

    late = asyncio.create_task(start_late())
    try:
        client = await wait_client(watched, settings, bound_s=60)
        assert client.service_client.config.target_host == f"127.0.0.1:{port}"
    finally:
        await late
        await server.stop()
        watched.kill()


async def test_temporal_wait_gives_up_at_its_bound(tmp_path: Path) -> None:
    settings = Settings(TEMPORAL_ADDRESS=f"127.0.0.1:{free_port()}")
    watched = script("watched", SLEEP, tmp_path).start()
    try:
        with pytest.raises(PartError, match="not ready after 1 s: no Temporal frontend"):
            await wait_client(watched, settings, bound_s=1)
    finally:
        watched.kill()


async def test_wait_port_bindable_waits_for_the_holder_to_let_go() -> None:
    """A port held by another socket is not bindable; once it is closed, the wait ends."""
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    port = holder.getsockname()[1]
    assert not port_bindable("127.0.0.1", port)
    with pytest.raises(PartError, match="still in use"):
        await wait_port_bindable("127.0.0.1", port, bound_s=0.2)
    holder.close()
    await wait_port_bindable("127.0.0.1", port, bound_s=5)


def test_free_port_never_gives_the_same_port_twice() -> None:
    """The kernel may offer a port again while it is still unbound: the harness must not."""
    ports = [free_port() for _ in range(2000)]
    assert len(set(ports)) == len(ports)
