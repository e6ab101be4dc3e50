"""Signed webhook events: signatures, retries and faults, shown on the `thread.run.*` extension.

Runs publish an event at every status change only with `thread_run_webhooks=True` (OpenAI sends
no such events), which makes them handy to watch ordering faults; what the emulator sends by
default is tested in test_webhook_defaults.py.
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import standardwebhooks
from durable_runs_emulator.config import EmulatorConfig
from durable_runs_emulator.server import RunningEmulator, running_emulator
from durable_runs_emulator.signing import sign
from openai import AsyncOpenAI
from openai.types.beta.threads import Run

from tests.emulator.helpers import (
    API_KEY,
    FAST,
    WEATHER_TOOLS,
    eventually,
    setup_thread,
    tool_outputs,
    wait_run,
)
from tests.emulator.openapi import assert_matches
from tests.emulator.receiver import Receiver, running_receiver

VECTORS = json.loads((Path(__file__).parents[1] / "reference" / "webhook-vectors.json").read_text())
SECRET = "whsec_" + base64.b64encode(b"durable-runs-emulator-test-secret").decode()


@pytest.mark.parametrize("case", VECTORS["valid"], ids=lambda c: c["source"])
def test_signature_matches_known_vectors(case: dict[str, object]) -> None:
    signature = sign(
        str(case["secret"]), str(case["webhook_id"]), int(str(case["timestamp"])), str(case["body"])
    )
    assert signature == case["signature"]
    bare = str(case["secret"]).removeprefix("whsec_")
    assert (
        sign(bare, str(case["webhook_id"]), int(str(case["timestamp"])), str(case["body"]))
        == (case["signature"])
    )


@asynccontextmanager
async def webhook_setup(
    *, fail_first: int = 0, **config: object
) -> AsyncIterator[tuple[RunningEmulator, Receiver, AsyncOpenAI]]:
    """An emulator whose webhooks go to a fresh receiver, and an SDK client that can unwrap them."""
    async with running_receiver(fail_first=fail_first) as receiver:
        settings = EmulatorConfig.model_validate(
            {
                "webhook_url": receiver.url,
                "webhook_secret": SECRET,
                "webhook_retry_schedule_s": [0.05, 0.05, 0.05],
                **config,
            }
        )
        async with (
            running_emulator(settings) as emu,
            AsyncOpenAI(
                base_url=emu.base_url, api_key=API_KEY, max_retries=0, webhook_secret=SECRET
            ) as client,
        ):
            yield emu, receiver, client


async def _completed_run(client: AsyncOpenAI, metadata: dict[str, str]) -> Run:
    assistant, thread = await setup_thread(client, "What is 2+2?")
    run = await client.beta.threads.runs.create(
        thread_id=thread.id, assistant_id=assistant.id, metadata={**FAST, **metadata}
    )
    return await wait_run(client, run, {"completed"})


async def test_run_extension_sends_every_status_change_signed() -> None:
    async with webhook_setup(thread_run_webhooks=True) as (emu, receiver, client):
        assistant, thread = await setup_thread(
            client, "What's the weather in Paris?", tools=WEATHER_TOOLS
        )
        run = await client.beta.threads.runs.create(
            thread_id=thread.id, assistant_id=assistant.id, metadata=FAST
        )
        waiting = await wait_run(client, run, {"requires_action"})
        await client.beta.threads.runs.submit_tool_outputs(
            run.id,
            thread_id=thread.id,
            tool_outputs=tool_outputs(waiting, lambda _, __: {"celsius": 20, "conditions": "fog"}),  # type: ignore[arg-type]
        )
        await wait_run(client, run, {"completed"})
        await eventually(lambda: _noop(receiver), lambda r: len(r.events()) >= 5)
        assert receiver.types() == [
            "thread.run.queued",
            "thread.run.in_progress",
            "thread.run.requires_action",
            "thread.run.in_progress",
            "thread.run.completed",
        ]
        verifier = standardwebhooks.Webhook(SECRET)
        for delivery in receiver.received:
            verifier.verify(delivery.body, delivery.headers)
            client.webhooks.verify_signature(delivery.body, delivery.headers, secret=SECRET)
            assert delivery.headers["webhook-id"].startswith("wh_")
            assert delivery.headers["content-type"] == "application/json"
            event = delivery.event
            assert event["id"].startswith("evt_")
            assert event["object"] == "event"
            assert isinstance(event["created_at"], int)
            assert event["data"]["id"] == run.id
            assert event["type"] == f"thread.run.{event['data']['status']}"
            assert_matches("RunObject", event["data"])
            Run.model_validate(event["data"])
        stats = (await emu.stats())["webhooks"]
        assert stats["succeeded"] == 5 and stats["failed"] == 0


async def _noop(receiver: Receiver) -> Receiver:
    return receiver


async def test_failed_deliveries_are_retried_with_the_same_id() -> None:
    async with webhook_setup(fail_first=2, thread_run_webhooks=True) as (emu, receiver, client):
        await client.beta.assistants.create(model="gpt-4o-mini")
        assistant, thread = await setup_thread(client, "1+1")
        await client.beta.threads.runs.create(
            thread_id=thread.id,
            assistant_id=assistant.id,
            metadata={"emu_outcome": "stay_queued"},
        )
        await eventually(lambda: _noop(receiver), lambda r: len(r.received) >= 3)
        first, second, third = receiver.received[:3]
        assert [d.answered for d in (first, second, third)] == [500, 500, 200]
        assert (
            first.headers["webhook-id"]
            == second.headers["webhook-id"]
            == third.headers["webhook-id"]
        )
        assert first.body == third.body
        stats = (await emu.stats())["webhooks"]
        assert stats["failed"] == 2 and stats["succeeded"] == 1 and stats["attempts"] == 3


async def test_retries_stop_after_the_schedule() -> None:
    async with webhook_setup(fail_first=100, thread_run_webhooks=True) as (emu, receiver, client):
        assistant, thread = await setup_thread(client, "1+1")
        run = await client.beta.threads.runs.create(
            thread_id=thread.id,
            assistant_id=assistant.id,
            metadata={"emu_outcome": "stay_queued"},
        )
        stats = await eventually(emu.stats, lambda s: s["webhooks"]["gave_up"] == 1)
        assert stats["webhooks"]["attempts"] == 4
        assert len(receiver.received) == 4
        [delivery] = stats["runs"][run.id]["webhooks"]
        assert delivery["type"] == "thread.run.queued"
        assert delivery["webhook_id"] == receiver.received[0].headers["webhook-id"]
        assert delivery["attempts"] == 4
        assert delivery["first_attempt_at"] <= receiver.received[0].at
        assert delivery["delivered_at"] is None


@pytest.mark.parametrize(
    ("faults", "expected_types"),
    [
        ("drop", []),
        ("drop_status:completed", ["thread.run.queued", "thread.run.in_progress"]),
        ("drop_first", ["thread.run.queued", "thread.run.in_progress", "thread.run.completed"]),
        ("reorder", ["thread.run.in_progress", "thread.run.queued", "thread.run.completed"]),
    ],
)
async def test_delivery_faults(faults: str, expected_types: list[str]) -> None:
    async with webhook_setup(webhook_reorder_flush_ms=100, thread_run_webhooks=True) as (
        emu,
        receiver,
        client,
    ):
        await _completed_run(client, {"emu_webhook": faults, "emu_duration_ms": "150"})
        if expected_types:
            await eventually(
                lambda: _noop(receiver), lambda r: len(r.events()) >= len(expected_types)
            )
        else:
            await eventually(emu.stats, lambda s: s["webhooks"]["dropped"] >= 3)
        assert receiver.types() == expected_types
        if faults == "drop_first":
            stats = (await emu.stats())["webhooks"]
            assert stats["dropped"] == 3 and stats["succeeded"] == 3


async def test_duplicate_sends_twice_with_one_webhook_id() -> None:
    async with webhook_setup(thread_run_webhooks=True) as (_, receiver, client):
        await _completed_run(client, {"emu_webhook": "duplicate"})
        await eventually(lambda: _noop(receiver), lambda r: len(r.events()) >= 6)
        ids = [d.headers["webhook-id"] for d in receiver.received]
        assert len(ids) == 6 and len(set(ids)) == 3


async def test_delay_and_wrong_secret() -> None:
    async with webhook_setup(
        webhook_faults=["delay_ms:200", "wrong_secret"], thread_run_webhooks=True
    ) as (
        emu,
        receiver,
        client,
    ):
        assistant, thread = await setup_thread(client, "1+1")
        run = await client.beta.threads.runs.create(
            thread_id=thread.id,
            assistant_id=assistant.id,
            metadata={"emu_outcome": "stay_queued"},
        )
        delivery = await eventually(lambda: _noop(receiver), lambda r: len(r.received) >= 1)
        queued_at = (await emu.stats())["runs"][run.id]["status_times"]["queued"]
        assert delivery.received[0].at - queued_at >= 0.19
        with pytest.raises(standardwebhooks.WebhookVerificationError):
            standardwebhooks.Webhook(SECRET).verify(
                delivery.received[0].body, delivery.received[0].headers
            )
