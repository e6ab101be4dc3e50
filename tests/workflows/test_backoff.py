"""The polling schedule: the `poll` activity's waits, and the workflow's safety-poll timers.

Polling, the waits between reads are the `next_retry_delay` of the `poll` activity's attempts
(the server keeps them); they are read here from the activity itself, run in Temporal's
`ActivityEnvironment` against the emulator, and from a whole run on the time-skipping server.
In webhook mode the safety poll is a durable timer, read from the history.
"""

from __future__ import annotations

import dataclasses
import itertools
from datetime import UTC, datetime, timedelta

import pytest
from openai import AsyncOpenAI
from temporalio.exceptions import ApplicationError, ApplicationErrorCategory
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment

from durable_runs.activities.polling import NOT_DUE, UNCHANGED
from durable_runs.activities.responses import ResponsesActivities
from durable_runs.activities.tools import ToolRegistry
from durable_runs.models import ObjectRef, PolledSnapshot, PollInput, PollPolicy
from tests.conftest import WorkerFactory
from tests.workflows.helpers import request, start


async def _timers(
    env: WorkflowEnvironment, worker_factory: WorkerFactory, **kw: object
) -> list[tuple[float, float]]:
    """(due time in seconds since the first timer started, duration) of each backoff timer.

    A timer is due its duration after `workflow.now()` of the task that started it: the start
    time of that workflow task.
    """
    async with worker_factory(env.client) as queue:
        handle = await start(env.client, queue, request(**kw))  # type: ignore[arg-type]
        result = await handle.result()
    assert result.status == "timed_out"
    timers: list[tuple[float, float]] = []
    task_started_at = 0.0
    for event in (await handle.fetch_history()).events:
        if event.HasField("workflow_task_started_event_attributes"):
            task_started_at = event.event_time.ToDatetime().timestamp()
        elif event.HasField("timer_started_event_attributes"):
            attributes = event.timer_started_event_attributes
            duration = attributes.start_to_fire_timeout.ToTimedelta().total_seconds()
            timers.append((task_started_at + duration, duration))
    first = timers[0][0] - timers[0][1]
    return [(due - first, duration) for due, duration in timers]


async def _timer_durations(
    env: WorkflowEnvironment, worker_factory: WorkerFactory, **kw: object
) -> list[float]:
    return [duration for _, duration in await _timers(env, worker_factory, **kw)]


SCHEDULE = [0.5, 0.75, 1.125, 1.6875, 2.53125, 3.796875, 5.0, 5.0, 5.0]
"""The waits of the default policy: 0.5 s, ×1.5 after each check, capped at 5 s."""


def test_backoff_is_half_second_times_one_and_a_half_capped_at_five() -> None:
    waits = [PollPolicy().wait_after(reads).total_seconds() for reads in range(len(SCHEDULE))]
    assert waits == pytest.approx(SCHEDULE)


def test_poll_after_hint_is_a_lower_bound() -> None:
    assert PollPolicy().wait_after(1, hint_ms=2000) == timedelta(seconds=2)
    assert PollPolicy().wait_after(9, hint_ms=2000) == timedelta(seconds=5)


async def _queued_response(openai_client: AsyncOpenAI, **metadata: str) -> ObjectRef:
    response = await openai_client.responses.create(
        model="gpt-4o-mini",
        input="What is 2+2?",
        background=True,
        metadata={"emu_outcome": "stay_queued", **metadata},
    )
    return ObjectRef(object_id=response.id)


async def _attempt(
    openai_client: AsyncOpenAI, ref: ObjectRef, *, attempt: int, first_due_in_s: float, **kw: object
) -> PolledSnapshot | ApplicationError:
    """One attempt of the `poll` activity, as the server would start it.

    The activity was scheduled half a second before its first read was due, `first_due_in_s`
    from now (negative: that read is past).
    """
    now = datetime.now(UTC)
    first_due_at = now + timedelta(seconds=first_due_in_s)
    env = ActivityEnvironment()
    env.info = dataclasses.replace(
        env.info,
        attempt=attempt,
        scheduled_time=first_due_at - timedelta(seconds=0.5),
        started_time=now,
    )
    poll_input = PollInput(
        ref=ref,
        status="queued",
        first_due_at=first_due_at,
        poll=PollPolicy(),
        **kw,  # type: ignore[arg-type]
    )
    activities = ResponsesActivities(openai_client, ToolRegistry())
    try:
        return await env.run(activities.poll, poll_input)
    except ApplicationError as err:
        return err


async def test_first_attempt_before_its_due_time_reads_nothing_and_waits(
    openai_client: AsyncOpenAI,
) -> None:
    ref = await _queued_response(openai_client)
    error = await _attempt(openai_client, ref, attempt=1, first_due_in_s=0.5)
    assert isinstance(error, ApplicationError) and error.type == NOT_DUE
    assert error.category == ApplicationErrorCategory.BENIGN and not error.non_retryable
    assert error.next_retry_delay is not None
    assert 0.4 < error.next_retry_delay.total_seconds() <= 0.5


@pytest.mark.parametrize(("attempt", "wait_s"), [(2, 0.75), (3, 1.125), (8, 5.0)])
async def test_an_unchanged_read_on_time_waits_the_next_interval(
    openai_client: AsyncOpenAI, attempt: int, wait_s: float
) -> None:
    # The first attempt waited for its due time: attempt N made read N-1, due now.
    reads = attempt - 1
    ref = await _queued_response(openai_client)
    past = sum(SCHEDULE[1:reads])
    error = await _attempt(openai_client, ref, attempt=attempt, first_due_in_s=-past)
    assert isinstance(error, ApplicationError) and error.type == UNCHANGED
    assert error.category == ApplicationErrorCategory.BENIGN and not error.non_retryable
    assert error.next_retry_delay is not None
    assert error.next_retry_delay.total_seconds() == pytest.approx(wait_s, abs=0.1)


async def test_a_late_read_keeps_the_schedule_but_half_an_interval(
    openai_client: AsyncOpenAI,
) -> None:
    # The first read was due 0.2 s ago and made only now: the second is due 0.75 s after the
    # first, so its wait is cut; a read 1 s late waits half of 0.75 s.
    ref = await _queued_response(openai_client)
    error = await _attempt(openai_client, ref, attempt=2, first_due_in_s=-0.2)
    assert isinstance(error, ApplicationError) and error.next_retry_delay is not None
    assert error.next_retry_delay.total_seconds() == pytest.approx(0.55, abs=0.1)
    error = await _attempt(openai_client, ref, attempt=2, first_due_in_s=-1)
    assert isinstance(error, ApplicationError)
    assert error.next_retry_delay == timedelta(seconds=0.375)


async def test_the_backoff_goes_on_from_earlier_polls_of_the_same_object(
    openai_client: AsyncOpenAI,
) -> None:
    ref = await _queued_response(openai_client)
    error = await _attempt(openai_client, ref, attempt=2, first_due_in_s=0, reads_before=3)
    assert isinstance(error, ApplicationError) and error.next_retry_delay is not None
    assert error.next_retry_delay.total_seconds() == pytest.approx(SCHEDULE[4], abs=0.1)


async def test_the_server_hint_lengthens_the_wait(openai_client: AsyncOpenAI) -> None:
    ref = await _queued_response(openai_client, emu_poll_after_ms="2000")
    error = await _attempt(openai_client, ref, attempt=2, first_due_in_s=0)
    assert isinstance(error, ApplicationError)
    assert error.next_retry_delay == timedelta(seconds=2)


async def test_a_changed_read_returns_with_the_reads_made(openai_client: AsyncOpenAI) -> None:
    response = await openai_client.responses.create(
        model="gpt-4o-mini", input="What is 2+2?", background=True
    )
    await openai_client.responses.cancel(response.id)
    ref = ObjectRef(object_id=response.id)
    polled = await _attempt(openai_client, ref, attempt=4, first_due_in_s=0.5)
    assert isinstance(polled, PolledSnapshot)
    assert polled.snapshot.status == "cancelled" and polled.reads == 3


async def test_a_polling_run_reads_on_the_schedule_until_its_deadline(
    time_skipping_env: WorkflowEnvironment, worker_factory: WorkerFactory
) -> None:
    # Reads due 0.5, 1.25, 2.375, ... 25.4 s after the create: nine within the 30 s deadline,
    # with no timer and no workflow task between them; the tenth would come after it.
    async with worker_factory(time_skipping_env.client) as queue:
        handle = await start(
            time_skipping_env.client,
            queue,
            request(poll=PollPolicy(deadline_s=30), metadata={"emu_outcome": "stay_queued"}),
        )
        result = await handle.result()
    assert result.status == "timed_out"
    assert sum(1 for due in itertools.accumulate(SCHEDULE) if due < 30) == 9
    assert result.checks == 9
    history = await handle.fetch_history()
    assert not [e for e in history.events if e.HasField("timer_started_event_attributes")]


async def test_webhook_mode_safety_checks_grow(
    time_skipping_env: WorkflowEnvironment, worker_factory: WorkerFactory
) -> None:
    durations = await _timer_durations(
        time_skipping_env,
        worker_factory,
        poll=PollPolicy(deadline_s=250, webhooks=True, safety_poll_s=30, safety_poll_backoff=2),
        metadata={"emu_outcome": "stay_queued"},
    )
    # Safety checks due 30, 90, 210 s after the create; the last wait is cut to the deadline.
    assert durations[:3] == pytest.approx([30.0, 60.0, 120.0], abs=0.05)
    assert len(durations) == 4 and 0 < durations[3] <= 40.0
