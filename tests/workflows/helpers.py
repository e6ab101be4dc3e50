"""Helpers for workflow tests: start a run, read the emulator's view of it."""

from __future__ import annotations

import uuid
from typing import Any

from durable_runs_emulator.server import RunningEmulator
from temporalio.client import Client, WorkflowHandle

from durable_runs.models import PollPolicy, RunRequest, RunResult
from durable_runs.workflows.run import RunWorkflow

FAST_POLL = PollPolicy(initial_interval_s=0.1, backoff=1.5, max_interval_s=0.5, deadline_s=60)


def request(question: str = "What is 2+2?", **overrides: Any) -> RunRequest:
    """A request with fast polling, overridable field by field."""
    fields: dict[str, Any] = {"messages": [question], "poll": FAST_POLL, **overrides}
    return RunRequest(**fields)


async def start(
    client: Client, queue: str, req: RunRequest, workflow_id: str | None = None
) -> WorkflowHandle[RunWorkflow, RunResult]:
    """Start `RunWorkflow` on `queue`."""
    return await client.start_workflow(
        RunWorkflow.run,
        req,
        id=workflow_id or f"run-{uuid.uuid4()}",
        task_queue=queue,
    )


async def activity_attempts(handle: WorkflowHandle[Any, Any]) -> list[int]:
    """The attempt number of every activity task the workflow's history shows started.

    `poll` activities are left out: their attempts are reads, not retries of a failure.
    """
    history = await handle.fetch_history()
    types = {
        e.event_id: e.activity_task_scheduled_event_attributes.activity_type.name
        for e in history.events
        if e.HasField("activity_task_scheduled_event_attributes")
    }
    return [
        e.activity_task_started_event_attributes.attempt
        for e in history.events
        if e.HasField("activity_task_started_event_attributes")
        and not types[e.activity_task_started_event_attributes.scheduled_event_id].endswith(".poll")
    ]


async def runs_of(emulator: RunningEmulator, workflow_id: str) -> list[dict[str, Any]]:
    """The emulator's records of every run (or response) created for a workflow."""
    stats = await emulator.stats()
    ids = stats["runs_by_workflow"].get(workflow_id, [])
    ids += stats.get("responses_by_workflow", {}).get(workflow_id, [])
    objects = {**stats["runs"], **stats.get("responses", {})}
    return [{"id": i, **objects[i]} for i in ids]


async def create_scheduled(handle: WorkflowHandle[Any, Any]) -> bool:
    """Whether the workflow has scheduled its create (`<backend>.start`) activity."""
    history = await handle.fetch_history()
    return any(
        e.HasField("activity_task_scheduled_event_attributes")
        and e.activity_task_scheduled_event_attributes.activity_type.name.endswith(".start")
        for e in history.events
    )
