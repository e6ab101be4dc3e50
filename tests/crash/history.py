"""Reading a workflow's Temporal history and pending activities in crash tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from temporalio.api.enums.v1 import EventType, PendingActivityState
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import WorkflowHandle

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
    """True when the workflow waits between two reads with no API call in flight.

    Polling, that is its `poll` activity waiting on the server for its next attempt; in webhook
    mode (and in histories from before polling on retries), its backoff timer with no activity
    pending. Killing the worker now cannot interrupt an API call: the crash lands in the WAIT.
    The wait must also have `TIMER_MARGIN_S` left.
    """
    description = await handle.describe()
    pending = list(description.raw_description.pending_activities)
    now = datetime.now(UTC)
    margin = timedelta(seconds=TIMER_MARGIN_S)
    if pending:
        if len(pending) != 1:
            return False
        (poll,) = pending
        waiting = (
            poll.activity_type.name.endswith(".poll")
            and poll.state == PendingActivityState.PENDING_ACTIVITY_STATE_SCHEDULED
            and poll.HasField("next_attempt_schedule_time")
        )
        return waiting and poll.next_attempt_schedule_time.ToDatetime(tzinfo=UTC) - now >= margin
    history = await events(handle)
    if not history or kind(history[-1]) != "EVENT_TYPE_TIMER_STARTED":
        return False
    # Enough of the timer left that it cannot fire between this check and the kill.
    last = history[-1]
    fires_at = last.event_time.ToDatetime(tzinfo=UTC) + (
        last.timer_started_event_attributes.start_to_fire_timeout.ToTimedelta()
    )
    return fires_at - now >= margin


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
