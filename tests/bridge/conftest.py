"""Bridge fixtures: a worker for the recording workflow, an HTTP client, a default bridge."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from durable_runs_emulator.server import RunningEmulator
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from durable_runs.bridge.server import RunningBridge, running_bridge
from tests.bridge.recording import RecordingWorkflow, address_of, settings_for


@pytest.fixture(scope="module")
async def queue(temporal_env: WorkflowEnvironment) -> AsyncIterator[str]:
    """A worker running the recording workflow, for this module."""
    name = f"bridge-{uuid.uuid4()}"
    async with Worker(temporal_env.client, task_queue=name, workflows=[RecordingWorkflow]):
        yield name


@pytest.fixture(scope="module")
async def bridge(
    temporal_env: WorkflowEnvironment, emulator: RunningEmulator
) -> AsyncIterator[RunningBridge]:
    """The bridge with its default routing (`retrieve`), reading from the shared emulator."""
    settings = settings_for(address_of(temporal_env.client), api_url=emulator.base_url)
    async with running_bridge(settings) as running:
        yield running


@pytest.fixture(scope="module")
async def http() -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client for the deliveries."""
    async with httpx.AsyncClient(timeout=15) as client:
        yield client
