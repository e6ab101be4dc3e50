"""Delivery across bridge outages and replicas: the sender's retries and the workflow's dedup."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from durable_runs_emulator.config import EmulatorConfig
from durable_runs_emulator.server import RunningEmulator, running_emulator
from openai import AsyncOpenAI
from temporalio.client import Client

from durable_runs.bridge.server import RunningBridge, running_bridge
from durable_runs.processes import free_port
from durable_runs.settings import Settings
from durable_runs.workflows.run import RunWorkflow
from tests.conftest import TEST_API_KEY, WorkerFactory
from tests.waiting import wait_for
from tests.webhooks.helpers import (
    bridge_health,
    objects_of,
    reading_from,
    received_events,
    request,
    result_of,
    retrieves,
    signed_delivery,
    start,
)


async def test_bridge_down_at_first_attempt_the_retry_delivers(
    client: Client,
    worker_factory: WorkerFactory,
    bridge_settings: Settings,
    webhook_secret: str,
    backend: str,
) -> None:
    port = free_port()
    config = EmulatorConfig(
        webhook_url=f"http://127.0.0.1:{port}/webhooks/openai",
        webhook_secret=webhook_secret,
        thread_run_webhooks=True,
    )
    # Assistants: keep the run going for a while, so the retried early events (queued,
    # in_progress) reach the workflow before it closes. Responses send only the terminal event.
    metadata = {"emu_duration_ms": "2500"} if backend == "assistants" else {}
    async with running_emulator(config) as emu:
        openai = AsyncOpenAI(base_url=emu.base_url, api_key=TEST_API_KEY, max_retries=0)
        async with worker_factory(client, openai=openai) as queue:
            handle = await start(client, queue, request(backend=backend, metadata=metadata))

            async def first_attempt_failed() -> bool:
                return bool((await emu.stats())["webhooks"]["failed"] >= 1)

            await wait_for(first_attempt_failed, what="a failed first delivery")
            late = reading_from(bridge_settings, emu)
            async with running_bridge(late, port=port) as late_bridge:
                result = await result_of(handle)

                async def all_delivered() -> dict[str, int] | None:
                    hooks: dict[str, int] = (await emu.stats())["webhooks"]
                    return hooks if hooks["succeeded"] == hooks["events"] else None

                hooks = await wait_for(all_delivered, what="every event delivered")
                health = await bridge_health(late_bridge)

    assert result.status == "completed", result
    assert result.answer == "4"
    assert hooks["gave_up"] == 0
    assert hooks["attempts"] > hooks["events"]  # some event needed a retry
    assert health["rejected_signature"] == 0
    types = [e.type for e in await received_events(handle)]
    if backend == "assistants":
        # Every event, the ones first sent while the bridge was down included, got through.
        assert set(types) == {"thread.run.queued", "thread.run.in_progress", "thread.run.completed"}
        assert result.api_calls.get("read", 0) == 0
    else:
        # The one event there is failed first; only its retry can have ended the run in time.
        assert types == ["response.completed"]
        assert result.api_calls.get("read", 0) == 0  # the late bridge read it


async def test_two_bridge_replicas_same_delivery_changes_the_run_once(
    client: Client,
    queue: str,
    bridge: RunningBridge,
    bridge_settings: Settings,
    webhook_secret: str,
    webhook_emulator: RunningEmulator,
    webhook_openai: AsyncOpenAI,
) -> None:
    # The emulator's own events are dropped: only the deliveries below reach the bridges.
    req = request(backend="assistants", webhook_faults="drop", metadata={"emu_duration_ms": "1500"})
    handle = await start(client, queue, req)

    async def run_in(status: str) -> dict[str, Any] | None:
        objects = await objects_of(webhook_emulator, handle.id)
        return objects[0] if objects and status in objects[0]["status_times"] else None

    async def event_data(status: str) -> dict[str, Any]:
        record = await wait_for(lambda: run_in(status), what=f"the run {status}")
        run = await webhook_openai.beta.threads.runs.retrieve(
            record["id"], thread_id=record["thread_id"]
        )
        data: dict[str, Any] = run.model_dump(mode="json")
        return data

    replica_settings = reading_from(bridge_settings, webhook_emulator)
    async with running_bridge(replica_settings) as replica, httpx.AsyncClient() as http:
        body, headers = signed_delivery(
            webhook_secret, "thread.run.in_progress", await event_data("in_progress")
        )
        answers = await asyncio.gather(
            *(http.post(b.url, content=body, headers=headers) for b in (bridge, replica))
        )
        assert [a.status_code for a in answers] == [200, 200]
        assert [a.json()["status"] for a in answers] == ["signalled", "signalled"]
        view = await handle.query(RunWorkflow.status)
        assert view.status == "in_progress"
        assert view.checks == 1  # one event id, one change, though signalled twice

        body, headers = signed_delivery(
            webhook_secret, "thread.run.completed", await event_data("completed")
        )
        answer = await http.post(replica.url, content=body, headers=headers)
        assert answer.status_code == 200
        result = await result_of(handle)

    assert result.status == "completed", result
    assert result.answer == "4"
    events = await received_events(handle)
    assert [e.type for e in events] == [
        "thread.run.in_progress",
        "thread.run.in_progress",
        "thread.run.completed",
    ]
    assert events[0].event_id == events[1].event_id
    assert result.events_applied == 2  # in_progress once, completed once
    assert result.api_calls.get("read", 0) == 0


@pytest.mark.parametrize("knob", ["emu_rate_limit_next", "emu_server_error_next"])
async def test_bridge_read_refused_the_senders_retry_delivers(
    client: Client,
    queue: str,
    bridge: RunningBridge,
    webhook_emulator: RunningEmulator,
    knob: str,
) -> None:
    before = await bridge_health(bridge)
    # The response's first read (the bridge's) answers 429 or 5xx: the bridge answers 503.
    handle = await start(client, queue, request(backend="responses", metadata={knob: "1"}))
    result = await result_of(handle)  # well within the 120 s safety poll: the retry woke it

    assert result.status == "completed", result
    assert result.answer == "4"
    assert [e.type for e in await received_events(handle)] == ["response.completed"]
    assert result.api_calls.get("read", 0) == 0
    (response,) = await objects_of(webhook_emulator, handle.id)
    assert retrieves(response) == 2  # refused, then read on the sender's retry
    after = await bridge_health(bridge)
    assert after["api_unavailable"] == before["api_unavailable"] + 1
