"""Fixtures of the Agents SDK tests: a Temporal client and worker with either agents plugin."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import pytest
from openai import AsyncOpenAI
from temporalio.client import Client
from temporalio.converter import DataConverter
from temporalio.plugin import SimplePlugin
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from durable_runs.agents import DurableRunsAgentsPlugin
from durable_runs.models import PollPolicy
from durable_runs.workflows.agents_example import AgentsExampleWorkflow

FAST_POLL = PollPolicy(initial_interval_s=0.1, backoff=1.5, max_interval_s=0.5, deadline_s=120)
"""Polling fast enough for tests."""

AgentsWorker = Callable[[SimplePlugin], AbstractAsyncContextManager[tuple[Client, str]]]


def client_with(temporal_env: WorkflowEnvironment, plugin: SimplePlugin) -> Client:
    """A client of the dev server with `plugin` (its payload converter included)."""
    config = temporal_env.client.config()
    config["plugins"] = [plugin]
    config["data_converter"] = DataConverter.default
    return Client(**config)


@pytest.fixture
def durable_plugin(openai_client: AsyncOpenAI) -> DurableRunsAgentsPlugin:
    """Our plugin, talking to the emulator, polling fast."""
    return DurableRunsAgentsPlugin(openai=openai_client, poll=FAST_POLL)


@pytest.fixture
def agents_worker(temporal_env: WorkflowEnvironment) -> AgentsWorker:
    """Run a worker of the example workflow with a plugin; yields its client and task queue."""

    @asynccontextmanager
    async def running(plugin: SimplePlugin) -> AsyncIterator[tuple[Client, str]]:
        client = client_with(temporal_env, plugin)
        queue = f"agents-{uuid.uuid4()}"
        async with Worker(client, task_queue=queue, workflows=[AgentsExampleWorkflow]):
            yield client, queue

    return running
