"""Webhook-mode fixtures: a real bridge and a webhook-sending emulator of its own.

The shared `emulator` fixture sends no webhooks; these tests get a separate emulator instance
whose `webhook_url` is the bridge's endpoint, both sharing one fresh `whsec_` secret. The bridge
reads the responses that events name from that same emulator (its default routing).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from durable_runs_emulator.config import EmulatorConfig
from durable_runs_emulator.server import RunningEmulator, running_emulator
from openai import AsyncOpenAI
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from durable_runs.bridge.server import RunningBridge, running_bridge
from durable_runs.settings import Settings
from tests.conftest import TEST_API_KEY, WorkerFactory
from tests.webhooks.helpers import new_secret, reading_from


@pytest.fixture(scope="session")
def webhook_secret() -> str:
    """The signing secret shared by the webhook emulator and the bridge."""
    return new_secret()


@pytest.fixture(scope="session")
def bridge_settings(temporal_env: WorkflowEnvironment, webhook_secret: str) -> Settings:
    """Bridge settings: the secret, the test dev server's address, the emulator's key, and
    progress events on; `reading_from` adds the base URL of the emulator a bridge reads from.

    These tests prove the workflow's handling of every event a run sends (duplicates, stale
    ones); `test_progress_events_are_acknowledged_not_signalled_by_default` runs the default.
    """
    return Settings(
        OPENAI_WEBHOOK_SECRET=webhook_secret,
        TEMPORAL_ADDRESS=temporal_env.client.service_client.config.target_host,
        OPENAI_API_KEY=TEST_API_KEY,
        DURABLE_RUNS_WEBHOOK_PROGRESS=True,
    )


@pytest.fixture(scope="session")
async def webhook_pair(
    bridge_settings: Settings, webhook_secret: str
) -> AsyncIterator[tuple[RunningEmulator, RunningBridge]]:
    """An emulator that POSTs signed events to a bridge that reads responses from it.

    The emulator's `thread_run_webhooks` extension is on (OpenAI sends no `thread.run.*`
    events; the Assistants tests here need them); Responses events are as OpenAI sends them.
    """
    config = EmulatorConfig(webhook_secret=webhook_secret, thread_run_webhooks=True)
    async with running_emulator(config) as emulator:
        async with running_bridge(reading_from(bridge_settings, emulator)) as bridge:
            await emulator.configure(webhook_url=bridge.url)
            yield emulator, bridge


@pytest.fixture(scope="session")
def bridge(webhook_pair: tuple[RunningEmulator, RunningBridge]) -> RunningBridge:
    """The real webhook bridge (uvicorn on a free port)."""
    return webhook_pair[1]


@pytest.fixture(scope="session")
def webhook_emulator(webhook_pair: tuple[RunningEmulator, RunningBridge]) -> RunningEmulator:
    """The emulator instance that POSTs signed events to `bridge`."""
    return webhook_pair[0]


@pytest.fixture(scope="session")
def webhook_openai(webhook_emulator: RunningEmulator) -> AsyncOpenAI:
    """The real SDK pointed at the webhook emulator, SDK retries off."""
    return AsyncOpenAI(base_url=webhook_emulator.base_url, api_key=TEST_API_KEY, max_retries=0)


@pytest.fixture
async def queue(
    client: Client, worker_factory: WorkerFactory, webhook_openai: AsyncOpenAI
) -> AsyncIterator[str]:
    """A worker (own task queue) whose activities call the webhook emulator."""
    async with worker_factory(client, openai=webhook_openai) as task_queue:
        yield task_queue


@pytest.fixture(params=["responses", "assistants"])
def backend(request: pytest.FixtureRequest) -> str:
    """Tests that apply to both backends run on each (Assistants through the emulator's
    `thread_run_webhooks` extension)."""
    return str(request.param)
