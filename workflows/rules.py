"""The run state machine's pure decisions: the backoff schedule, staleness, applying events.

Plain functions of plain values, with no Temporal calls: the workflow (`workflows.run`) calls
them with `workflow.now()` and its state, and `tests/unit/test_rules.py` calls them directly.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from durable_runs.models import MIN_WAIT_SHARE, PollPolicy, RunEvent, RunSnapshot

REMEMBERED_EVENT_IDS = 500
"""How many applied webhook ids a run remembers (duplicates come close together)."""

STATUS_RANK = {"queued": 0, "in_progress": 1, "requires_action": 2, "cancelling": 3}
"""Order of non-terminal statuses within one step, so a late event never moves a run back."""


@dataclass(frozen=True)
class Schedule:
    """When the polling schedule's next check is due.

    Attributes:
        delay_s: The current interval between checks.
        check_due_at: When the next check is due (None in state carried by older runs, which
            counted each wait from the end of the check before it).
    """

    delay_s: float
    check_due_at: datetime | None


def _first_interval_s(poll: PollPolicy) -> float:
    return poll.safety_poll_s if poll.webhooks else poll.initial_interval_s


def restart_schedule(poll: PollPolicy, now: datetime) -> Schedule:
    """A new run or tool step: the first check is due one first interval from `now`.

    The first interval is `poll.initial_interval_s`, or `poll.safety_poll_s` in webhook mode.
    """
    delay_s = _first_interval_s(poll)
    return Schedule(delay_s=delay_s, check_due_at=now + timedelta(seconds=delay_s))


def advance_schedule(schedule: Schedule, poll: PollPolicy) -> Schedule:
    """A due check is being made: the next one is due one longer interval after it.

    Polling, the interval grows by `poll.backoff` up to `poll.max_interval_s`; in webhook mode
    the safety poll grows by `poll.safety_poll_backoff` up to `poll.safety_poll_max_s`.
    """
    if poll.webhooks:
        delay_s = min(schedule.delay_s * poll.safety_poll_backoff, poll.safety_poll_max_s)
    else:
        delay_s = min(schedule.delay_s * poll.backoff, poll.max_interval_s)
    due = schedule.check_due_at
    if due is not None:
        due += timedelta(seconds=delay_s)
    return Schedule(delay_s=delay_s, check_due_at=due)


def next_wait(
    schedule: Schedule, poll: PollPolicy, *, hint_ms: int | None, now: datetime
) -> tuple[float, Schedule]:
    """Seconds to wait before the next check, and the schedule after that decision.

    Checks are due on the schedule counted from the create, so the time each check takes does
    not add up over the run as it does in a sleep-then-retrieve loop; a check that ended late
    still leaves `MIN_WAIT_SHARE` of the interval before the next. The server's poll-after hint
    is a lower bound, and a check it puts off moves the schedule with it. In webhook mode the
    checks are the safety poll, and events in between do not move it.

    Args:
        schedule: The schedule as it stands.
        poll: The run's policy.
        hint_ms: The last read's `openai-poll-after-ms`, if any.
        now: The current (workflow) time.
    """
    hint_s = (hint_ms or 0) / 1000
    if poll.webhooks and schedule.delay_s < poll.safety_poll_s:
        # State carried from a version whose safety poll did not use the schedule.
        schedule = restart_schedule(poll, now)
    due = schedule.check_due_at
    if due is None:
        return max(schedule.delay_s, hint_s), schedule
    wait = max((due - now).total_seconds(), schedule.delay_s * MIN_WAIT_SHARE)
    if hint_s > wait:
        return hint_s, Schedule(schedule.delay_s, now + timedelta(seconds=hint_s))
    return wait, schedule


def is_stale(
    current: RunSnapshot, incoming: RunSnapshot, submitted_call_ids: Collection[str]
) -> bool:
    """Whether a snapshot an event brought is older than what the run already knows.

    A late event never moves a run back: nothing changes a run that ended; a request for tool
    outputs whose calls were all submitted already is over (it must not start the round again);
    and within a step, a status ranked before the current one is old news.

    Args:
        current: The run as the workflow knows it (same object as `incoming`).
        incoming: The run as the event carried it.
        submitted_call_ids: Every tool call id the run has submitted outputs for.
    """
    if current.is_terminal:
        return True
    if incoming.needs_tool_outputs:
        return {c.id for c in incoming.tool_calls} <= set(submitted_call_ids)
    if incoming.is_terminal:
        return False
    return STATUS_RANK.get(incoming.status, 0) < STATUS_RANK.get(current.status, 0)


@dataclass(frozen=True)
class AppliedEvents:
    """What a batch of webhook events changes.

    Attributes:
        snapshots: The snapshots the run adopts, in order (each counts as a check).
        applied_event_ids: The webhook ids to remember after the batch (newest last).
        events_applied: Events that changed what the run knows, or asked for a read.
        needs_read: An id-only event asks for one read of the current object.
    """

    snapshots: tuple[RunSnapshot, ...]
    applied_event_ids: list[str]
    events_applied: int
    needs_read: bool


def apply_events(
    events: Sequence[RunEvent],
    *,
    current: RunSnapshot,
    applied_event_ids: Sequence[str],
    submitted_call_ids: Collection[str],
    remember: int = REMEMBERED_EVENT_IDS,
) -> AppliedEvents:
    """Apply webhook events in the order they arrived.

    Each webhook id counts once (a redelivery or a second bridge replica changes nothing);
    events about another object (an earlier step's) and stale snapshots are dropped; an event
    that carries only the id (`response.*`) asks for a read, unless the run already ended.

    Args:
        events: The events received since the last batch, oldest first.
        current: The run as the workflow knows it.
        applied_event_ids: The webhook ids applied so far (newest last).
        submitted_call_ids: Every tool call id the run has submitted outputs for.
        remember: How many ids to keep.
    """
    remembered = list(applied_event_ids)
    snapshots: list[RunSnapshot] = []
    applied = 0
    needs_read = False
    for event in events:
        if event.event_id in remembered:
            continue
        remembered = [*remembered, event.event_id][-remember:]
        if event.object_id != current.object_id:
            continue
        if event.snapshot is None:
            if not current.is_terminal:
                applied += 1
                needs_read = True
        elif not is_stale(current, event.snapshot, submitted_call_ids):
            applied += 1
            snapshots.append(event.snapshot)
            current = event.snapshot
    return AppliedEvents(
        snapshots=tuple(snapshots),
        applied_event_ids=remembered,
        events_applied=applied,
        needs_read=needs_read,
    )
