"""The backoff schedule, read from the workflow's own timers on the time-skipping test server."""

from __future__ import annotations

import itertools

import pytest
from temporalio.testing import WorkflowEnvironment

from durable_runs.models import PollPolicy
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


async def test_backoff_is_half_second_times_one_and_a_half_capped_at_five(
    time_skipping_env: WorkflowEnvironment, worker_factory: WorkerFactory
) -> None:
    timers = await _timers(
        time_skipping_env,
        worker_factory,
        poll=PollPolicy(deadline_s=30),
        metadata={"emu_outcome": "stay_queued"},
    )
    dues = [due for due, _ in timers]
    expected = list(itertools.accumulate(SCHEDULE))
    assert dues[: len(expected)] == pytest.approx(expected, abs=0.005)
    # The last wait is cut to what is left of the 30 s deadline.
    assert len(timers) == len(expected) + 1
    assert 0 < timers[-1][1] < 30 - expected[-1]


async def _timers_after_a_slow_first_read(
    env: WorkflowEnvironment, worker_factory: WorkerFactory, retry_after_ms: int
) -> list[tuple[float, float]]:
    """The timers of a run whose first read meets a 429 and waits out its Retry-After."""
    return await _timers(
        env,
        worker_factory,
        poll=PollPolicy(deadline_s=12),
        metadata={
            "emu_outcome": "stay_queued",
            "emu_rate_limit_next": "1",
            "emu_retry_after_ms": str(retry_after_ms),
        },
    )


async def test_a_slow_check_does_not_push_the_schedule_back(
    time_skipping_env: WorkflowEnvironment, worker_factory: WorkerFactory
) -> None:
    # The first read meets a 429 and waits its 300 ms: the check after it is still due
    # 1.25 s after the create, as in the schedule; only that wait is shorter.
    timers = await _timers_after_a_slow_first_read(time_skipping_env, worker_factory, 300)
    expected = list(itertools.accumulate(SCHEDULE))[:5]
    assert [due for due, _ in timers[:5]] == pytest.approx(expected, abs=0.005)
    assert timers[1][1] < SCHEDULE[1] - 0.29


async def test_a_late_check_brings_the_next_no_closer_than_half_its_interval(
    time_skipping_env: WorkflowEnvironment, worker_factory: WorkerFactory
) -> None:
    # The first read waits 600 ms for its Retry-After, past most of the next 750 ms interval:
    # the wait after it is half that interval, and the check after that is due on the
    # schedule again (2.375 s after the create).
    timers = await _timers_after_a_slow_first_read(time_skipping_env, worker_factory, 600)
    assert [duration for _, duration in timers[:2]] == pytest.approx([0.5, 0.375])
    assert timers[2][0] == pytest.approx(2.375, abs=0.005)


async def test_poll_after_hint_is_a_lower_bound(
    time_skipping_env: WorkflowEnvironment, worker_factory: WorkerFactory
) -> None:
    timers = await _timers(
        time_skipping_env,
        worker_factory,
        poll=PollPolicy(deadline_s=12),
        metadata={"emu_outcome": "stay_queued", "emu_poll_after_ms": "2000"},
    )
    durations = [duration for _, duration in timers]
    # The first wait precedes any read (no hint yet); every later wait honours the 2 s hint,
    # and the schedule goes on from the checks the hint put off.
    assert durations[0] == pytest.approx(0.5)
    assert durations[1:4] == pytest.approx([2.0, 2.0, 2.0])
    assert timers[4][0] - timers[3][0] == pytest.approx(2.53125, abs=0.005)


async def test_webhook_mode_waits_on_the_safety_poll(
    time_skipping_env: WorkflowEnvironment, worker_factory: WorkerFactory
) -> None:
    durations = await _timer_durations(
        time_skipping_env,
        worker_factory,
        poll=PollPolicy(deadline_s=100, webhooks=True, safety_poll_s=30),
        metadata={"emu_outcome": "stay_queued"},
    )
    assert durations[:3] == pytest.approx([30.0, 30.0, 30.0])
    assert len(durations) == 4 and 0 < durations[3] <= 10.0
