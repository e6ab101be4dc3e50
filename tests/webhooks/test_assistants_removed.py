"""A server without the Assistants API (as api.openai.com after 2026-08-26)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import pytest
from durable_runs_emulator.config import EmulatorConfig
from durable_runs_emulator.server import RunningEmulator, running_emulator
from openai import AsyncOpenAI
from temporalio.client import Client, WorkflowFailureError

from durable_runs.bridge.server import running_bridge
from durable_runs.settings import Settings
from tests.conftest import TEST_API_KEY, WorkerFactory
from tests.webhooks.helpers import (
    objects_of,
    reading_from,
    request,
    result_of,
    retrieves,
    start,
)
from tests.workflows.helpers import activity_attempts

FAILS_FAST_S = 5.0
"""Bound on the failure: the first activity retry alone would wait 1 s, then 2 s, ..."""


@pytest.fixture
async def removed(bridge_settings: Settings, webhook_secret: str) -> AsyncIterator[RunningEmulator]:
    """A dedicated emulator whose Assistants API is gone, with a bridge that reads from it."""
    config = EmulatorConfig(assistants_removed=True, webhook_secret=webhook_secret)
    async with running_emulator(config) as running:
        async with running_bridge(reading_from(bridge_settings, running)) as bridge:
            await running.configure(webhook_url=bridge.url)
            yield running


@pytest.fixture
async def removed_queue(
    client: Client, worker_factory: WorkerFactory, removed: RunningEmulator
) -> AsyncIterator[str]:
    """A worker whose activities call the emulator without Assistants."""
    openai = AsyncOpenAI(base_url=removed.base_url, api_key=TEST_API_KEY, max_retries=0)
    async with worker_factory(client, openai=openai) as queue:
        yield queue


async def test_assistants_run_fails_fast_naming_the_responses_backend(
    client: Client, removed_queue: str, removed: RunningEmulator
) -> None:
    began = time.monotonic()
    handle = await start(client, removed_queue, request(backend="assistants"))
    with pytest.raises(WorkflowFailureError) as failure:
        await result_of(handle)
    elapsed = time.monotonic() - began

    message = str(failure.value.cause)
    assert "DURABLE_RUNS_BACKEND=responses" in message, message
    assert "Responses" in message
    assert elapsed < FAILS_FAST_S
    assert await activity_attempts(handle) == [1]  # one prepare attempt, no retries
    stats = await removed.stats()
    assert stats["calls"] == {"POST /v1/assistants": 1}, stats["calls"]  # asked once, 404
    assert stats["status_codes"] == {"404": 1}


async def test_responses_run_completes_on_the_same_server(
    client: Client, removed_queue: str, removed: RunningEmulator
) -> None:
    handle = await start(client, removed_queue, request(backend="responses"))
    result = await result_of(handle)

    assert result.status == "completed", result
    assert result.answer == "4"
    (response,) = await objects_of(removed, handle.id)
    # The response.completed event came through the bridge, which read the response once.
    assert result.api_calls.get("read", 0) == 0
    assert retrieves(response) == 1
    assert result.events_applied == 1
