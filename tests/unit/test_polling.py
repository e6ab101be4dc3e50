"""The `poll` activity's pure decisions: the waits, the reads counted, what counts as a change."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from durable_runs.activities.polling import is_change, reads_made, wait_before_next
from durable_runs.models import ObjectRef, PollInput, PollPolicy, RunSnapshot, ToolCall

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def test_waits_follow_the_loop_schedule() -> None:
    waits = [PollPolicy().wait_after(reads).total_seconds() for reads in range(9)]
    assert waits == pytest.approx([0.5, 0.75, 1.125, 1.6875, 2.53125, 3.796875, 5, 5, 5])


def test_the_servers_hint_is_a_lower_bound() -> None:
    assert PollPolicy().wait_after(0, hint_ms=1500) == timedelta(seconds=1.5)
    assert PollPolicy().wait_after(8, hint_ms=1500) == timedelta(seconds=5)
    assert PollPolicy().wait_after(0, hint_ms=None) == timedelta(seconds=0.5)


def test_a_first_attempt_before_its_due_time_read_nothing() -> None:
    due = T0 + timedelta(seconds=0.5)
    assert reads_made(2, first_due_at=due, scheduled_at=T0) == 1
    assert reads_made(5, first_due_at=due, scheduled_at=T0) == 4


def test_a_first_attempt_that_was_due_read() -> None:
    # Scheduled after its due time (a tool round's poll, a backlog): every attempt read.
    assert reads_made(1, first_due_at=T0, scheduled_at=T0 + timedelta(seconds=1)) == 1
    assert reads_made(3, first_due_at=T0, scheduled_at=T0 + timedelta(seconds=1)) == 3


def test_an_attempt_that_returns_counts_its_own_read() -> None:
    due = T0 + timedelta(seconds=0.5)
    assert reads_made(1, first_due_at=due, scheduled_at=T0) == 1


def _snapshot(status: str, **fields: object) -> RunSnapshot:
    return RunSnapshot.model_validate({"object_id": "resp_1", "status": status, **fields})


def test_the_same_status_is_no_change() -> None:
    assert not is_change("queued", _snapshot("queued"))
    assert not is_change("in_progress", _snapshot("in_progress"))


@pytest.mark.parametrize(
    "snapshot",
    [
        _snapshot("in_progress"),
        _snapshot("completed"),
        _snapshot("failed"),
        _snapshot(
            "completed",
            needs_tool_outputs=True,
            tool_calls=[ToolCall(id="call_1", name="get_weather", arguments="{}")],
        ),
    ],
    ids=["status", "completed", "failed", "tool-calls"],
)
def test_a_new_status_tool_calls_or_the_end_are_a_change(snapshot: RunSnapshot) -> None:
    assert is_change("queued", snapshot)


def test_tool_calls_under_the_known_status_are_a_change() -> None:
    calls = [ToolCall(id="call_1", name="get_weather", arguments="{}")]
    snapshot = _snapshot("requires_action", needs_tool_outputs=True, tool_calls=calls)
    assert is_change("requires_action", snapshot)


def _poll_input(first_due_at: datetime, reads_before: int = 0) -> PollInput:
    return PollInput(
        ref=ObjectRef(object_id="resp_1"),
        status="queued",
        first_due_at=first_due_at,
        poll=PollPolicy(),
        reads_before=reads_before,
    )


def test_reads_are_due_on_the_schedule_counted_from_the_first() -> None:
    # Reads due at 0, 0.75, 1.875 s: a read made 0.1 s late leaves the rest of the interval.
    poll_input = _poll_input(T0)
    late = T0 + timedelta(seconds=0.85)
    assert wait_before_next(poll_input, 2, now=late, hint_ms=None) == timedelta(seconds=1.025)


def test_a_late_read_leaves_half_its_interval() -> None:
    poll_input = _poll_input(T0)
    very_late = T0 + timedelta(seconds=10)
    assert wait_before_next(poll_input, 1, now=very_late, hint_ms=None) == timedelta(seconds=0.375)


def test_the_schedule_goes_on_from_earlier_reads_and_yields_to_the_hint() -> None:
    poll_input = _poll_input(T0, reads_before=6)
    assert wait_before_next(poll_input, 1, now=T0, hint_ms=None) == timedelta(seconds=5)
    assert wait_before_next(poll_input, 1, now=T0, hint_ms=9000) == timedelta(seconds=9)
