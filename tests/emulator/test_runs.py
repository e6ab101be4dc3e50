"""Run lifecycles through the real SDK: the brain, tool rounds, expiry, cancel, outcomes."""

from __future__ import annotations

import json
import math
import time

import openai
import pytest
from openai import AsyncOpenAI

from tests.emulator.helpers import (
    FAST,
    WEATHER_TOOLS,
    answer_text,
    setup_thread,
    tool_outputs,
    wait_run,
)

WEATHER = {
    "Paris": {"celsius": 18, "conditions": "sunny"},
    "Tokyo": {"celsius": 22, "conditions": "cloudy"},
}


async def test_arithmetic_answer(client: AsyncOpenAI) -> None:
    assistant, thread = await setup_thread(client, "What is 2+2?")
    run = await client.beta.threads.runs.create(
        thread_id=thread.id, assistant_id=assistant.id, metadata=FAST
    )
    assert run.status == "queued"
    assert run.model == "gpt-4o-mini"
    assert run.instructions == "Be helpful."
    done = await wait_run(client, run, {"completed"})
    assert await answer_text(client, done) == "4"
    assert done.usage is not None and done.usage.total_tokens == (
        done.usage.prompt_tokens + done.usage.completion_tokens
    )
    assert done.started_at is not None and done.completed_at is not None


@pytest.mark.parametrize(
    ("question", "answer"),
    [("What is (3 + 4) * 2 / 4?", "3.5"), ("compute 2**10 please", "1024"), ("Hi there", None)],
)
async def test_brain_arithmetic_variants(
    client: AsyncOpenAI, question: str, answer: str | None
) -> None:
    assistant, thread = await setup_thread(client, question)
    run = await client.beta.threads.runs.create(
        thread_id=thread.id, assistant_id=assistant.id, metadata=FAST
    )
    text = await answer_text(client, await wait_run(client, run, {"completed"}))
    if answer is None:
        assert "emulator" in text
    else:
        assert text == answer


async def test_weather_demo_two_parallel_rounds(client: AsyncOpenAI) -> None:
    assistant, thread = await setup_thread(
        client, "What's the weather in Paris and Tokyo, in Fahrenheit?", tools=WEATHER_TOOLS
    )
    run = await client.beta.threads.runs.create(
        thread_id=thread.id, assistant_id=assistant.id, metadata=FAST
    )
    first = await wait_run(client, run, {"requires_action"})
    assert first.required_action is not None
    calls = first.required_action.submit_tool_outputs.tool_calls
    assert [(c.function.name, json.loads(c.function.arguments)) for c in calls] == [
        ("get_weather", {"city": "Paris"}),
        ("get_weather", {"city": "Tokyo"}),
    ]
    after = await client.beta.threads.runs.submit_tool_outputs(
        run.id,
        thread_id=thread.id,
        tool_outputs=tool_outputs(first, lambda _, a: WEATHER[a["city"]]),  # type: ignore[arg-type]
    )
    assert after.status == "in_progress"
    second = await wait_run(client, run, {"requires_action"})
    assert second.required_action is not None
    calls = second.required_action.submit_tool_outputs.tool_calls
    assert [json.loads(c.function.arguments) for c in calls] == [{"celsius": 18}, {"celsius": 22}]
    await client.beta.threads.runs.submit_tool_outputs(
        run.id,
        thread_id=thread.id,
        tool_outputs=tool_outputs(  # type: ignore[arg-type]
            second, lambda _, a: {"fahrenheit": round(a["celsius"] * 9 / 5 + 32, 1)}
        ),
    )
    done = await wait_run(client, run, {"completed"})
    assert await answer_text(client, done) == "Paris: 64.4°F, sunny; Tokyo: 71.6°F, cloudy"


async def test_tool_plan_knob(client: AsyncOpenAI) -> None:
    plan = [[{"name": "a", "arguments": {"x": 1}}, {"name": "b", "arguments": {}}], [{"name": "c"}]]
    assistant, thread = await setup_thread(client, "Do it")
    run = await client.beta.threads.runs.create(
        thread_id=thread.id,
        assistant_id=assistant.id,
        metadata={**FAST, "emu_tool_plan": json.dumps(plan)},
    )
    for expected in (["a", "b"], ["c"]):
        waiting = await wait_run(client, run, {"requires_action"})
        assert waiting.required_action is not None
        names = [c.function.name for c in waiting.required_action.submit_tool_outputs.tool_calls]
        assert names == expected
        await client.beta.threads.runs.submit_tool_outputs(
            run.id,
            thread_id=thread.id,
            tool_outputs=tool_outputs(waiting, lambda name, _: f"out-{name}"),  # type: ignore[arg-type]
        )
    done = await wait_run(client, run, {"completed"})
    assert await answer_text(client, done) == 'Tool results: a="out-a", b="out-b", c="out-c"'


async def test_requires_action_expires(client: AsyncOpenAI) -> None:
    assistant, thread = await setup_thread(client, "weather in Paris?", tools=WEATHER_TOOLS)
    before = time.time()
    run = await client.beta.threads.runs.create(
        thread_id=thread.id,
        assistant_id=assistant.id,
        metadata={**FAST, "emu_expires_after_ms": "400"},
    )
    assert run.expires_at == math.ceil(run.created_at + 0.4) or run.expires_at is not None
    assert run.expires_at is not None and run.expires_at >= before
    await wait_run(client, run, {"requires_action"})
    expired = await wait_run(client, run, {"expired"})
    assert expired.required_action is None
    assert expired.expires_at is None
    with pytest.raises(openai.BadRequestError) as caught:
        await client.beta.threads.runs.submit_tool_outputs(
            run.id, thread_id=thread.id, tool_outputs=[{"tool_call_id": "call_x", "output": "1"}]
        )
    assert caught.value.message.endswith('Runs in status "expired" do not accept tool outputs.')


async def test_cancel_goes_through_cancelling(client: AsyncOpenAI) -> None:
    assistant, thread = await setup_thread(client, "What is 1+1?")
    run = await client.beta.threads.runs.create(
        thread_id=thread.id,
        assistant_id=assistant.id,
        metadata={"emu_outcome": "stay_queued", "emu_cancel_ms": "150"},
    )
    await client.beta.threads.runs.retrieve(run.id, thread_id=thread.id)
    cancelling = await client.beta.threads.runs.cancel(run.id, thread_id=thread.id)
    assert cancelling.status == "cancelling"
    again = await client.beta.threads.runs.retrieve(run.id, thread_id=thread.id)
    assert again.status == "cancelling"
    cancelled = await wait_run(client, run, {"cancelled"})
    assert cancelled.cancelled_at is not None
    with pytest.raises(openai.BadRequestError) as caught:
        await client.beta.threads.runs.cancel(run.id, thread_id=thread.id)
    assert "Cannot cancel run with status 'cancelled'." in caught.value.message


async def test_stay_queued_then_expire(client: AsyncOpenAI) -> None:
    assistant, thread = await setup_thread(client, "What is 1+1?")
    run = await client.beta.threads.runs.create(
        thread_id=thread.id,
        assistant_id=assistant.id,
        metadata={"emu_outcome": "stay_queued", "emu_expires_after_ms": "200"},
    )
    expired = await wait_run(client, run, {"expired"})
    assert expired.started_at is None


async def test_failed_with_custom_error(client: AsyncOpenAI) -> None:
    assistant, thread = await setup_thread(client, "What is 1+1?")
    run = await client.beta.threads.runs.create(
        thread_id=thread.id,
        assistant_id=assistant.id,
        metadata={
            **FAST,
            "emu_outcome": "failed",
            "emu_error_code": "rate_limit_exceeded",
            "emu_error_message": "You exceeded your current quota.",
        },
    )
    failed = await wait_run(client, run, {"failed"})
    assert failed.last_error is not None
    assert failed.last_error.code == "rate_limit_exceeded"
    assert failed.last_error.message == "You exceeded your current quota."


async def test_assistant_metadata_supplies_knob_defaults(client: AsyncOpenAI) -> None:
    assistant, thread = await setup_thread(
        client, "What is 1+1?", assistant_metadata={**FAST, "emu_outcome": "incomplete"}
    )
    run = await client.beta.threads.runs.create(thread_id=thread.id, assistant_id=assistant.id)
    assert run.metadata == {}
    assert (await wait_run(client, run, {"incomplete"})).incomplete_details is not None
    thread2 = await client.beta.threads.create(messages=[{"role": "user", "content": "1+2"}])
    run2 = await client.beta.threads.runs.create(
        thread_id=thread2.id, assistant_id=assistant.id, metadata={"emu_outcome": "completed"}
    )
    assert await answer_text(client, await wait_run(client, run2, {"completed"})) == "3"


async def test_second_active_run_is_refused(client: AsyncOpenAI) -> None:
    assistant, thread = await setup_thread(client, "What is 1+1?")
    run = await client.beta.threads.runs.create(
        thread_id=thread.id, assistant_id=assistant.id, metadata={"emu_outcome": "stay_queued"}
    )
    with pytest.raises(openai.BadRequestError) as caught:
        await client.beta.threads.runs.create(thread_id=thread.id, assistant_id=assistant.id)
    assert caught.value.message.endswith(f"Thread {thread.id} already has an active run {run.id}.")
    assert caught.value.body == {
        "message": f"Thread {thread.id} already has an active run {run.id}.",
        "type": "invalid_request_error",
        "param": None,
        "code": None,
    }
    with pytest.raises(openai.BadRequestError):
        await client.beta.threads.messages.create(thread.id, role="user", content="more")
    await client.beta.threads.runs.cancel(run.id, thread_id=thread.id)
    await wait_run(client, run, {"cancelled"})
    again = await client.beta.threads.runs.create(
        thread_id=thread.id, assistant_id=assistant.id, metadata=FAST
    )
    assert again.id != run.id


async def test_run_overrides_and_additional_messages(client: AsyncOpenAI) -> None:
    assistant, thread = await setup_thread(client, "hello")
    run = await client.beta.threads.runs.create(
        thread_id=thread.id,
        assistant_id=assistant.id,
        model="gpt-4.1",
        instructions="Only numbers.",
        additional_instructions="Be terse.",
        additional_messages=[{"role": "user", "content": "What is 5*5?"}],
        tools=WEATHER_TOOLS[:1],  # type: ignore[arg-type]
        metadata=FAST,
    )
    assert run.model == "gpt-4.1"
    assert run.instructions == "Only numbers.\nBe terse."
    assert [t.type for t in run.tools] == ["function"]
    assert await answer_text(client, await wait_run(client, run, {"completed"})) == "25"
