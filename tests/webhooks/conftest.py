"""Webhook-mode fixtures: a real bridge and a webhook-sending emulator of its own.

The shared `emulator` fixture sends no webhooks; these tests get a separate emulator instance
whose `webhook_url` is the bridge's endpoint, both sharing one fresh `whsec_` secret.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from openai import AsyncOpenAI
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from bridge.server import RunningBridge, running_bridge
from durable_runs.settings import Settings
from emulator.config import EmulatorConfig
from emulator.server import RunningEmulator, running_emulator
from tests.conftest import TEST_API_KEY, WorkerFactory
from tests.webhooks.helpers import new_secret


@pytest.fixture(scope="session")
def webhook_secret() -> str:
    """The signing secret shared by the webhook emulator and the bridge."""
    return new_secret()


@pytest.fixture(scope="session")
def bridge_settings(temporal_env: WorkflowEnvironment, webhook_secret: str) -> Settings:
    """Bridge settings: the secret, the test dev server's address, and progress events on.

    These tests prove the workflow's handling of every event a run sends (duplicates, stale
    ones); `test_progress_events_are_acknowledged_not_signalled_by_default` runs the default.
    """
    return Settings(
        OPENAI_WEBHOOK_SECRET=webhook_secret,
        TEMPORAL_ADDRESS=temporal_env.client.service_client.config.target_host,
        DURABLE_RUNS_WEBHOOK_PROGRESS=True,
    )


@pytest.fixture(scope="session")
async def bridge(bridge_settings: Settings) -> AsyncIterator[RunningBridge]:
    """The real webhook bridge (uvicorn on a free port)."""
    async with running_bridge(bridge_settings) as running:
        yield running


@pytest.fixture(scope="session")
async def webhook_emulator(
    bridge: RunningBridge, webhook_secret: str
) -> AsyncIterator[RunningEmulator]:
    """An emulator instance that POSTs signed events to the bridge."""
    config = EmulatorConfig(webhook_url=bridge.url, webhook_secret=webhook_secret)
    async with running_emulator(config) as running:
        yield running


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


@pytest.fixture(params=["assistants", "responses"])
def backend(request: pytest.FixtureRequest) -> str:
    """Tests that apply to both backends run on each."""
    return str(request.param)
