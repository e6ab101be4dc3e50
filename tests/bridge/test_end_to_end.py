"""Emulator → bridge → Temporal → `AssistantRunWorkflow`: webhook events are the fast path."""

from __future__ import annotations

import uuid

import httpx
from openai import AsyncOpenAI
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from bridge.server import running_bridge
from durable_runs.models import PollPolicy, RunRequest
from durable_runs.settings import Settings
from emulator.config import EmulatorConfig
from emulator.server import running_emulator
from tests.bridge.signing import new_secret
from tests.conftest import TEST_API_KEY, WorkerFactory
from workflows.run import AssistantRunWorkflow

# A safety poll far longer than the test may take: only the webhooks can finish the run in time.
WEBHOOK_POLL = PollPolicy(webhooks=True, safety_poll_s=120, initial_interval_s=120, deadline_s=300)


async def test_run_completes_through_webhooks(
    temporal_env: WorkflowEnvironment, client: Client, worker_factory: WorkerFactory
) -> None:
    secret = new_secret()
    settings = Settings(
        OPENAI_WEBHOOK_SECRET=secret,
        TEMPORAL_ADDRESS=temporal_env.client.service_client.config.target_host,
    )
    async with (
        running_bridge(settings) as bridge,
        running_emulator(EmulatorConfig(webhook_url=bridge.url, webhook_secret=secret)) as emu,
    ):
        openai = AsyncOpenAI(base_url=emu.base_url, api_key=TEST_API_KEY, max_retries=0)
        async with worker_factory(client, openai=openai) as queue:
            handle = await client.start_workflow(
                AssistantRunWorkflow.run,
                RunRequest(messages=["What is 2+2?"], poll=WEBHOOK_POLL),
                id=f"e2e-{uuid.uuid4()}",
                task_queue=queue,
            )
            result = await handle.result(rpc_timeout=None)
        async with httpx.AsyncClient() as http:
            health = (await http.get(bridge.health_url)).json()
    assert result.status == "completed", result
    assert result.events_applied >= 1
    assert health["signalled"] >= 1
    assert health["rejected_signature"] == 0
