"""Polling on the server's retries: one `poll` activity reads until the object changes.

A polling run used to make each check as a durable timer, a workflow task, a `read` activity
and another workflow task. Now the workflow schedules one `poll` activity; each of its attempts
reads once and, while nothing changed, fails with a benign retryable error whose
`next_retry_delay` brings the next read to its due time on the backoff schedule (counted from the
first read, so dispatch and read times do not add up), or later when the server's poll-after hint
says so. The Temporal server keeps the schedule: no workflow task and no history event
between reads, no worker slot held between attempts, and the worker that dies mid-wait loses
nothing (the next attempt goes to another). The first read is due one initial interval after the
create.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from temporalio import activity
from temporalio.exceptions import ApplicationError, ApplicationErrorCategory

from durable_runs.models import MIN_WAIT_SHARE, ObjectRef, PolledSnapshot, PollInput, RunSnapshot

NOT_DUE = "CheckNotDue"
"""Error type of an attempt that started before the first read was due (it read nothing)."""

UNCHANGED = "RunUnchanged"
"""Error type of an attempt whose read showed the object as the workflow knew it."""


def reads_made(attempt: int, *, first_due_at: datetime, scheduled_at: datetime) -> int:
    """Reads made by attempts 1..`attempt`, this one included.

    The first attempt reads only when it was due; it is taken to have started when the activity
    was scheduled (an attempt that was due no sooner than it ran counts at least its read).
    """
    return max(attempt - 1 if first_due_at > scheduled_at else attempt, 1)


def is_change(known_status: str, snapshot: RunSnapshot) -> bool:
    """Whether a read tells the workflow something: another status, tool calls, or the end."""
    return snapshot.status != known_status or snapshot.needs_tool_outputs or snapshot.is_terminal


async def poll_until_changed(
    read: Callable[[ObjectRef], Awaitable[RunSnapshot]], input: PollInput
) -> PolledSnapshot:
    """One attempt of a `poll` activity: wait on the server until due, else read once.

    Args:
        read: The backend's read of one object.
        input: What to read, what the workflow knows of it, and the run's policy.

    Returns:
        The read, when it showed a change.

    Raises:
        ApplicationError: Benign and retryable, with the wait before the next attempt as its
            `next_retry_delay`: `CheckNotDue` before the first read is due, `RunUnchanged`
            after a read that showed no change (its one detail: the reads made so far, which
            the workflow counts when the deadline ends the activity in a wait).
    """
    info = activity.info()
    began = time.monotonic()

    def server_now() -> datetime:
        # The due times are the workflow's (the server's clock): count from the attempt's start
        # as the server recorded it, so a skewed worker clock does not move the schedule.
        return info.started_time + timedelta(seconds=time.monotonic() - began)

    now = server_now()
    if info.attempt == 1 and now < input.first_due_at:
        raise ApplicationError(
            "the first check is not due yet",
            type=NOT_DUE,
            next_retry_delay=input.first_due_at - now,
            category=ApplicationErrorCategory.BENIGN,
        )
    reads = reads_made(
        info.attempt, first_due_at=input.first_due_at, scheduled_at=info.scheduled_time
    )
    snapshot = await read(input.ref)
    if is_change(input.status, snapshot):
        return PolledSnapshot(snapshot=snapshot, reads=reads)
    raise ApplicationError(
        f"{snapshot.object_id} is still {snapshot.status} after {reads} reads",
        reads,
        type=UNCHANGED,
        next_retry_delay=wait_before_next(
            input, reads, now=server_now(), hint_ms=snapshot.poll_after_ms
        ),
        category=ApplicationErrorCategory.BENIGN,
    )


def wait_before_next(
    input: PollInput, reads: int, *, now: datetime, hint_ms: int | None
) -> timedelta:
    """The wait after this activity's `reads`-th read saw no change.

    Reads are due on the backoff schedule counted from the first one (`input.first_due_at`),
    so the time each attempt takes to be dispatched and to read does not add up over the run;
    a read that ended late still leaves `MIN_WAIT_SHARE` of the interval before the next. The
    server's poll-after hint is a lower bound.
    """
    poll, before = input.poll, input.reads_before
    due = input.first_due_at + sum(
        (poll.wait_after(before + k) for k in range(1, reads + 1)), timedelta()
    )
    interval = poll.wait_after(before + reads)
    hint = timedelta(milliseconds=hint_ms or 0)
    return max(due - now, interval * MIN_WAIT_SHARE, hint)
