"""The OpenAI worker's slots: with no room on the host, API calls wait on the queue."""

from __future__ import annotations

import asyncio

from temporalio.client import Client

from durable_runs.worker import api_call_tuner
from tests.conftest import WorkerFactory
from tests.workflows.helpers import request, start

RUNS = 6


async def _most_calls_at_once(client: Client, workflow_ids: list[str]) -> int:
    """The most API activities that were running at the same moment, from the histories."""
    changes: list[tuple[float, int]] = []
    for workflow_id in workflow_ids:
        history = await client.get_workflow_handle(workflow_id).fetch_history()
        for event in history.events:
            at = event.event_time.ToDatetime().timestamp()
            if event.HasField("activity_task_started_event_attributes"):
                changes.append((at, 1))
            elif event.HasField("activity_task_completed_event_attributes"):
                changes.append((at, -1))
    running = most = 0
    for _, change in sorted(changes):  # at the same instant, an end counts before a start
        running += change
        most = max(most, running)
    return most


async def test_with_no_room_on_the_host_a_worker_runs_only_its_minimum_of_calls(
    client: Client, worker_factory: WorkerFactory
) -> None:
    # No host has under 0.01% of its memory in use: the tuner never goes past the minimum.
    tuner = api_call_tuner(min_calls=1, max_memory=0.0001)
    async with worker_factory(client, api_tuner=tuner) as queue:
        handles = [await start(client, queue, request()) for _ in range(RUNS)]
        results = await asyncio.gather(*(h.result() for h in handles))
    assert [r.status for r in results] == ["completed"] * RUNS
    assert await _most_calls_at_once(client, [h.id for h in handles]) == 1
