"""100 agents waiting on 60 s model calls: no activity slot held on ours, 100 on the plain plugin.

Measured from the worker: the SDK's own `temporal_worker_task_slots_used` gauge of the activity
worker, read from an in-process metric buffer, at a moment when every agent waits on its call.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import timedelta

import pytest
from agents import OpenAIProvider
from durable_runs_emulator.app import create_app
from durable_runs_emulator.server import RunningEmulator
from openai import AsyncOpenAI
from temporalio.client import Client, WorkflowFailureError, WorkflowHandle
from temporalio.openai_agents import ModelActivityParameters, OpenAIAgentsPlugin
from temporalio.plugin import SimplePlugin
from temporalio.runtime import MetricBuffer, Runtime, TelemetryConfig
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from durable_runs.agents import DurableRunsAgentsPlugin
from durable_runs.models import PollPolicy
from durable_runs.serving import serving
from durable_runs.workflows.agents_example import AgentQuestion, AgentsExampleWorkflow
from tests.conftest import TEST_API_KEY
from tests.waiting import wait_for

AGENTS = 100
MODEL_CALL = {"emu_duration_ms": "60000"}
"""Every model call thinks for 60 s (the emulator's knob)."""

SLOW_FIRST_READ = PollPolicy(initial_interval_s=60, max_interval_s=60, deadline_s=300)
"""Polling whose first read is due after the measurement: between reads nothing runs."""

SLOTS_USED = "temporal_worker_task_slots_used"


class SlotGauge:
    """The activity worker's used slots per task queue, as the SDK reports them."""

    def __init__(self) -> None:
        """A runtime whose metrics go to a buffer this gauge drains."""
        self.buffer = MetricBuffer(100_000)
        self.runtime = Runtime(telemetry=TelemetryConfig(metrics=self.buffer))
        self._used: dict[str, int] = {}

    def used(self, task_queue: str) -> int | None:
        """The last reported activity slots in use on `task_queue` (None before any report)."""
        for update in self.buffer.retrieve_updates():
            attributes = update.attributes
            if update.metric.name == SLOTS_USED and attributes.get("worker_type") == (
                "ActivityWorker"
            ):
                self._used[str(attributes.get("task_queue"))] = int(update.value)
        return self._used.get(task_queue)


@pytest.fixture(scope="module")
async def slow_emulator() -> AsyncIterator[RunningEmulator]:
    """An emulator of this module's own: its 60 s calls are cut at shutdown, not awaited."""
    app = create_app()
    async with serving(app, access_log=False, timeout_graceful_shutdown=1) as served:
        root = served.root_url
        yield RunningEmulator(root_url=root, base_url=f"{root}/v1", app_state=app.state.emulator)


@pytest.fixture(scope="module")
def slow_openai(slow_emulator: RunningEmulator) -> AsyncOpenAI:
    """The openai SDK on that emulator."""
    return AsyncOpenAI(base_url=slow_emulator.base_url, api_key=TEST_API_KEY, max_retries=0)


@pytest.fixture(scope="module")
def gauge() -> SlotGauge:
    """One metrics runtime for the module's workers."""
    return SlotGauge()


@asynccontextmanager
async def agents_waiting(
    temporal_env: WorkflowEnvironment, gauge: SlotGauge, plugin: SimplePlugin
) -> AsyncIterator[tuple[str, list[WorkflowHandle[AgentsExampleWorkflow, object]]]]:
    """A worker with `plugin` (room for 2x the agents) and `AGENTS` agents started on it."""
    env_client = temporal_env.client
    client = await Client.connect(
        env_client.service_client.config.target_host,
        namespace=env_client.namespace,
        runtime=gauge.runtime,
        plugins=[plugin],
    )
    queue = f"agents-slots-{uuid.uuid4()}"
    async with Worker(
        client,
        task_queue=queue,
        workflows=[AgentsExampleWorkflow],
        max_concurrent_activities=2 * AGENTS,
    ):
        question = AgentQuestion(question="What is 2+2?", metadata=MODEL_CALL)
        handles = await asyncio.gather(
            *(
                client.start_workflow(
                    AgentsExampleWorkflow.run, question, id=f"{queue}-{i}", task_queue=queue
                )
                for i in range(AGENTS)
            )
        )
        try:
            yield queue, list(handles)
        finally:
            await asyncio.gather(*(h.cancel() for h in handles))
            outcomes = await asyncio.gather(*(h.result() for h in handles), return_exceptions=True)
            assert all(isinstance(o, WorkflowFailureError) for o in outcomes)


async def settled(probe: Callable[[], int | None], expected: int) -> int:
    """Wait until the gauge reads `expected`; the reading (fails with the last one if not)."""

    async def reads() -> bool:
        return probe() == expected

    try:
        await wait_for(reads, within=10, what=f"activity slots used == {expected}")
    except AssertionError:
        return probe() or 0
    return expected


async def responses_waiting(emulator: RunningEmulator, prefix: str) -> bool:
    """Whether the emulator holds one response per agent (created by the model-call workflows)."""
    stats = await emulator.stats()
    owners = [w for w in stats["responses_by_workflow"] if w.startswith(prefix)]
    return len(owners) == AGENTS


# The SDK's model call, cancelled when the worker stops, resets a context variable in another
# context (their code, not ours).
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
async def test_plain_integration_holds_a_slot_per_waiting_agent(
    temporal_env: WorkflowEnvironment, gauge: SlotGauge, slow_openai: AsyncOpenAI
) -> None:
    plugin = OpenAIAgentsPlugin(
        model_params=ModelActivityParameters(start_to_close_timeout=timedelta(seconds=90)),
        model_provider=OpenAIProvider(openai_client=slow_openai),
    )
    async with agents_waiting(temporal_env, gauge, plugin) as (queue, _):
        assert await settled(lambda: gauge.used(queue), AGENTS) == AGENTS


async def test_background_responses_hold_no_slot_while_agents_wait(
    temporal_env: WorkflowEnvironment,
    gauge: SlotGauge,
    slow_openai: AsyncOpenAI,
    slow_emulator: RunningEmulator,
) -> None:
    plugin = DurableRunsAgentsPlugin(openai=slow_openai, poll=SLOW_FIRST_READ)
    async with agents_waiting(temporal_env, gauge, plugin) as (queue, _):
        await wait_for(
            lambda: responses_waiting(slow_emulator, queue),
            within=60,
            what=f"{AGENTS} background responses created",
        )
        assert await settled(lambda: gauge.used(queue), 0) == 0
    # Cancelling the agents cancelled their responses at the API (none left thinking).
    stats = await slow_emulator.stats()
    last_statuses = [
        stats["responses"][ids[0]]["statuses"][-1][0]
        for owner, ids in stats["responses_by_workflow"].items()
        if owner.startswith(queue)
    ]
    assert last_statuses == ["cancelled"] * AGENTS
