"""`durable-runs run/status/list/cancel` against the real dev server, emulator and a worker."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment

from durable_runs import client as api
from durable_runs.processes import free_port
from tests.cli.helpers import CliResult, cli, env_vars
from tests.conftest import WorkerFactory

VISIBILITY_TIMEOUT_S = 15.0


def _address(env: WorkflowEnvironment) -> str:
    return env.client.service_client.config.target_host


async def _until_listed(
    argv: list[str], workflow_id: str, capsys: pytest.CaptureFixture[str]
) -> CliResult:
    """`durable-runs list ...` until the workflow shows (visibility lags), with a bound."""
    deadline = time.monotonic() + VISIBILITY_TIMEOUT_S
    while True:
        result = await cli(argv, capsys)
        if workflow_id in result.out or time.monotonic() > deadline:
            return result
        await asyncio.sleep(0.2)


async def test_run_status_list(
    temporal_env: WorkflowEnvironment,
    client: Client,
    worker_factory: WorkerFactory,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`run` (Responses by default) prints the answer and UI link; `status` and `list` show it."""
    async with worker_factory(client) as queue:
        await api.ensure_worker(client, queue, wait_s=10)
        with env_vars(
            monkeypatch,
            TEMPORAL_ADDRESS=_address(temporal_env),
            DURABLE_RUNS_TASK_QUEUE=queue,
            TEMPORAL_UI_URL="http://ui.test:8233",
        ):
            workflow_id = f"run-cli-{uuid.uuid4().hex[:8]}"
            ran = await cli(["run", "What is 2+2?", "--workflow-id", workflow_id], capsys)
            assert ran.code == 0, ran.err
            assert "answer  4" in ran.out
            assert "completed" in ran.out
            assert f"http://ui.test:8233/namespaces/default/workflows/{workflow_id}" in ran.out
            assert "API calls" in ran.out and "start 1" in ran.out and "read " in ran.out

            status = await cli(["status", workflow_id], capsys)
            assert status.code == 0, status.err
            assert "completed" in status.out and "COMPLETED" in status.out

            listed = await _until_listed(
                ["list", "--task-queue", queue, "--status", "completed"], workflow_id, capsys
            )
            assert listed.code == 0, listed.err
            assert workflow_id in listed.out
            assert "responses" in listed.out

            other = await cli(["list", "--task-queue", queue, "--backend", "assistants"], capsys)
            assert other.code == 0 and workflow_id not in other.out


async def test_run_no_wait_then_cancel(
    temporal_env: WorkflowEnvironment,
    client: Client,
    worker_factory: WorkerFactory,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`run --no-wait` returns at once; `cancel --wait` ends the run and the workflow."""
    async with worker_factory(client) as queue:
        await api.ensure_worker(client, queue, wait_s=10)
        with env_vars(
            monkeypatch, TEMPORAL_ADDRESS=_address(temporal_env), DURABLE_RUNS_TASK_QUEUE=queue
        ):
            workflow_id = f"run-cli-{uuid.uuid4().hex[:8]}"
            started = await cli(
                ["run", "What is 2+2?", "--backend", "assistants", "--no-wait",
                 "--workflow-id", workflow_id, "--metadata", "emu_outcome=stay_queued"],
                capsys,
            )  # fmt: skip
            assert started.code == 0, started.err
            assert workflow_id in started.out

            listed = await _until_listed(
                ["list", "--task-queue", queue, "--status", "queued"], workflow_id, capsys
            )
            assert workflow_id in listed.out

            cancelled = await cli(["cancel", workflow_id, "--wait"], capsys)
            assert cancelled.code == 0, cancelled.err
            assert "CANCELED" in cancelled.out
            description = await api.get_handle(client, workflow_id).describe()
            assert description.status == WorkflowExecutionStatus.CANCELED
            view = await api.get_status(client, workflow_id)
            assert view.status in {"cancelling", "cancelled"}  # cancel was sent to the API
            assert view.api_calls.get("cancel") == 1

            again = await cli(["cancel", workflow_id], capsys)
            assert again.code == 1
            assert again.err.startswith("error: cannot cancel")


async def test_run_without_worker_is_a_clear_error(
    temporal_env: WorkflowEnvironment,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No poller on the queue: one line naming the queue and how to start a worker."""
    queue = f"nobody-{uuid.uuid4().hex[:8]}"
    with env_vars(
        monkeypatch, TEMPORAL_ADDRESS=_address(temporal_env), DURABLE_RUNS_TASK_QUEUE=queue
    ):
        result = await cli(["run", "What is 2+2?"], capsys)
    assert result.code == 1
    assert result.err.strip() == (
        f"error: no worker is polling task queue {queue}: start it with `durable-runs worker` "
        "(or `durable-runs dev`)"
    )
    assert "Traceback" not in result.err


@pytest.mark.parametrize(
    "argv",
    [["run", "What is 2+2?"], ["status", "run-x"], ["cancel", "run-x"], ["list"]],
    ids=["run", "status", "cancel", "list"],
)
async def test_temporal_unreachable_is_a_clear_error(
    argv: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nothing at TEMPORAL_ADDRESS: one line naming the address and how to start Temporal."""
    address = f"127.0.0.1:{free_port()}"
    with env_vars(monkeypatch, TEMPORAL_ADDRESS=address):
        result = await cli(argv, capsys)
    assert result.code == 1
    assert result.err.strip() == (
        f"error: cannot reach Temporal at {address}: start it with `durable-runs dev` or set "
        "TEMPORAL_ADDRESS"
    )


async def test_status_of_unknown_workflow(
    temporal_env: WorkflowEnvironment,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`status` of an id that does not exist: a one-line error."""
    with env_vars(monkeypatch, TEMPORAL_ADDRESS=_address(temporal_env)):
        result = await cli(["status", "run-does-not-exist"], capsys)
    assert result.code == 1
    assert result.err.startswith("error: no run workflow run-does-not-exist")


async def test_worker_with_temporal_unreachable(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`durable-runs worker` with nothing at TEMPORAL_ADDRESS: the same one-line error."""
    address = f"127.0.0.1:{free_port()}"
    with env_vars(monkeypatch, TEMPORAL_ADDRESS=address, OPENAI_API_KEY="sk-test"):
        result = await cli(["worker"], capsys)
    assert result.code == 1
    assert result.err.strip().endswith(
        f"error: cannot reach Temporal at {address}: start it with `durable-runs dev` or set "
        "TEMPORAL_ADDRESS"
    )
