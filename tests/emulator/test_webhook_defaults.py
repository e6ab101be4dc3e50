"""What the emulator sends by default is what OpenAI sends, and when each event got through.

By default: only background responses' terminal `response.*` events, each `data: {"id": ...}`,
checked against the webhook event schemas of the OpenAPI document. `thread.run.*` events are the
named extension `thread_run_webhooks` (off by default).
"""

from __future__ import annotations

from typing import Any

import pytest
from durable_runs_emulator.server import RunningEmulator
from openai import AsyncOpenAI

from tests.emulator.helpers import FAST, eventually, setup_thread, wait_run
from tests.emulator.openapi import assert_matches, schema, webhook_event_schemas
from tests.emulator.test_webhooks import webhook_setup


async def _completed_run(client: AsyncOpenAI) -> str:
    assistant, thread = await setup_thread(client, "What is 2+2?")
    run = await client.beta.threads.runs.create(
        thread_id=thread.id, assistant_id=assistant.id, metadata=FAST
    )
    await wait_run(client, run, {"completed"})
    return run.id


async def _succeeded(emu: RunningEmulator, count: int) -> dict[str, Any]:
    return await eventually(emu.stats, lambda s: s["webhooks"]["succeeded"] >= count)


def assert_is_openai_event(event: dict[str, Any]) -> None:
    """Valid against the schema of its type, with no field that schema does not name."""
    name = webhook_event_schemas()[event["type"]]
    assert_matches(name, event)
    properties = schema(name)["properties"]
    assert set(event) <= set(properties), (
        f"fields OpenAI does not send: {set(event) - set(properties)}"
    )
    data_fields = set(properties["data"]["properties"])
    assert set(event["data"]) <= data_fields, f"data fields beyond {data_fields}: {event['data']}"


def test_openai_documents_no_thread_run_events() -> None:
    documented = webhook_event_schemas()
    assert "response.completed" in documented
    assert not [t for t in documented if t.startswith("thread.")]


async def test_default_events_are_openai_events_and_runs_send_none() -> None:
    async with webhook_setup() as (emu, receiver, client):
        run_id = await _completed_run(client)
        foreground = await client.responses.create(model="gpt-4o-mini", input="1+1")
        assert foreground.status == "completed"
        expected: dict[str, str] = {}
        for outcome in ("completed", "failed", "incomplete"):
            created = await client.responses.create(
                model="gpt-4o-mini",
                input="1+1",
                background=True,
                metadata={**FAST, "emu_outcome": outcome},
            )
            expected[created.id] = f"response.{outcome}"
        queued = await client.responses.create(
            model="gpt-4o-mini",
            input="1+1",
            background=True,
            metadata={"emu_outcome": "stay_queued"},
        )
        await client.responses.cancel(queued.id)
        expected[queued.id] = "response.cancelled"

        stats = await _succeeded(emu, len(expected))
        assert stats["webhooks"]["events"] == len(expected)
        assert stats["webhooks_by_type"] == dict.fromkeys(expected.values(), 1)
        assert stats["runs"][run_id]["webhooks"] == []
        assert stats["responses"][foreground.id]["webhooks"] == []
        seen = {}
        for delivery in receiver.received:
            event = delivery.event
            assert_is_openai_event(event)
            assert event["id"].startswith("evt_")
            assert event["data"] == {"id": event["data"]["id"]}
            unwrapped = client.webhooks.unwrap(delivery.body, delivery.headers)
            assert unwrapped.type == event["type"]
            seen[event["data"]["id"]] = event["type"]
        assert seen == expected


def test_the_schema_check_catches_the_run_extension_shape() -> None:
    """The check above fails on a run-shaped body, so its passing means something."""
    run_like = {
        "id": "evt_1",
        "object": "event",
        "created_at": 1,
        "type": "response.completed",
        "data": {"id": "resp_1", "status": "completed", "object": "response"},
    }
    with pytest.raises(AssertionError, match="data fields beyond"):
        assert_is_openai_event(run_like)
    with pytest.raises(AssertionError, match="WebhookResponseCompleted mismatch"):
        assert_is_openai_event({**run_like, "data": {}})
    with pytest.raises(AssertionError, match="fields OpenAI does not send"):
        assert_is_openai_event({**run_like, "data": {"id": "resp_1"}, "run": {}})


async def test_thread_run_extension_is_turned_on_over_http() -> None:
    async with webhook_setup() as (emu, receiver, client):
        await emu.configure(thread_run_webhooks=True)
        run_id = await _completed_run(client)
        stats = await _succeeded(emu, 3)
        assert receiver.types() == [
            "thread.run.queued",
            "thread.run.in_progress",
            "thread.run.completed",
        ]
        assert [d["type"] for d in stats["runs"][run_id]["webhooks"]] == receiver.types()
        assert all(event["data"]["id"] == run_id for event in receiver.events())


async def test_stats_record_when_each_event_was_delivered() -> None:
    async with webhook_setup(fail_first=2) as (emu, receiver, client):
        created = await client.responses.create(
            model="gpt-4o-mini", input="1+1", background=True, metadata=FAST
        )
        stats = await _succeeded(emu, 1)
        [delivery] = stats["responses"][created.id]["webhooks"]
        first, second, third = receiver.received
        assert [r.answered for r in receiver.received] == [500, 500, 200]
        assert delivery["type"] == "response.completed"
        assert delivery["webhook_id"] == third.headers["webhook-id"]
        assert delivery["attempts"] == 3
        completed_at = stats["responses"][created.id]["status_times"]["completed"]
        assert completed_at <= delivery["first_attempt_at"] <= first.at
        assert second.at <= third.at <= delivery["delivered_at"]


async def test_a_duplicated_event_is_one_delivery_record() -> None:
    async with webhook_setup() as (emu, receiver, client):
        created = await client.responses.create(
            model="gpt-4o-mini",
            input="1+1",
            background=True,
            metadata={**FAST, "emu_webhook": "duplicate"},
        )
        stats = await _succeeded(emu, 2)
        [delivery] = stats["responses"][created.id]["webhooks"]
        assert delivery["attempts"] == 2
        assert {r.headers["webhook-id"] for r in receiver.received} == {delivery["webhook_id"]}
        assert delivery["delivered_at"] >= min(r.at for r in receiver.received)
