"""The run state machine end to end: real dev server, real SDK over HTTP, real emulator."""

from __future__ import annotations

import asyncio
import json

import pytest
from durable_runs_emulator.server import RunningEmulator
from openai import AsyncOpenAI
from temporalio.client import Client, WorkflowFailureError
from temporalio.exceptions import CancelledError

from durable_runs.activities.tools import ToolRegistry
from durable_runs.models import PollPolicy
from durable_runs.workflows.run import RunWorkflow
from tests.conftest import WorkerFactory
from tests.waiting import wait_for
from tests.workflows.helpers import (
    FAST_POLL,
    activity_attempts,
    create_scheduled,
    request,
    runs_of,
    start,
)

BACKENDS = ["assistants", "responses"]
WEATHER = "What is the weather in Paris and Tokyo, in Fahrenheit?"


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """Each test of the matrix runs on both backends."""
    return str(request.param)


async def test_completed_answers_the_seed_question(
    client: Client, worker_factory: WorkerFactory, emulator: RunningEmulator, backend: str
) -> None:
    async with worker_factory(client) as queue:
        handle = await start(client, queue, request(backend=backend))
        result = await handle.result()
        view = await handle.query(RunWorkflow.status)
    assert result.status == "completed"
    assert result.answer == "4"
    assert result.api_calls["start"] == 1
    assert result.usage is not None and result.usage.total_tokens > 0
    runs = await runs_of(emulator, handle.id)
    assert len(runs) == 1
    assert "completed" in runs[0]["status_times"]
    assert view.status == "completed"
    assert view.checks == result.checks


async def test_failed_surfaces_last_error(
    client: Client, worker_factory: WorkerFactory, backend: str
) -> None:
    metadata = {
        "emu_outcome": "failed",
        "emu_error_code": "server_error",
        "emu_error_message": "boom",
    }
    async with worker_factory(client) as queue:
        result = await (
            await start(client, queue, request(backend=backend, metadata=metadata))
        ).result()
    assert result.status == "failed"
    assert result.last_error is not None
    assert result.last_error.code == "server_error"
    assert result.last_error.message == "boom"
    assert result.answer == ""


async def test_incomplete_is_final(
    client: Client, worker_factory: WorkerFactory, backend: str
) -> None:
    async with worker_factory(client) as queue:
        req = request(backend=backend, metadata={"emu_outcome": "incomplete"})
        result = await (await start(client, queue, req)).result()
    assert result.status == "incomplete"
    assert result.last_error is not None


async def test_expired_fails_by_default(
    client: Client, worker_factory: WorkerFactory, emulator: RunningEmulator
) -> None:
    async with worker_factory(client) as queue:
        req = request(backend="assistants", metadata={"emu_outcome": "expired"})
        handle = await start(client, queue, req)
        result = await handle.result()
    assert result.status == "expired"
    assert result.restarts == 0
    assert len(await runs_of(emulator, handle.id)) == 1


async def test_expired_restarts_up_to_the_bound(
    client: Client, worker_factory: WorkerFactory, emulator: RunningEmulator
) -> None:
    req = request(
        backend="assistants",
        metadata={"emu_outcome": "expired"},
        on_expired="restart",
        max_restarts=2,
    )
    async with worker_factory(client) as queue:
        handle = await start(client, queue, req)
        result = await handle.result()
    assert result.status == "expired"
    assert result.restarts == 2
    runs = await runs_of(emulator, handle.id)
    assert len(runs) == 3
    assert result.response_ids == [r["id"] for r in runs]


async def test_two_tool_rounds_with_parallel_calls(
    client: Client, worker_factory: WorkerFactory, emulator: RunningEmulator, backend: str
) -> None:
    req = request(WEATHER, backend=backend, tools=["get_weather", "celsius_to_fahrenheit"])
    async with worker_factory(client) as queue:
        handle = await start(client, queue, req)
        result = await handle.result()
    assert result.status == "completed", result
    assert result.tool_rounds == 2
    assert result.api_calls["submit_tool_outputs"] == 2
    assert "Paris" in result.answer and "Tokyo" in result.answer and "°F" in result.answer
    history = await handle.fetch_history()
    tool_starts = [
        e
        for e in history.events
        if e.HasField("activity_task_scheduled_event_attributes")
        and e.activity_task_scheduled_event_attributes.activity_type.name == "tools.run"
    ]
    assert len(tool_starts) == 4  # two cities, two rounds
    # Both calls of the first round were scheduled in one workflow task: in parallel.
    first_round = {
        e.activity_task_scheduled_event_attributes.workflow_task_completed_event_id
        for e in tool_starts[:2]
    }
    assert len(first_round) == 1


async def test_tool_plan_from_metadata_and_unknown_tool_reported_to_model(
    client: Client, worker_factory: WorkerFactory, backend: str
) -> None:
    plan = [
        [{"name": "get_weather", "arguments": {"city": "Oslo"}}, {"name": "nope", "arguments": {}}]
    ]
    req = request(
        "Plan.",
        backend=backend,
        tools=["get_weather"],
        metadata={"emu_tool_plan": json.dumps(plan)},
    )
    async with worker_factory(client) as queue:
        result = await (await start(client, queue, req)).result()
    assert result.status == "completed"
    assert "Oslo" in result.answer
    assert "unknown tool" in result.answer


async def test_rate_limit_waits_exactly_retry_after(
    client: Client, worker_factory: WorkerFactory, emulator: RunningEmulator, backend: str
) -> None:
    metadata = {"emu_rate_limit_next": "1", "emu_retry_after_ms": "1500", "emu_duration_ms": "2500"}
    async with worker_factory(client) as queue:
        handle = await start(client, queue, request(backend=backend, metadata=metadata))
        result = await handle.result()
    assert result.status == "completed"
    (run,) = await runs_of(emulator, handle.id)
    requests = run["requests"]
    limited = next(i for i, r in enumerate(requests) if r["status_code"] == 429)
    gap = requests[limited + 1]["at"] - requests[limited]["at"]
    assert 1.5 <= gap < 2.5, requests


async def test_server_errors_are_retried(
    client: Client, worker_factory: WorkerFactory, emulator: RunningEmulator, backend: str
) -> None:
    metadata = {"emu_server_error_next": "2", "emu_duration_ms": "3000"}
    async with worker_factory(client) as queue:
        handle = await start(client, queue, request(backend=backend, metadata=metadata))
        result = await handle.result()
    assert result.status == "completed"
    assert result.answer == "4"
    (run,) = await runs_of(emulator, handle.id)
    assert [r["status_code"] for r in run["requests"]].count(500) == 2


async def test_bad_key_fails_fast_naming_the_variable(
    client: Client, worker_factory: WorkerFactory, emulator: RunningEmulator, backend: str
) -> None:
    bad = AsyncOpenAI(base_url=emulator.base_url, api_key="sk-bad-key", max_retries=0)
    async with worker_factory(client, openai=bad) as queue:
        handle = await start(client, queue, request(backend=backend))
        with pytest.raises(WorkflowFailureError) as failure:
            await asyncio.wait_for(handle.result(), timeout=20)
    assert "OPENAI_API_KEY" in str(failure.value.cause)
    attempts = await activity_attempts(handle)
    assert attempts and set(attempts) == {1}  # no activity was retried


async def test_deadline_cancels_the_run_at_the_api(
    client: Client, worker_factory: WorkerFactory, emulator: RunningEmulator, backend: str
) -> None:
    poll = PollPolicy(initial_interval_s=0.2, max_interval_s=0.5, deadline_s=2)
    req = request(backend=backend, poll=poll, metadata={"emu_outcome": "stay_queued"})
    async with worker_factory(client) as queue:
        handle = await start(client, queue, req)
        result = await handle.result()
    assert result.status == "timed_out"
    assert result.last_error is not None and result.last_error.code == "deadline_exceeded"
    assert result.api_calls["cancel"] == 1
    (run,) = await runs_of(emulator, handle.id)
    assert run["calls"].get("cancel_run", 0) + run["calls"].get("cancel_response", 0) >= 1
    await _wait_for_status(emulator, handle.id, "cancelled")


async def test_workflow_cancellation_cancels_the_run(
    client: Client, worker_factory: WorkerFactory, emulator: RunningEmulator, backend: str
) -> None:
    req = request(backend=backend, metadata={"emu_outcome": "stay_queued"})
    async with worker_factory(client) as queue:
        handle = await start(client, queue, req)
        await wait_for(lambda: _has_run(emulator, handle.id), what="run created")
        await handle.cancel()
        with pytest.raises(WorkflowFailureError) as failure:
            await handle.result()
    assert isinstance(failure.value.cause, CancelledError)
    await _wait_for_status(emulator, handle.id, "cancelled")


async def test_cancellation_during_create_still_cancels_the_created_run(
    client: Client, worker_factory: WorkerFactory, emulator: RunningEmulator, backend: str
) -> None:
    # The first create attempt is refused with a 1.5 s Retry-After: the workflow is cancelled
    # while its create is in flight, and must still cancel the run the retry creates.
    metadata = {
        "emu_outcome": "stay_queued",
        "emu_create_rate_limit": "1",
        "emu_retry_after_ms": "1500",
    }
    async with worker_factory(client) as queue:
        handle = await start(client, queue, request(backend=backend, metadata=metadata))
        await wait_for(lambda: create_scheduled(handle), what="first create attempt")
        await handle.cancel()
        with pytest.raises(WorkflowFailureError) as failure:
            await handle.result()
    assert isinstance(failure.value.cause, CancelledError)
    await _wait_for_status(emulator, handle.id, "cancelled")


async def test_retried_create_makes_no_second_run(
    client: Client, worker_factory: WorkerFactory, emulator: RunningEmulator
) -> None:
    req = request(backend="assistants", metadata={"emu_create_lose_response": "1"})
    async with worker_factory(client) as queue:
        handle = await start(client, queue, req)
        result = await handle.result()
    assert result.status == "completed"
    assert len(await runs_of(emulator, handle.id)) == 1
    attempts = await activity_attempts(handle)
    assert max(attempts) == 2  # the create was retried, and found its run


async def test_polling_adds_no_history_per_read(
    client: Client, worker_factory: WorkerFactory, backend: str
) -> None:
    # Many reads, on the server's retries of one `poll` activity per status change.
    req = request(backend=backend, metadata={"emu_duration_ms": "2500"})
    async with worker_factory(client) as queue:
        handle = await start(client, queue, req)
        result = await handle.result()
    assert result.status == "completed" and result.answer == "4"
    assert result.checks >= 6
    history = await handle.fetch_history()
    polls = [
        e
        for e in history.events
        if e.HasField("activity_task_scheduled_event_attributes")
        and e.activity_task_scheduled_event_attributes.activity_type.name.endswith(".poll")
    ]
    assert len(polls) <= 3  # queued -> in_progress -> completed
    assert not [e for e in history.events if e.HasField("timer_started_event_attributes")]


async def test_history_stays_bounded_with_continue_as_new(
    client: Client, worker_factory: WorkerFactory, emulator: RunningEmulator, backend: str
) -> None:
    # Webhook mode with no bridge: every safety check is a timer and a read in the history.
    poll = FAST_POLL.model_copy(
        update={
            "checks_per_history": 3,
            "webhooks": True,
            "safety_poll_s": 0.1,
            "safety_poll_backoff": 1.0,
        }
    )
    req = request(backend=backend, poll=poll, metadata={"emu_duration_ms": "2500"})
    async with worker_factory(client) as queue:
        handle = await start(client, queue, req)
        result = await handle.result()
    assert result.status == "completed"
    assert result.answer == "4"
    assert result.checks >= 6, (
        result.api_calls,
        result.timings,
        await runs_of(emulator, handle.id),
    )
    first = client.get_workflow_handle(handle.id, run_id=handle.first_execution_run_id)
    events = (await first.fetch_history()).events
    assert events[-1].HasField("workflow_execution_continued_as_new_event_attributes")


async def _has_run(emulator: RunningEmulator, workflow_id: str) -> bool:
    return bool(await runs_of(emulator, workflow_id))


async def _wait_for_status(emulator: RunningEmulator, workflow_id: str, status: str) -> None:
    async def reached() -> bool:
        runs = await runs_of(emulator, workflow_id)
        return bool(runs) and status in runs[-1]["status_times"]

    await wait_for(reached, what=f"run of {workflow_id} {status}")


def _flaky_lookup(city: str) -> str:
    """A tool that always raises."""
    raise RuntimeError(f"weather service down for {city}")


async def test_raising_tool_is_reported_to_the_model(
    client: Client, worker_factory: WorkerFactory, backend: str
) -> None:
    registry = ToolRegistry()
    registry.register(_flaky_lookup, name="get_weather")
    plan = [[{"name": "get_weather", "arguments": {"city": "Oslo"}}]]
    req = request(
        "Plan.",
        backend=backend,
        tools=["get_weather"],
        metadata={"emu_tool_plan": json.dumps(plan)},
    )
    async with worker_factory(client, registry=registry) as queue:
        result = await (await start(client, queue, req)).result()
    assert result.status == "completed"
    assert "RuntimeError: weather service down for Oslo" in result.answer


async def test_fatal_tool_fails_the_run_and_cancels_it_at_the_api(
    client: Client, worker_factory: WorkerFactory, emulator: RunningEmulator, backend: str
) -> None:
    registry = ToolRegistry()
    registry.register(_flaky_lookup, name="get_weather", fatal=True)
    plan = [[{"name": "get_weather", "arguments": {"city": "Oslo"}}]]
    metadata = {"emu_tool_plan": json.dumps(plan)}
    req = request("Plan.", backend=backend, tools=["get_weather"], metadata=metadata)
    async with worker_factory(client, registry=registry) as queue:
        handle = await start(client, queue, req)
        with pytest.raises(WorkflowFailureError) as failure:
            await handle.result()
    assert "tool get_weather failed" in str(failure.value.cause)
    if backend == "assistants":  # a run waiting in requires_action is cancelled at the API
        await _wait_for_status(emulator, handle.id, "cancelled")
    attempts = await activity_attempts(handle)
    assert max(attempts) == 1  # a fatal tool is not retried
