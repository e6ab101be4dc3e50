"""Webhook mode's fast path: events, not the timer, move the run (emulator → bridge → workflow).

The safety poll here is 120 s and every result is bounded at 30 s, so a run that finishes at all
finished through events.
"""

from __future__ import annotations

from typing import Any

from durable_runs_emulator.config import EmulatorConfig
from durable_runs_emulator.server import RunningEmulator, running_emulator
from openai import AsyncOpenAI
from temporalio.client import Client

from durable_runs.bridge.server import running_bridge
from durable_runs.models import RunResult
from durable_runs.settings import Settings
from tests.conftest import TEST_API_KEY, WorkerFactory
from tests.waiting import wait_for
from tests.webhooks.helpers import (
    SAFETY_POLL_S,
    WEATHER,
    WEATHER_TOOLS,
    bridge_health,
    objects_of,
    reading_from,
    received_events,
    request,
    result_of,
    retrieves,
    start,
)

FAST_REACTION_S = 5.0
"""Completion at the API → workflow result; the safety poll is 120 s."""


def check_reads(result: RunResult, objects: list[dict[str, Any]]) -> None:
    """One status read per run or response at most, and for Responses the bridge's, not the
    worker's: the bridge reads the response an event names and signals it as the snapshot.

    Counted by the workflow and, independently, by the emulator (every retrieve it served).
    """
    if result.backend == "assistants":
        assert len(objects) == 1
        assert result.api_calls.get("read", 0) <= 1, result.api_calls
        assert retrieves(objects[0]) <= 1, objects[0]["calls"]
        return
    assert result.api_calls.get("read", 0) == 0, result.api_calls
    for record in objects:
        assert retrieves(record) == 1, (record["id"], record["calls"])


async def test_webhook_mode_reads_at_most_once_and_reacts_fast(
    client: Client, queue: str, webhook_emulator: RunningEmulator, backend: str
) -> None:
    handle = await start(client, queue, request(backend=backend))
    result = await result_of(handle)

    assert result.status == "completed", result
    assert result.answer == "4"
    objects = await objects_of(webhook_emulator, handle.id)
    check_reads(result, objects)
    assert result.events_applied >= 1
    completed_at = objects[-1]["status_times"]["completed"]
    reaction_s = result.timings.finished_at.timestamp() - completed_at
    assert -0.5 < reaction_s < FAST_REACTION_S < SAFETY_POLL_S, reaction_s


async def test_tool_rounds_run_as_soon_as_requires_action_arrives(
    client: Client, queue: str, webhook_emulator: RunningEmulator, backend: str
) -> None:
    req = request(WEATHER, backend=backend, tools=WEATHER_TOOLS)
    handle = await start(client, queue, req)
    result = await result_of(handle)

    assert result.status == "completed", result
    assert "Paris" in result.answer and "Tokyo" in result.answer and "°F" in result.answer
    assert result.tool_rounds == 2
    objects = await objects_of(webhook_emulator, handle.id)
    if backend == "assistants":
        # requires_action (twice) and completed all came by event, with the run in them.
        assert result.api_calls.get("read", 0) == 0, result.api_calls
        assert retrieves(objects[0]) == 0
        assert objects[0]["calls"]["submit_tool_outputs"] == 2
        assert result.events_applied >= 3
    else:
        assert len(objects) == 3  # first response and one follow-up per tool round
        check_reads(result, objects)  # the bridge read each response once, the worker none
        assert [e.type for e in await received_events(handle)] == ["response.completed"] * 3


async def test_responses_events_bring_the_bridges_read_as_snapshot(
    client: Client, queue: str, webhook_emulator: RunningEmulator
) -> None:
    handle = await start(client, queue, request(backend="responses"))
    result = await result_of(handle)

    assert result.status == "completed", result
    assert result.answer == "4"
    (response,) = await objects_of(webhook_emulator, handle.id)
    [event] = await received_events(handle)
    # The real shape: data carries only the id. The bridge read the response (its metadata
    # names the workflow) and signalled that read, which the workflow applied as it is.
    assert (event.type, event.object_id) == ("response.completed", response["id"])
    assert event.snapshot is not None and event.snapshot.status == "completed"
    assert result.api_calls.get("read", 0) == 0
    assert result.api_calls.get("answer", 0) == 0  # the snapshot carried the answer
    assert retrieves(response) == 1
    assert result.events_applied == 1


async def test_progress_events_are_acknowledged_not_signalled_by_default(
    client: Client, worker_factory: WorkerFactory, bridge_settings: Settings, webhook_secret: str
) -> None:
    default = bridge_settings.model_copy(update={"webhook_progress": False})
    config = EmulatorConfig(webhook_secret=webhook_secret, thread_run_webhooks=True)
    async with running_emulator(config) as emu:
        async with running_bridge(reading_from(default, emu)) as bridge:
            await emu.configure(webhook_url=bridge.url)
            openai = AsyncOpenAI(base_url=emu.base_url, api_key=TEST_API_KEY, max_retries=0)
            async with worker_factory(client, openai=openai) as queue:
                req = request(WEATHER, backend="assistants", tools=WEATHER_TOOLS)
                handle = await start(client, queue, req)
                result = await result_of(handle)

            async def progress_acknowledged() -> bool:
                # queued, then in_progress before each of the two tool rounds and the answer
                return (await bridge_health(bridge))["ignored"] == 4

            await wait_for(progress_acknowledged, what="every progress event acknowledged")

    assert result.status == "completed", result
    assert "Paris" in result.answer and "Tokyo" in result.answer
    types = [e.type for e in await received_events(handle)]
    assert types == ["thread.run.requires_action"] * 2 + ["thread.run.completed"]
    assert result.api_calls.get("read", 0) == 0
