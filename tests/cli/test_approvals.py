"""`durable-runs approvals/approve/reject` against the real dev server, emulator and a worker."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from durable_runs import client as api
from durable_runs.activities.tools import ToolRegistry
from tests.cli.helpers import CliResult, cli, env_vars
from tests.conftest import WorkerFactory
from tests.workflows.test_approvals import pending_of, refund_request

VISIBILITY_TIMEOUT_S = 15.0


async def _until_all_listed(ids: list[str], capsys: pytest.CaptureFixture[str]) -> CliResult:
    """`durable-runs approvals` until every run shows (visibility lags), with a bound."""
    deadline = time.monotonic() + VISIBILITY_TIMEOUT_S
    while True:
        result = await cli(["approvals"], capsys)
        if all(i in result.out for i in ids) or time.monotonic() > deadline:
            return result
        await asyncio.sleep(0.2)


async def test_list_approve_with_arguments_and_reject(
    temporal_env: WorkflowEnvironment,
    client: Client,
    worker_factory: WorkerFactory,
    tools: ToolRegistry,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with worker_factory(client) as queue:
        first, second = [
            await api.start_run(client, refund_request(), task_queue=queue, tools=tools)
            for _ in range(2)
        ]
        calls = [(await pending_of(client, h)).call_id for h in (first, second)]
        with env_vars(
            monkeypatch, TEMPORAL_ADDRESS=temporal_env.client.service_client.config.target_host
        ):
            listed = await _until_all_listed([first.id, second.id], capsys)
            assert listed.code == 0, listed.err
            assert "refund_order" in listed.out and '"order_id": "A-17"' in listed.out
            assert calls[0] in listed.out and "durable-runs approve" in listed.out

            edited = json.dumps({"order_id": "A-17", "amount": 1.5})
            approved = await cli(
                ["approve", first.id, calls[0], "--reason", "ok", "--arguments", edited], capsys
            )
            assert approved.code == 0, approved.err
            assert f"approved call {calls[0]} of {first.id}" in approved.out

            rejected = await cli(["reject", second.id, calls[1], "--reason", "too much"], capsys)
            assert rejected.code == 0, rejected.err

            again = await cli(["reject", first.id, calls[0]], capsys)
            assert again.code == 1 and "already decided (approved)" in again.err

            bad = await cli(["approve", second.id, "call_nope", "--arguments", "[1]"], capsys)
            assert bad.code == 1 and "must be a JSON object" in bad.err

        first_result, second_result = await first.result(), await second.result()
    assert '"amount": 1.5' in first_result.answer
    assert '"rejected": true' in second_result.answer and "too much" in second_result.answer
