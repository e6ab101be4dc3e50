"""The backoff schedule, read from the workflow's own timers on the time-skipping test server."""

from __future__ import annotations

import pytest
from temporalio.testing import WorkflowEnvironment

from durable_runs.models import PollPolicy
from tests.conftest import WorkerFactory
from tests.workflows.helpers import request, start


async def _timer_durations(
    env: WorkflowEnvironment, worker_factory: WorkerFactory, **kw: object
) -> list[float]:
    async with worker_factory(env.client) as queue:
        handle = await start(env.client, queue, request(**kw))  # type: ignore[arg-type]
        result = await handle.result()
    assert result.status == "timed_out"
    history = await handle.fetch_history()
    return [
        e.timer_started_event_attributes.start_to_fire_timeout.ToTimedelta().total_seconds()
        for e in history.events
        if e.HasField("timer_started_event_attributes")
    ]


async def test_backoff_is_half_second_times_one_and_a_half_capped_at_five(
    time_skipping_env: WorkflowEnvironment, worker_factory: WorkerFactory
) -> None:
    durations = await _timer_durations(
        time_skipping_env,
        worker_factory,
        poll=PollPolicy(deadline_s=30),
        metadata={"emu_outcome": "stay_queued"},
    )
    expected = [0.5, 0.75, 1.125, 1.6875, 2.53125, 3.796875, 5.0, 5.0, 5.0]
    assert durations[: len(expected)] == pytest.approx(expected)
    # The last wait is cut to what is left of the 30 s deadline.
    assert len(durations) == len(expected) + 1
    assert 0 < durations[-1] < 30 - sum(expected)


async def test_poll_after_hint_is_a_lower_bound(
    time_skipping_env: WorkflowEnvironment, worker_factory: WorkerFactory
) -> None:
    durations = await _timer_durations(
        time_skipping_env,
        worker_factory,
        poll=PollPolicy(deadline_s=12),
        metadata={"emu_outcome": "stay_queued", "emu_poll_after_ms": "2000"},
    )
    # The first wait precedes any read (no hint yet); every later wait honours the 2 s hint.
    assert durations[0] == pytest.approx(0.5)
    assert durations[1:4] == pytest.approx([2.0, 2.0, 2.0])
    assert durations[4] == pytest.approx(2.53125)


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
