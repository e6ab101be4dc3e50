"""Responses API in background mode, through the real SDK."""

from __future__ import annotations

import json
from typing import Any

import openai
import pytest
from durable_runs_emulator.config import EmulatorConfig
from durable_runs_emulator.server import RunningEmulator, running_emulator
from openai import AsyncOpenAI
from openai.types.responses import FunctionToolParam, Response
from openai.types.webhooks import ResponseCancelledWebhookEvent, ResponseCompletedWebhookEvent

from tests.emulator.helpers import API_KEY, FAST, eventually, raw_client
from tests.emulator.openapi import assert_response_matches
from tests.emulator.receiver import running_receiver
from tests.emulator.test_webhooks import SECRET

TOOLS: list[FunctionToolParam] = [
    {
        "type": "function",
        "name": "get_weather",
        "description": "Current weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
            "additionalProperties": False,
        },
        "strict": True,
    },
    {
        "type": "function",
        "name": "celsius_to_fahrenheit",
        "parameters": {
            "type": "object",
            "properties": {"celsius": {"type": "number"}},
            "required": ["celsius"],
            "additionalProperties": False,
        },
        "strict": True,
    },
]


async def wait_response(
    client: AsyncOpenAI, response_id: str, statuses: set[str], *, within: float = 5.0
) -> Response:
    """Poll until the response reaches one of `statuses`."""
    return await eventually(
        lambda: client.responses.retrieve(response_id),
        lambda r: r.status in statuses,
        within=within,
    )


async def test_background_response_lifecycle_and_shape(emu: RunningEmulator) -> None:
    async with raw_client(emu) as http:
        created = (
            await http.post(
                "/v1/responses",
                json={
                    "model": "gpt-4o-mini",
                    "input": "What is 2+2?",
                    "instructions": "Answer briefly.",
                    "background": True,
                    "metadata": {"emu_queued_ms": "80", "emu_duration_ms": "120"},
                },
            )
        ).json()
        assert created["status"] == "queued"
        assert created["id"].startswith("resp_")
        seen = {"queued": created}

        async def poll() -> dict[str, Any]:
            value: dict[str, Any] = (await http.get(f"/v1/responses/{created['id']}")).json()
            seen.setdefault(value["status"], value)
            return value

        await eventually(poll, lambda r: r["status"] == "completed")
    for status in ("queued", "in_progress", "completed"):
        assert_response_matches(seen[status])
        Response.model_validate(seen[status])
    done = Response.model_validate(seen["completed"])
    assert done.output_text == "4"
    assert done.usage is not None and done.usage.total_tokens > 0
    assert done.completed_at is not None and done.background is True
    assert seen["queued"]["usage"] is None
    item = seen["completed"]["output"][0]
    assert item["type"] == "message" and item["id"].startswith("msg_")
    assert item["content"][0]["annotations"] == []


async def test_tool_rounds_continue_across_the_chain(client: AsyncOpenAI) -> None:
    question = "What's the weather in Paris and Tokyo, in Fahrenheit?"
    first = await client.responses.create(
        model="gpt-4o-mini",
        input=question,
        tools=TOOLS,
        background=True,
        metadata=FAST,
    )
    first = await wait_response(client, first.id, {"completed"})
    calls = [item for item in first.output if item.type == "function_call"]
    assert [(c.name, json.loads(c.arguments)) for c in calls] == [
        ("get_weather", {"city": "Paris"}),
        ("get_weather", {"city": "Tokyo"}),
    ]
    assert all(c.call_id.startswith("call_") and (c.id or "").startswith("fc_") for c in calls)
    assert_response_matches(first.model_dump(mode="json", exclude_unset=True))
    weather = {"Paris": (18, "sunny"), "Tokyo": (22, "cloudy")}
    second = await client.responses.create(
        model="gpt-4o-mini",
        previous_response_id=first.id,
        input=[
            {
                "type": "function_call_output",
                "call_id": c.call_id,
                "output": json.dumps(
                    dict(
                        zip(
                            ("celsius", "conditions"),
                            weather[json.loads(c.arguments)["city"]],
                            strict=True,
                        )
                    )
                ),
            }
            for c in calls
        ],
        tools=TOOLS,
        background=True,
        metadata=FAST,
    )
    second = await wait_response(client, second.id, {"completed"})
    assert second.previous_response_id == first.id
    calls2 = [item for item in second.output if item.type == "function_call"]
    assert [json.loads(c.arguments) for c in calls2] == [{"celsius": 18}, {"celsius": 22}]
    third = await client.responses.create(
        model="gpt-4o-mini",
        previous_response_id=second.id,
        input=[
            {
                "type": "function_call_output",
                "call_id": c.call_id,
                "output": json.dumps(round(json.loads(c.arguments)["celsius"] * 9 / 5 + 32, 1)),
            }
            for c in calls2
        ],
        tools=TOOLS,
        background=True,
        metadata=FAST,
    )
    third = await wait_response(client, third.id, {"completed"})
    assert third.output_text == "Paris: 64.4°F, sunny; Tokyo: 71.6°F, cloudy"


async def test_tool_plan_and_missing_outputs(client: AsyncOpenAI) -> None:
    plan = json.dumps([[{"name": "lookup", "arguments": {"q": "x"}}]])
    first = await client.responses.create(
        model="gpt-4o-mini",
        input="go",
        background=True,
        metadata={**FAST, "emu_tool_plan": plan},
    )
    first = await wait_response(client, first.id, {"completed"})
    (call,) = [item for item in first.output if item.type == "function_call"]
    with pytest.raises(openai.BadRequestError, match="No tool output found for function call"):
        await client.responses.create(
            model="gpt-4o-mini", previous_response_id=first.id, input="continue"
        )
    with pytest.raises(openai.BadRequestError, match="No tool call found"):
        await client.responses.create(
            model="gpt-4o-mini",
            previous_response_id=first.id,
            input=[{"type": "function_call_output", "call_id": "call_nope", "output": "1"}],
        )
    follow = await client.responses.create(
        model="gpt-4o-mini",
        previous_response_id=first.id,
        input=[{"type": "function_call_output", "call_id": call.call_id, "output": "found"}],
        background=True,
        metadata=FAST,
    )
    done = await wait_response(client, follow.id, {"completed"})
    assert done.output_text == "Tool results: lookup=found"


async def test_foreground_response_completes_inline(client: AsyncOpenAI) -> None:
    response = await client.responses.create(
        model="gpt-4o-mini", input="What is 7*6?", metadata={"emu_duration_ms": "10"}
    )
    assert response.status == "completed"
    assert response.output_text == "42"
    assert response.background is False
    with pytest.raises(openai.BadRequestError, match="Only responses created with background"):
        await client.responses.cancel(response.id)


@pytest.mark.parametrize(
    ("outcome", "status"), [("failed", "failed"), ("incomplete", "incomplete")]
)
async def test_outcomes(client: AsyncOpenAI, outcome: str, status: str) -> None:
    created = await client.responses.create(
        model="gpt-4o-mini",
        input="hi",
        background=True,
        metadata={**FAST, "emu_outcome": outcome, "emu_error_message": "boom"},
    )
    final = await wait_response(client, created.id, {status})
    assert_response_matches(final.model_dump(mode="json", exclude_unset=True))
    if status == "failed":
        assert final.error is not None
        assert (final.error.code, final.error.message) == ("server_error", "boom")
    else:
        assert final.incomplete_details is not None
        assert final.incomplete_details.reason == "max_output_tokens"


async def test_cancel_background_response(client: AsyncOpenAI) -> None:
    created = await client.responses.create(
        model="gpt-4o-mini", input="hi", background=True, metadata={"emu_outcome": "stay_queued"}
    )
    cancelled = await client.responses.cancel(created.id)
    assert cancelled.status == "cancelled"
    again = await client.responses.cancel(created.id)
    assert again.status == "cancelled"
    assert (await client.responses.retrieve(created.id)).status == "cancelled"


async def test_errors_and_knobs(emu: RunningEmulator, client: AsyncOpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as missing:
        await client.responses.retrieve("resp_missing")
    assert missing.value.body is not None
    created = await client.responses.create(
        model="gpt-4o-mini",
        input="What is 1+1?",
        background=True,
        metadata={
            **FAST,
            "emu_rate_limit_next": "1",
            "emu_server_error_next": "1",
            "emu_server_error_status": "503",
            "emu_poll_after_ms": "250",
        },
    )
    with pytest.raises(openai.RateLimitError) as limited:
        await client.responses.retrieve(created.id)
    assert limited.value.response.headers["retry-after-ms"] == "1000"
    with pytest.raises(openai.InternalServerError) as unavailable:
        await client.responses.retrieve(created.id)
    assert unavailable.value.status_code == 503
    raw = await client.responses.with_raw_response.retrieve(created.id)
    assert raw.headers["openai-poll-after-ms"] == "250"
    stats = await emu.stats()
    entry = stats["responses"][created.id]
    assert [r["status_code"] for r in entry["requests"]] == [200, 429, 503, 200]
    assert entry["calls"] == {"create_response": 1, "retrieve_response": 3}


async def test_create_faults_and_workflow_index(emu: RunningEmulator, client: AsyncOpenAI) -> None:
    metadata = {
        **FAST,
        "temporal_workflow_id": "wf-resp",
        "durable_runs_step": "1",
        "emu_create_rate_limit": "1",
        "emu_create_lose_response": "1",
        "emu_retry_after_ms": "10",
    }
    with pytest.raises(openai.RateLimitError):
        await client.responses.create(
            model="gpt-4o-mini", input="1+1", background=True, metadata=metadata
        )
    assert "wf-resp" not in (await emu.stats())["responses_by_workflow"]
    with pytest.raises(openai.InternalServerError):
        await client.responses.create(
            model="gpt-4o-mini", input="1+1", background=True, metadata=metadata
        )
    lost = (await emu.stats())["responses_by_workflow"]["wf-resp"]
    assert len(lost) == 1
    ok = await client.responses.create(
        model="gpt-4o-mini", input="1+1", background=True, metadata=metadata
    )
    assert (await emu.stats())["responses_by_workflow"]["wf-resp"] == [lost[0], ok.id]


async def test_terminal_webhooks_carry_only_the_id() -> None:
    async with running_receiver() as receiver:
        config = EmulatorConfig(webhook_url=receiver.url, webhook_secret=SECRET)
        async with (
            running_emulator(config) as emu,
            AsyncOpenAI(
                base_url=emu.base_url, api_key=API_KEY, max_retries=0, webhook_secret=SECRET
            ) as client,
        ):
            done = await client.responses.create(
                model="gpt-4o-mini", input="1+1", background=True, metadata=FAST
            )
            cancelled = await client.responses.create(
                model="gpt-4o-mini",
                input="1+1",
                background=True,
                metadata={"emu_outcome": "stay_queued"},
            )
            await client.responses.cancel(cancelled.id)
            await eventually(lambda: _received(receiver), lambda n: n >= 2)
            events = {}
            for delivery in receiver.received:
                event = client.webhooks.unwrap(delivery.body, delivery.headers)
                assert isinstance(
                    event, ResponseCompletedWebhookEvent | ResponseCancelledWebhookEvent
                )
                events[event.data.id] = event.type
                assert set(delivery.event) == {"id", "object", "created_at", "type", "data"}
                assert delivery.event["data"] == {"id": event.data.id}
            assert events == {done.id: "response.completed", cancelled.id: "response.cancelled"}


async def _received(receiver: Any) -> int:
    return len(receiver.received)


async def test_manual_history_without_previous_response(client: AsyncOpenAI) -> None:
    plan = json.dumps([[{"name": "lookup", "arguments": {"q": "x"}}]])
    response = await client.responses.create(
        model="gpt-4o-mini",
        input=[
            {"role": "user", "content": "go"},
            {
                "type": "function_call",
                "call_id": "call_manual",
                "name": "lookup",
                "arguments": '{"q": "x"}',
            },
            {"type": "function_call_output", "call_id": "call_manual", "output": "manual"},
        ],
        metadata={"emu_duration_ms": "0", "emu_tool_plan": plan},
    )
    assert response.output_text == "Tool results: lookup=manual"
