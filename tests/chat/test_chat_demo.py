"""`durable-runs demo --chat` as a real process on free ports: three turns, turn 3 from turn 1."""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path

from durable_runs.processes import free_port
from tests.cli.helpers import PROJECT_ROOT, cli_args, processes_with_env, subprocess_env

DEMO_TIMEOUT_S = 60.0


def test_chat_demo_holds_a_three_turn_chat(tmp_path: Path) -> None:
    flags = ("--temporal-port", "--ui-port", "--emulator-port", "--bridge-port")
    ports = [item for flag in flags for item in (flag, str(free_port()))]
    marker = f"chat-demo-{uuid.uuid4().hex[:8]}"
    done = subprocess.run(
        cli_args("demo", "--chat", *ports, "--ephemeral", "--data-dir", str(tmp_path / "state")),
        capture_output=True,
        text=True,
        timeout=DEMO_TIMEOUT_S,
        env=subprocess_env(DURABLE_RUNS_TASK_QUEUE=marker),
        cwd=PROJECT_ROOT,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert "you> My name is Ada\nassistant> Nice to meet you, Ada.\n" in out
    assert "you> What is my name?\nassistant> Your name is Ada.\n" in out
    assert "chat demo passed" in out
    assert not processes_with_env("DURABLE_RUNS_TASK_QUEUE", marker)
