"""Activity options: the built-in defaults, a worker's default and a run's own, as scheduled.

Each test reads the options from the history's `ActivityTaskScheduled` events: what the server
was asked to enforce, not what the workflow meant to ask.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio.api.history.v1 import ActivityTaskScheduledEventAttributes
from temporalio.client import Client, WorkflowHandle

from durable_runs.options import ActivityOptions, CallPriorities, use_worker_defaults
from tests.conftest import WorkerFactory
from tests.workflows.helpers import request, start

WEATHER = "What is the weather in Paris and Tokyo, in Fahrenheit?"
TOOLS = ["get_weather", "celsius_to_fahrenheit"]


async def _scheduled(
    handle: WorkflowHandle[Any, Any],
) -> dict[str, ActivityTaskScheduledEventAttributes]:
    """The first scheduled activity of each type (`responses.start`, `tools.run`...)."""
    scheduled: dict[str, ActivityTaskScheduledEventAttributes] = {}
    for event in (await handle.fetch_history()).events:
        if event.HasField("activity_task_scheduled_event_attributes"):
            attributes = event.activity_task_scheduled_event_attributes
            scheduled.setdefault(attributes.activity_type.name, attributes)
    return scheduled


def _seconds(duration: Any) -> float:
    return float(duration.ToTimedelta().total_seconds())


async def test_without_options_a_run_schedules_the_built_in_defaults(
    client: Client, worker_factory: WorkerFactory
) -> None:
    async with worker_factory(client) as queue:
        handle = await start(client, queue, request(WEATHER, tools=TOOLS))
        assert (await handle.result()).status == "completed"
    scheduled = await _scheduled(handle)
    defaults = ActivityOptions()
    create = scheduled["responses.start"]
    assert _seconds(create.start_to_close_timeout) == defaults.api_call_timeout.total_seconds()
    assert _seconds(create.retry_policy.initial_interval) == 1.0
    assert _seconds(create.retry_policy.maximum_interval) == 30.0
    assert list(create.retry_policy.non_retryable_error_types) == [
        "ValidationError",
        "PayloadsTooLarge",
    ]
    priorities = {
        name: a.priority.priority_key for name, a in scheduled.items() if name != "tools.run"
    }
    assert priorities == {
        "responses.start": 3,
        "responses.poll": 2,
        "responses.submit_tool_outputs": 2,
    }
    tool = scheduled["tools.run"]
    assert _seconds(tool.start_to_close_timeout) == 300.0
    assert _seconds(tool.heartbeat_timeout) == 10.0
    assert tool.retry_policy.maximum_attempts == 5


RUN_OPTIONS = ActivityOptions(
    api_call_timeout=timedelta(seconds=7),
    api_retry_initial_interval=timedelta(seconds=2),
    tool_timeout=timedelta(seconds=40),
    tool_max_attempts=3,
    priorities=CallPriorities(start=5, submit_tool_outputs=4),
)


async def test_a_runs_own_options_are_what_its_activities_are_scheduled_with(
    client: Client, worker_factory: WorkerFactory
) -> None:
    async with worker_factory(client) as queue:
        req = request(WEATHER, tools=TOOLS, options=RUN_OPTIONS)
        handle = await start(client, queue, req)
        assert (await handle.result()).status == "completed"
    scheduled = await _scheduled(handle)
    create = scheduled["responses.start"]
    assert _seconds(create.start_to_close_timeout) == 7.0
    assert _seconds(create.retry_policy.initial_interval) == 2.0
    assert create.priority.priority_key == 5
    assert scheduled["responses.submit_tool_outputs"].priority.priority_key == 4
    assert scheduled["responses.poll"].priority.priority_key == 2  # not overridden
    tool = scheduled["tools.run"]
    assert _seconds(tool.start_to_close_timeout) == 40.0
    assert tool.retry_policy.maximum_attempts == 3


async def test_a_worker_default_applies_to_runs_without_options_of_their_own(
    client: Client, worker_factory: WorkerFactory
) -> None:
    worker_default = ActivityOptions(
        api_call_timeout=timedelta(seconds=11), priorities=CallPriorities(read=1)
    )
    with use_worker_defaults(worker_default):
        async with worker_factory(client) as queue:
            plain = await start(client, queue, request())
            own = await start(client, queue, request(options=RUN_OPTIONS))
            assert (await plain.result()).status == "completed"
            assert (await own.result()).status == "completed"
    plain_create = (await _scheduled(plain))["responses.start"]
    assert _seconds(plain_create.start_to_close_timeout) == 11.0
    assert (await _scheduled(plain))["responses.poll"].priority.priority_key == 1
    # The run's options win over the worker's, as a whole.
    own_scheduled = await _scheduled(own)
    assert _seconds(own_scheduled["responses.start"].start_to_close_timeout) == 7.0
    assert own_scheduled["responses.poll"].priority.priority_key == 2
