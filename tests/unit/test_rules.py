"""The run state machine's pure rules (`durable_runs.workflows.rules`), without any server.

Each rule has a test that fails when the rule is broken: the backoff's growth, cap and minimum
share, the poll-after hint, staleness (a late event never moves a run back, and a request for
tool outputs already submitted never starts a round again), and applying each webhook id once.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from durable_runs.models import PollPolicy, RunEvent, RunSnapshot, RunStatus, ToolCall
from durable_runs.workflows.rules import (
    Schedule,
    advance_schedule,
    apply_events,
    is_stale,
    next_wait,
    restart_schedule,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)
POLL = PollPolicy()
"""The default policy: 0.5 s, ×1.5 after each check, capped at 5 s."""
SCHEDULE = [0.5, 0.75, 1.125, 1.6875, 2.53125, 3.796875, 5.0, 5.0, 5.0]
"""The waits of the default policy when every check is made on time."""


def at(seconds: float) -> datetime:
    """`seconds` after `T0`."""
    return T0 + timedelta(seconds=seconds)


def snap(
    status: RunStatus, *, calls: tuple[str, ...] = (), object_id: str = "run_1"
) -> RunSnapshot:
    """A snapshot of `object_id`; with `calls`, it waits for their outputs."""
    return RunSnapshot(
        object_id=object_id,
        status=status,
        needs_tool_outputs=bool(calls),
        tool_calls=[ToolCall(id=c, name="get_weather") for c in calls],
    )


def event(event_id: str, snapshot: RunSnapshot | None, object_id: str = "run_1") -> RunEvent:
    """A webhook event about `object_id`, with or without the object."""
    return RunEvent(event_id=event_id, type="thread.run.x", object_id=object_id, snapshot=snapshot)


# ---- the backoff schedule --------------------------------------------------------------------


def _waits_on_time(poll: PollPolicy, checks: int) -> list[float]:
    """The waits of a run whose every check takes no time."""
    now = T0
    schedule = restart_schedule(poll, now)
    waits = []
    for _ in range(checks):
        wait, schedule = next_wait(schedule, poll, hint_ms=None, now=now)
        waits.append(wait)
        now += timedelta(seconds=wait)
        schedule = advance_schedule(schedule, poll)
    return waits


def test_the_first_check_is_due_one_initial_interval_after_the_create() -> None:
    assert restart_schedule(POLL, T0) == Schedule(delay_s=0.5, check_due_at=at(0.5))


def test_each_check_made_lengthens_the_interval_by_the_backoff_up_to_the_cap() -> None:
    assert _waits_on_time(POLL, len(SCHEDULE)) == pytest.approx(SCHEDULE)


def test_the_next_check_is_due_one_interval_after_the_one_being_made() -> None:
    schedule = advance_schedule(Schedule(delay_s=2.0, check_due_at=at(10)), POLL)
    assert schedule == Schedule(delay_s=3.0, check_due_at=at(13))


def test_the_interval_never_exceeds_the_cap() -> None:
    schedule = advance_schedule(Schedule(delay_s=4.0, check_due_at=at(10)), POLL)
    assert schedule == Schedule(delay_s=5.0, check_due_at=at(15))
    assert advance_schedule(schedule, POLL).delay_s == 5.0


def test_a_check_on_time_waits_until_the_next_is_due() -> None:
    schedule = Schedule(delay_s=2.0, check_due_at=at(10))
    assert next_wait(schedule, POLL, hint_ms=None, now=at(8.5)) == (1.5, schedule)


def test_a_late_check_brings_the_next_no_closer_than_the_minimum_share() -> None:
    # The check due at 10 s ended at 9.8 s: the next waits half its interval, not 0.2 s.
    schedule = Schedule(delay_s=2.0, check_due_at=at(10))
    wait, after = next_wait(schedule, POLL, hint_ms=None, now=at(9.8))
    assert wait == pytest.approx(1.0)
    assert after == schedule  # the schedule itself stays put
    assert next_wait(schedule, POLL, hint_ms=None, now=at(12))[0] == pytest.approx(1.0)


def test_the_poll_after_hint_is_a_lower_bound_that_moves_the_schedule() -> None:
    schedule = Schedule(delay_s=1.0, check_due_at=at(10.5))
    wait, after = next_wait(schedule, POLL, hint_ms=2000, now=at(10))
    assert wait == 2.0
    assert after == Schedule(delay_s=1.0, check_due_at=at(12))
    # A hint shorter than the wait changes nothing.
    assert next_wait(schedule, POLL, hint_ms=100, now=at(9)) == (1.5, schedule)


def test_webhook_mode_safety_checks_grow_from_the_create() -> None:
    poll = PollPolicy(
        webhooks=True, safety_poll_s=120, safety_poll_backoff=2, safety_poll_max_s=600
    )
    schedule = restart_schedule(poll, T0)
    assert schedule == Schedule(delay_s=120.0, check_due_at=at(120))
    assert next_wait(schedule, poll, hint_ms=None, now=T0) == (120.0, schedule)
    due_times = []
    for _ in range(5):
        schedule = advance_schedule(schedule, poll)
        assert schedule.check_due_at is not None
        due_times.append((schedule.check_due_at - T0).total_seconds())
    # 120, then waits of 240, 480, 600 (capped), 600: one safety check in a 300 s run.
    assert due_times == [360.0, 840.0, 1440.0, 2040.0, 2640.0]


def test_webhook_mode_hint_puts_a_safety_check_off() -> None:
    poll = PollPolicy(webhooks=True, safety_poll_s=30)
    schedule = restart_schedule(poll, T0)
    assert next_wait(schedule, poll, hint_ms=45_000, now=T0) == (
        45.0,
        Schedule(delay_s=30.0, check_due_at=at(45)),
    )


def test_webhook_state_from_before_the_growing_safety_poll_restarts_it() -> None:
    poll = PollPolicy(webhooks=True, safety_poll_s=30)
    carried = Schedule(delay_s=0.5, check_due_at=at(0.5))
    later = T0 + timedelta(seconds=100)
    assert next_wait(carried, poll, hint_ms=None, now=later) == (
        30.0,
        Schedule(delay_s=30.0, check_due_at=later + timedelta(seconds=30)),
    )


def test_state_carried_by_an_older_run_waits_its_interval() -> None:
    schedule = Schedule(delay_s=2.0, check_due_at=None)
    assert next_wait(schedule, POLL, hint_ms=None, now=T0) == (2.0, schedule)
    assert next_wait(schedule, POLL, hint_ms=3000, now=T0) == (3.0, schedule)
    assert advance_schedule(schedule, POLL) == Schedule(delay_s=3.0, check_due_at=None)


# ---- staleness ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("current", "late"),
    [
        (snap("in_progress"), snap("queued")),
        (snap("requires_action", calls=("c1",)), snap("in_progress")),
        (snap("cancelling"), snap("in_progress")),
        (snap("completed"), snap("in_progress")),
        (snap("completed"), snap("failed")),
    ],
    ids=[
        "queued-after-in_progress",
        "in_progress-after-requires_action",
        "after-cancelling",
        "progress-after-the-end",
        "end-after-the-end",
    ],
)
def test_a_late_event_never_moves_the_run_back(current: RunSnapshot, late: RunSnapshot) -> None:
    assert is_stale(current, late, submitted_call_ids=[])


def test_a_late_request_for_outputs_already_submitted_is_stale() -> None:
    # After the submit the run is in_progress again; the old requires_action arrives late.
    late = snap("requires_action", calls=("c1", "c2"))
    assert is_stale(snap("in_progress"), late, submitted_call_ids=["c1", "c2"])
    assert is_stale(snap("queued"), late, submitted_call_ids=["c0", "c1", "c2"])


@pytest.mark.parametrize(
    ("current", "newer", "submitted"),
    [
        (snap("queued"), snap("in_progress"), []),
        (snap("in_progress"), snap("in_progress"), []),
        (snap("in_progress"), snap("requires_action", calls=("c1",)), []),
        (snap("in_progress"), snap("requires_action", calls=("c2",)), ["c1"]),
        (snap("in_progress"), snap("completed"), []),
        (snap("cancelling"), snap("cancelled"), []),
    ],
    ids=[
        "queued-to-in_progress",
        "same-status",
        "requires_action",
        "second-tool-round",
        "completed",
        "cancelled",
    ],
)
def test_news_is_not_stale(current: RunSnapshot, newer: RunSnapshot, submitted: list[str]) -> None:
    assert not is_stale(current, newer, submitted_call_ids=submitted)


# ---- applying events -------------------------------------------------------------------------


def test_each_webhook_id_is_applied_once() -> None:
    completed = snap("completed")
    applied = apply_events(
        [event("wh_1", snap("in_progress")), event("wh_1", snap("in_progress"))],
        current=snap("queued"),
        applied_event_ids=[],
        submitted_call_ids=[],
    )
    assert applied.snapshots == (snap("in_progress"),)
    assert applied.events_applied == 1
    assert applied.applied_event_ids == ["wh_1"]
    # A redelivery in a later batch (or from a second bridge replica) changes nothing either.
    again = apply_events(
        [event("wh_1", completed)],
        current=snap("in_progress"),
        applied_event_ids=applied.applied_event_ids,
        submitted_call_ids=[],
    )
    assert (again.snapshots, again.events_applied, again.needs_read) == ((), 0, False)


def test_a_duplicated_id_only_event_asks_for_one_read() -> None:
    applied = apply_events(
        [event("wh_1", None), event("wh_1", None)],
        current=snap("in_progress"),
        applied_event_ids=[],
        submitted_call_ids=[],
    )
    assert applied.needs_read and applied.events_applied == 1
    seen = apply_events(
        [event("wh_1", None)],
        current=snap("in_progress"),
        applied_event_ids=["wh_1"],
        submitted_call_ids=[],
    )
    assert not seen.needs_read and seen.events_applied == 0


def test_the_remembered_ids_are_bounded_newest_kept() -> None:
    applied = apply_events(
        [event(f"wh_{i}", snap("in_progress")) for i in range(4)],
        current=snap("queued"),
        applied_event_ids=["wh_old"],
        submitted_call_ids=[],
        remember=3,
    )
    assert applied.applied_event_ids == ["wh_1", "wh_2", "wh_3"]


def test_events_apply_in_arrival_order_and_late_ones_are_dropped() -> None:
    applied = apply_events(
        [
            event("wh_1", snap("in_progress")),
            event("wh_2", snap("queued")),  # late: sent before in_progress
            event("wh_3", snap("requires_action", calls=("c1",))),
            event("wh_4", snap("in_progress")),  # late: sent before requires_action
        ],
        current=snap("queued"),
        applied_event_ids=[],
        submitted_call_ids=[],
    )
    assert [s.status for s in applied.snapshots] == ["in_progress", "requires_action"]
    assert applied.events_applied == 2
    assert applied.applied_event_ids == ["wh_1", "wh_2", "wh_3", "wh_4"]  # all seen


def test_a_late_request_for_submitted_outputs_starts_no_tool_round() -> None:
    applied = apply_events(
        [event("wh_9", snap("requires_action", calls=("c1",)))],
        current=snap("in_progress"),
        applied_event_ids=[],
        submitted_call_ids=["c1"],
    )
    assert applied.snapshots == () and applied.events_applied == 0


def test_events_about_another_object_are_ignored() -> None:
    applied = apply_events(
        [event("wh_1", snap("completed", object_id="resp_0"), object_id="resp_0")],
        current=snap("in_progress", object_id="resp_1"),
        applied_event_ids=[],
        submitted_call_ids=[],
    )
    assert (applied.snapshots, applied.events_applied, applied.needs_read) == ((), 0, False)


def test_an_id_only_event_asks_for_a_read_unless_the_run_ended() -> None:
    live = apply_events(
        [event("wh_1", None)],
        current=snap("in_progress"),
        applied_event_ids=[],
        submitted_call_ids=[],
    )
    assert live.needs_read and live.snapshots == ()
    ended = apply_events(
        [event("wh_2", snap("completed")), event("wh_3", None)],
        current=snap("in_progress"),
        applied_event_ids=[],
        submitted_call_ids=[],
    )
    assert not ended.needs_read and ended.snapshots == (snap("completed"),)
