"""The command line starts light: its client commands load neither the OpenAI SDK nor the worker.

Every `durable-runs` call pays for what `durable_runs.cli` imports, so `run`, `status`, `list`,
`cancel` and `--help` import only the client side; the worker, its activities (and with them
the OpenAI SDK) and the stack's process management are imported by the commands that run them.
Each check runs in a fresh interpreter: this test process has imported everything already.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

HEAVY = (
    "openai",
    "temporalio.worker",
    "durable_runs.worker",
    "durable_runs.plugin",
    "durable_runs.workflows.run",
    "durable_runs.activities.metrics",
    "durable_runs.bridge",
    "durable_runs.stack",
    "durable_runs.processes",
    "durable_runs.demo",
)
"""Modules a client command of the command line must not load."""

UNREACHABLE = "127.0.0.1:1"
"""A Temporal address nothing listens on: the command fails at its connect, at once."""


def heavy_modules_loaded(code: str) -> list[str]:
    """The `HEAVY` modules loaded after a fresh interpreter ran `code`."""
    report = f"import json, sys\nprint(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    done = subprocess.run(
        [sys.executable, "-c", f"{code}\n{report}"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "TEMPORAL_ADDRESS": UNREACHABLE},
    )
    assert done.stdout, done.stderr
    loaded: list[str] = json.loads(done.stdout.splitlines()[-1])
    return loaded


def test_importing_the_cli_loads_no_openai_and_no_worker() -> None:
    assert heavy_modules_loaded("import durable_runs.cli") == []


@pytest.mark.parametrize(
    "argv", [["status", "run-x"], ["run", "What is 2+2?", "--tools", "get_weather"]]
)
def test_a_client_command_loads_no_openai_and_no_worker(argv: list[str]) -> None:
    """The command itself (up to its failed connect) imports nothing heavy either."""
    code = f"from durable_runs.cli import main\nassert main({argv!r}) == 1"
    assert heavy_modules_loaded(code) == []


def test_the_check_sees_a_module_that_drags_openai_in() -> None:
    """Planted: the API call metrics import the OpenAI SDK, and the check says so."""
    loaded = heavy_modules_loaded("import durable_runs.cli, durable_runs.activities.metrics")
    assert "openai" in loaded
