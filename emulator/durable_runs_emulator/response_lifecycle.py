"""Lifecycle task of a response: timed status changes, the brain's output, terminal webhooks."""

from __future__ import annotations

import asyncio
import time

from durable_runs_emulator.errors import bad_request
from durable_runs_emulator.responses import (
    TERMINAL_RESPONSE_STATUSES,
    ResponseRecord,
    decide,
    output_for,
    usage_for,
)
from durable_runs_emulator.state import EmulatorState


def set_status(state: EmulatorState, record: ResponseRecord, status: str) -> None:
    """Move a response to `status`, record it, and send the webhook of a terminal status.

    Only background responses send one: OpenAI documents `response.*` events as sent when a
    background response ends.
    """
    at = time.time()
    record.status = status
    if status == "completed":
        record.completed_at = at
    state.stats.record_status(record.ref, status, at)
    if record.background and status in TERMINAL_RESPONSE_STATUSES:
        state.webhooks.publish(
            event_type=f"response.{status}",
            data={"id": record.id},
            ref=record.ref,
            faults=record.scenario.webhook_faults,
        )


def start(state: EmulatorState, record: ResponseRecord) -> asyncio.Task[None]:
    """Record the first status and start the lifecycle task."""
    set_status(state, record, "queued" if record.background else "in_progress")
    return state.spawn(_drive(state, record), name=f"response {record.id}")


def cancel(state: EmulatorState, record: ResponseRecord) -> None:
    """Cancel a background response (idempotent once cancelled).

    Raises:
        APIError: 400 for a response that is not background or already finished.
    """
    if not record.background:
        raise bad_request("Only responses created with background=true can be cancelled.")
    if record.status == "cancelled":
        return
    if record.status in TERMINAL_RESPONSE_STATUSES:
        raise bad_request(f"Cannot cancel a {record.status} response.")
    record.cancel_requested = True
    set_status(state, record, "cancelled")
    record.wake.set()


async def _pause(record: ResponseRecord, ms: float | None) -> bool:
    """Wait `ms` (forever if None); False when the response was cancelled meanwhile."""
    deadline = None if ms is None else time.monotonic() + ms / 1000.0
    while not record.cancel_requested:
        remaining = None if deadline is None else deadline - time.monotonic()
        if remaining is not None and remaining <= 0:
            return True
        record.wake.clear()
        try:
            await asyncio.wait_for(record.wake.wait(), timeout=remaining)
        except TimeoutError:
            pass
    return False


async def _drive(state: EmulatorState, record: ResponseRecord) -> None:
    scenario = record.scenario
    if record.background:
        queued_ms = None if scenario.outcome == "stay_queued" else scenario.queued_ms
        if not await _pause(record, queued_ms):
            return
        set_status(state, record, "in_progress")
    if not await _pause(record, scenario.duration_ms):
        return
    if scenario.outcome == "failed":
        record.error = {"code": scenario.error_code, "message": scenario.error_message}
        set_status(state, record, "failed")
        return
    if scenario.outcome == "incomplete":
        record.incomplete_details = {"reason": "max_output_tokens"}
        record.usage = usage_for(record, "")
        set_status(state, record, "incomplete")
        return
    step = decide(state.responses, record)
    record.output, text = output_for(step, text_format=record.text_format)
    record.usage = usage_for(record, text)
    set_status(state, record, "completed")
