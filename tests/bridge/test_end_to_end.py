"""Emulator → bridge → Temporal → `RunWorkflow`: webhook events are the fast path.

The bridge reads the response an event names (the default routing) and signals the run that
read as its snapshot, so the worker makes no status read at all: one read per response, the
bridge's.
"""

from __future__ import annotations

import uuid

import httpx
from durable_runs_emulator.server import running_emulator
from openai import AsyncOpenAI
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from durable_runs.bridge.server import running_bridge
from durable_runs.models import PollPolicy, RunRequest
from durable_runs.settings import Settings
from durable_runs.workflows.run import RunWorkflow
from tests.bridge.signing import new_secret
from tests.conftest import TEST_API_KEY, WorkerFactory

# A safety poll far longer than the test may take: only the webhooks can finish the run in time.
WEBHOOK_POLL = PollPolicy(webhooks=True, safety_poll_s=120, initial_interval_s=120, deadline_s=300)


async def test_run_completes_through_webhooks_with_no_worker_read(
    temporal_env: WorkflowEnvironment, client: Client, worker_factory: WorkerFactory
) -> None:
    secret = new_secret()
    async with running_emulator() as emu:
        settings = Settings(
            OPENAI_WEBHOOK_SECRET=secret,
            TEMPORAL_ADDRESS=temporal_env.client.service_client.config.target_host,
            OPENAI_API_KEY=TEST_API_KEY,
            OPENAI_BASE_URL=emu.base_url,
        )
        async with running_bridge(settings) as bridge:
            await emu.configure(webhook_url=bridge.url, webhook_secret=secret)
            openai = AsyncOpenAI(base_url=emu.base_url, api_key=TEST_API_KEY, max_retries=0)
            async with worker_factory(client, openai=openai) as queue:
                handle = await client.start_workflow(
                    RunWorkflow.run,
                    RunRequest(backend="responses", messages=["What is 2+2?"], poll=WEBHOOK_POLL),
                    id=f"e2e-{uuid.uuid4()}",
                    task_queue=queue,
                )
                result = await handle.result(rpc_timeout=None)
            async with httpx.AsyncClient() as http:
                health = (await http.get(bridge.health_url)).json()
            stats = await emu.stats()
    assert result.status == "completed", result
    assert result.answer == "4"
    assert result.events_applied == 1
    assert result.api_calls.get("read", 0) == 0  # the worker read nothing ...
    [response_id] = stats["responses_by_workflow"][handle.id]
    assert stats["responses"][response_id]["calls"]["retrieve_response"] == 1  # ... the bridge once
    assert (health["signalled"], health["api_reads"], health["temporal_calls"]) == (1, 1, 1)
    assert health["rejected_signature"] == 0
