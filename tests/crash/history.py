"""Reading a workflow's Temporal history and pending activities in crash tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from temporalio.api.enums.v1 import EventType, PendingActivityState
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client, WorkflowHandle
from temporalio.exceptions import ApplicationError

TOOL_ACTIVITY = "tools.run"
TIMER_MARGIN_S = 0.3
"""A timer closer than this to firing does not count as a safe moment to crash."""


async def events(handle: WorkflowHandle[Any, Any]) -> list[HistoryEvent]:
    """Every event of the workflow's current run."""
    return list((await handle.fetch_history()).events)


def kind(event: HistoryEvent) -> str:
    """The event type's name, e.g. `EVENT_TYPE_TIMER_STARTED`."""
    return EventType.Name(event.event_type)


async def idle_on_timer(handle: WorkflowHandle[Any, Any]) -> bool:
    """True when the workflow waits on its backoff timer with no activity pending.

    Killing the worker now cannot interrupt an API call: the crash lands in the WAIT. The timer
    must also have `TIMER_MARGIN_S` left.
    """
    description = await handle.describe()
    if description.raw_description.pending_activities:
        return False
    history = await events(handle)
    if not history or kind(history[-1]) != "EVENT_TYPE_TIMER_STARTED":
        return False
    # Enough of the timer left that it cannot fire between this check and the kill.
    last = history[-1]
    fires_at = last.event_time.ToDatetime(tzinfo=UTC) + (
        last.timer_started_event_attributes.start_to_fire_timeout.ToTimedelta()
    )
    return fires_at - datetime.now(UTC) >= timedelta(seconds=TIMER_MARGIN_S)


async def failed_attempts(handle: WorkflowHandle[Any, Any], activity_type: str) -> int:
    """Failed attempts Temporal has recorded for a pending activity of this type (0 if none)."""
    description = await handle.describe()
    for pending in description.raw_description.pending_activities:
        if pending.activity_type.name == activity_type and pending.HasField("last_failure"):
            return int(pending.attempt) - 1
    return 0


def worker_identities(history: list[HistoryEvent]) -> set[str]:
    """Identities (`pid@host`) of the workers that ran this workflow's tasks."""
    return {
        e.workflow_task_started_event_attributes.identity
        for e in history
        if e.HasField("workflow_task_started_event_attributes")
    }


def heartbeat_timeout_s(history: list[HistoryEvent], activity_id: str) -> float:
    """The heartbeat timeout the workflow scheduled an activity with (0: none)."""
    for event in history:
        if event.HasField("activity_task_scheduled_event_attributes"):
            attrs = event.activity_task_scheduled_event_attributes
            if attrs.activity_id == activity_id:
                return attrs.heartbeat_timeout.ToTimedelta().total_seconds()
    raise LookupError(activity_id)


async def orphaned_tool_attempts(handle: WorkflowHandle[Any, Any]) -> list[str]:
    """Ids of tool activities Temporal still believes running (their worker may be dead)."""
    description = await handle.describe()
    return [
        p.activity_id
        for p in description.raw_description.pending_activities
        if p.activity_type.name == TOOL_ACTIVITY
        and p.state == PendingActivityState.PENDING_ACTIVITY_STATE_STARTED
    ]


async def release_orphaned_tool_attempts(client: Client, handle: WorkflowHandle[Any, Any]) -> int:
    """Fail the attempts of tool activities whose worker was killed, when nothing else would.

    The run workflow schedules tools with a 5-minute start-to-close timeout and no heartbeat
    timeout, so Temporal learns of a dead worker only after 5 minutes (see the crash-suite
    report). Until that is fixed this plays the operator: it fails each orphaned attempt by id
    (what a heartbeat timeout would do), and Temporal's retry policy runs the tool again on the
    live worker. With a heartbeat timeout in place it does nothing: Temporal retries by itself.

    Returns:
        The number of attempts failed.
    """
    history = await events(handle)
    released = 0
    for activity_id in await orphaned_tool_attempts(handle):
        if heartbeat_timeout_s(history, activity_id) > 0:
            continue
        activity = client.get_async_activity_handle(
            workflow_id=handle.id, run_id=handle.result_run_id, activity_id=activity_id
        )
        await activity.fail(
            ApplicationError("the worker running this tool was killed", type="WorkerLost")
        )
        released += 1
    return released
