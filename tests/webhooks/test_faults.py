"""Webhook faults injected by the emulator (`emu_webhook` knob): lost, duplicated, reordered,
badly signed events. Each run still ends right, and each event id changes the run at most once.
"""

from __future__ import annotations

from durable_runs_emulator.server import RunningEmulator
from temporalio.client import Client

from durable_runs.bridge.server import RunningBridge
from durable_runs.models import RunEvent
from tests.waiting import wait_for
from tests.webhooks.helpers import (
    SAFETY_POLL_1S,
    WEATHER,
    WEATHER_TOOLS,
    bridge_health,
    objects_of,
    received_events,
    request,
    result_of,
    start,
)

STATUS_ORDER = {"queued": 0, "in_progress": 1, "requires_action": 2, "completed": 3}


def event_status(event: RunEvent) -> str:
    """The status an event reports (`thread.run.in_progress` → `in_progress`)."""
    return event.type.rsplit(".", 1)[-1]


async def test_dropped_events_are_covered_by_the_safety_poll(
    client: Client, queue: str, backend: str
) -> None:
    req = request(backend=backend, poll=SAFETY_POLL_1S, webhook_faults="drop")
    handle = await start(client, queue, req)
    result = await result_of(handle)

    assert result.status == "completed", result
    assert result.answer == "4"
    assert await received_events(handle) == []
    assert result.events_applied == 0
    assert result.api_calls["read"] >= 1


async def test_dropped_completed_event_is_caught_by_the_safety_poll(
    client: Client, queue: str, backend: str
) -> None:
    req = request(backend=backend, poll=SAFETY_POLL_1S, webhook_faults="drop_status:completed")
    handle = await start(client, queue, req)
    result = await result_of(handle)

    assert result.status == "completed", result
    assert result.answer == "4"
    statuses = [event_status(e) for e in await received_events(handle)]
    assert "completed" not in statuses
    if backend == "assistants":
        assert "in_progress" in statuses  # the other events still came
    assert result.api_calls["read"] >= 1  # the safety poll read the completion


async def test_duplicated_events_change_the_run_once_per_event_id(
    client: Client, queue: str, webhook_emulator: RunningEmulator, backend: str
) -> None:
    req = request(WEATHER, backend=backend, tools=WEATHER_TOOLS, webhook_faults="duplicate")
    handle = await start(client, queue, req)
    result = await result_of(handle)

    assert result.status == "completed", result
    assert "Paris" in result.answer and "Tokyo" in result.answer and "°F" in result.answer
    events = await received_events(handle)
    distinct = {e.event_id for e in events}
    assert len(events) > len(distinct), "no duplicate delivery reached the workflow"
    assert result.events_applied <= len(distinct), (result.events_applied, len(distinct))
    assert result.tool_rounds == 2
    assert result.api_calls["submit_tool_outputs"] == 2
    objects = await objects_of(webhook_emulator, handle.id)
    if backend == "assistants":
        assert objects[0]["calls"]["submit_tool_outputs"] == 2  # once per round at the API
        assert result.api_calls.get("read", 0) == 0
        assert result.events_applied >= 3  # requires_action twice, completed
    else:
        assert len(objects) == 3  # one follow-up response per round, no more
        assert result.events_applied == 3  # one per response, duplicates not applied again
        # The bridge read each delivery's response, duplicates included; the worker read none.
        assert result.api_calls.get("read", 0) == 0


async def test_reordered_events_never_move_the_run_back(
    client: Client, queue: str, webhook_emulator: RunningEmulator, backend: str
) -> None:
    req = request(WEATHER, backend=backend, tools=WEATHER_TOOLS, webhook_faults="reorder")
    handle = await start(client, queue, req)
    # With a 120 s safety poll, a stale in_progress applied over requires_action would stall
    # the run past this bound.
    result = await result_of(handle)

    assert result.status == "completed", result
    assert "Paris" in result.answer and "Tokyo" in result.answer and "°F" in result.answer
    assert result.tool_rounds == 2
    objects = await objects_of(webhook_emulator, handle.id)
    if backend == "assistants":
        events = await received_events(handle)
        ranks = [STATUS_ORDER.get(event_status(e), 0) for e in events]
        # The emulator sends each pair of events second-first: stale ones did reach the run.
        assert any(later < max(ranks[:i]) for i, later in enumerate(ranks) if i), events
        assert result.events_applied < len(events)  # the stale ones were not applied
        assert objects[0]["calls"]["submit_tool_outputs"] == 2
        assert result.api_calls.get("read", 0) == 0
    else:
        assert len(objects) == 3
        assert result.api_calls.get("read", 0) == 0  # the events brought the bridge's reads


async def test_wrong_secret_is_refused_and_the_safety_poll_completes(
    client: Client, queue: str, bridge: RunningBridge, backend: str
) -> None:
    before = (await bridge_health(bridge))["rejected_signature"]
    req = request(backend=backend, poll=SAFETY_POLL_1S, webhook_faults="wrong_secret")
    handle = await start(client, queue, req)
    result = await result_of(handle)

    async def refused() -> bool:
        return (await bridge_health(bridge))["rejected_signature"] > before

    await wait_for(refused, what="a 401 from the bridge")
    assert result.status == "completed", result
    assert result.answer == "4"
    assert await received_events(handle) == []
    assert result.events_applied == 0
    assert result.api_calls["read"] >= 1
