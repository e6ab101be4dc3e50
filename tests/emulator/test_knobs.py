"""Scenario knobs: injected 429/5xx, create faults, poll hints, timings."""

from __future__ import annotations

import time

import openai
import pytest
from durable_runs_emulator.server import RunningEmulator
from openai import AsyncOpenAI

from tests.emulator.helpers import API_KEY, FAST, answer_text, raw_client, setup_thread, wait_run


async def test_rate_limit_next_answers_429_with_headers(
    emu: RunningEmulator, client: AsyncOpenAI
) -> None:
    assistant, thread = await setup_thread(client, "What is 3*3?")
    run = await client.beta.threads.runs.create(
        thread_id=thread.id,
        assistant_id=assistant.id,
        metadata={**FAST, "emu_rate_limit_next": "2", "emu_retry_after_ms": "1500"},
    )
    async with raw_client(emu) as http:
        url = f"/v1/threads/{thread.id}/runs/{run.id}"
        limited = await http.get(url)
        assert limited.status_code == 429
        assert limited.headers["retry-after"] == "2"
        assert limited.headers["retry-after-ms"] == "1500"
        assert limited.headers["x-ratelimit-limit-requests"]
        assert limited.headers["x-ratelimit-remaining-requests"] == "0"
        assert limited.headers["x-ratelimit-reset-requests"] == "1.5s"
        error = limited.json()["error"]
        assert (error["type"], error["code"]) == ("requests", "rate_limit_exceeded")
    with pytest.raises(openai.RateLimitError):
        await client.beta.threads.runs.retrieve(run.id, thread_id=thread.id)
    assert (await client.beta.threads.runs.retrieve(run.id, thread_id=thread.id)).id == run.id


async def test_sdk_retries_honour_retry_after_ms(emu: RunningEmulator) -> None:
    async with AsyncOpenAI(base_url=emu.base_url, api_key=API_KEY, max_retries=2) as sdk:
        assistant, thread = await setup_thread(sdk, "What is 3*3?")
        run = await sdk.beta.threads.runs.create(
            thread_id=thread.id,
            assistant_id=assistant.id,
            metadata={**FAST, "emu_rate_limit_next": "2", "emu_retry_after_ms": "50"},
        )
        started = time.monotonic()
        got = await sdk.beta.threads.runs.retrieve(run.id, thread_id=thread.id)
        assert got.id == run.id
        assert time.monotonic() - started < 2.0
    stats = await emu.stats()
    codes = [r["status_code"] for r in stats["runs"][run.id]["requests"]]
    assert codes == [200, 429, 429, 200]


@pytest.mark.parametrize("status", ["500", "503"])
async def test_server_error_next(client: AsyncOpenAI, status: str) -> None:
    assistant, thread = await setup_thread(client, "What is 3*3?")
    run = await client.beta.threads.runs.create(
        thread_id=thread.id,
        assistant_id=assistant.id,
        metadata={**FAST, "emu_server_error_next": "1", "emu_server_error_status": status},
    )
    with pytest.raises(openai.InternalServerError) as caught:
        await client.beta.threads.runs.cancel(run.id, thread_id=thread.id)
    assert caught.value.status_code == int(status)
    assert caught.value.type == "server_error"
    done = await wait_run(client, run, {"completed"})
    assert await answer_text(client, done) == "9"


async def test_create_rate_limit_does_not_create(emu: RunningEmulator, client: AsyncOpenAI) -> None:
    assistant, thread = await setup_thread(client, "What is 3*3?")
    metadata = {
        **FAST,
        "temporal_workflow_id": "wf-create-429",
        "durable_runs_step": "1",
        "emu_create_rate_limit": "2",
        "emu_retry_after_ms": "10",
    }
    for _ in range(2):
        with pytest.raises(openai.RateLimitError):
            await client.beta.threads.runs.create(
                thread_id=thread.id, assistant_id=assistant.id, metadata=metadata
            )
    assert (await client.beta.threads.runs.list(thread_id=thread.id)).data == []
    run = await client.beta.threads.runs.create(
        thread_id=thread.id, assistant_id=assistant.id, metadata=metadata
    )
    stats = await emu.stats()
    assert stats["runs_by_workflow"]["wf-create-429"] == [run.id]


async def test_create_lose_response_creates_then_500(
    emu: RunningEmulator, client: AsyncOpenAI
) -> None:
    assistant, thread = await setup_thread(client, "What is 3*3?")
    metadata = {
        "emu_outcome": "stay_queued",
        "temporal_workflow_id": "wf-lost",
        "durable_runs_step": "1",
        "emu_create_lose_response": "1",
    }
    with pytest.raises(openai.InternalServerError):
        await client.beta.threads.runs.create(
            thread_id=thread.id, assistant_id=assistant.id, metadata=metadata
        )
    listed = await client.beta.threads.runs.list(thread_id=thread.id, limit=10)
    found = [r for r in listed.data if (r.metadata or {}).get("temporal_workflow_id") == "wf-lost"]
    assert len(found) == 1
    with pytest.raises(openai.BadRequestError, match="already has an active run"):
        await client.beta.threads.runs.create(
            thread_id=thread.id, assistant_id=assistant.id, metadata=metadata
        )
    stats = await emu.stats()
    assert stats["runs_by_workflow"]["wf-lost"] == [found[0].id]
    assert stats["runs"][found[0].id]["requests"][0] == {
        "kind": "create_run",
        "at": stats["runs"][found[0].id]["requests"][0]["at"],
        "status_code": 500,
    }
    await client.beta.threads.runs.cancel(found[0].id, thread_id=thread.id)


async def test_poll_after_header(emu: RunningEmulator, client: AsyncOpenAI) -> None:
    assistant, thread = await setup_thread(client, "x")
    run = await client.beta.threads.runs.create(
        thread_id=thread.id,
        assistant_id=assistant.id,
        metadata={**FAST, "emu_poll_after_ms": "750"},
    )
    raw = await client.beta.threads.runs.with_raw_response.retrieve(run.id, thread_id=thread.id)
    assert raw.headers["openai-poll-after-ms"] == "750"


async def test_timing_knobs(emu: RunningEmulator, client: AsyncOpenAI) -> None:
    assistant, thread = await setup_thread(client, "What is 3*3?")
    run = await client.beta.threads.runs.create(
        thread_id=thread.id,
        assistant_id=assistant.id,
        metadata={"emu_queued_ms": "150", "emu_duration_ms": "250"},
    )
    await wait_run(client, run, {"completed"})
    times = (await emu.stats())["runs"][run.id]["status_times"]
    assert 0.13 <= times["in_progress"] - times["queued"] < 0.4
    assert 0.23 <= times["completed"] - times["in_progress"] < 0.5


async def test_pagination(client: AsyncOpenAI) -> None:
    assistant, thread = await setup_thread(client, "What is 1+1?")
    run_ids = []
    for _ in range(3):
        run = await client.beta.threads.runs.create(
            thread_id=thread.id,
            assistant_id=assistant.id,
            metadata={"emu_queued_ms": "0", "emu_duration_ms": "0"},
        )
        await wait_run(client, run, {"completed"})
        run_ids.append(run.id)
    desc = await client.beta.threads.runs.list(thread_id=thread.id, limit=2)
    assert [r.id for r in desc.data] == run_ids[::-1][:2]
    assert desc.has_more is True
    rest = await client.beta.threads.runs.list(thread_id=thread.id, limit=2, after=desc.data[-1].id)
    assert [r.id for r in rest.data] == [run_ids[0]]
    assert rest.has_more is False
    asc = await client.beta.threads.runs.list(thread_id=thread.id, order="asc")
    assert [r.id for r in asc.data] == run_ids
    every = [r.id async for r in client.beta.threads.runs.list(thread_id=thread.id, limit=1)]
    assert every == run_ids[::-1]
    messages = await client.beta.threads.messages.list(thread_id=thread.id, order="asc")
    assert [m.role for m in messages.data] == ["user", "assistant", "assistant", "assistant"]
    before = await client.beta.threads.messages.list(
        thread_id=thread.id, order="asc", before=messages.data[2].id
    )
    assert [m.id for m in before.data] == [m.id for m in messages.data[:2]]
    by_run = await client.beta.threads.messages.list(thread_id=thread.id, run_id=run_ids[1])
    assert [m.run_id for m in by_run.data] == [run_ids[1]]
