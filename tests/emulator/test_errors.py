"""Errors: real status codes, bodies and headers, as the SDK sees them."""

from __future__ import annotations

import openai
import pytest
from durable_runs_emulator.config import EmulatorConfig
from durable_runs_emulator.errors import ASSISTANTS_REMOVED_MESSAGE
from durable_runs_emulator.server import RunningEmulator, running_emulator
from openai import AsyncOpenAI

from tests.emulator.helpers import API_KEY, FAST, raw_client, setup_thread, wait_run
from tests.emulator.openapi import assert_matches


async def test_missing_key_is_401(emu: RunningEmulator) -> None:
    async with raw_client(emu, key=None) as http:
        response = await http.get("/v1/assistants")
    assert response.status_code == 401
    error = response.json()["error"]
    assert error["message"].startswith("You didn't provide an API key.")
    assert error["type"] == "invalid_request_error"
    assert error["code"] is None
    assert response.headers["x-request-id"].startswith("req_")


async def test_bad_key_is_401_invalid_api_key(emu: RunningEmulator) -> None:
    async with AsyncOpenAI(base_url=emu.base_url, api_key="sk-bad-0123456789abcdef") as bad:
        with pytest.raises(openai.AuthenticationError) as caught:
            await bad.beta.assistants.list()
    assert caught.value.status_code == 401
    assert caught.value.code == "invalid_api_key"
    assert "Incorrect API key provided: sk-bad" in caught.value.message
    assert "0123456789abcdef" not in caught.value.message


async def test_api_key_list_only_accepts_listed_keys() -> None:
    async with running_emulator(EmulatorConfig(api_keys=["sk-one"])) as emu:
        async with AsyncOpenAI(base_url=emu.base_url, api_key="sk-one", max_retries=0) as good:
            await good.beta.assistants.list()
        async with AsyncOpenAI(base_url=emu.base_url, api_key="sk-two", max_retries=0) as other:
            with pytest.raises(openai.AuthenticationError):
                await other.beta.assistants.list()


async def test_unknown_ids_are_404(client: AsyncOpenAI) -> None:
    assistant, thread = await setup_thread(client, "hi")
    with pytest.raises(openai.NotFoundError) as caught:
        await client.beta.threads.runs.retrieve("run_missing", thread_id=thread.id)
    assert caught.value.body == {
        "message": "No run found with id 'run_missing'.",
        "type": "invalid_request_error",
        "param": None,
        "code": None,
    }
    with pytest.raises(openai.NotFoundError, match="No thread found with id 'thread_missing'."):
        await client.beta.threads.retrieve("thread_missing")
    with pytest.raises(openai.NotFoundError, match="No assistant found with id 'asst_missing'."):
        await client.beta.threads.runs.create(thread_id=thread.id, assistant_id="asst_missing")
    assert assistant.id.startswith("asst_")


async def test_submit_errors(client: AsyncOpenAI) -> None:
    plan = '[[{"name": "a"}, {"name": "b"}]]'
    assistant, thread = await setup_thread(client, "x")
    run = await client.beta.threads.runs.create(
        thread_id=thread.id,
        assistant_id=assistant.id,
        metadata={"emu_queued_ms": "0", "emu_duration_ms": "300", "emu_tool_plan": plan},
    )
    with pytest.raises(openai.BadRequestError) as caught:
        await client.beta.threads.runs.submit_tool_outputs(
            run.id, thread_id=thread.id, tool_outputs=[{"tool_call_id": "call_x", "output": "1"}]
        )
    assert caught.value.body is not None
    assert caught.value.message.endswith(
        'Runs in status "in_progress" do not accept tool outputs.'
    ) or caught.value.message.endswith('Runs in status "queued" do not accept tool outputs.')
    waiting = await wait_run(client, run, {"requires_action"})
    assert waiting.required_action is not None
    first, _second = waiting.required_action.submit_tool_outputs.tool_calls
    with pytest.raises(openai.BadRequestError, match="Expected tool outputs for call_ids"):
        await client.beta.threads.runs.submit_tool_outputs(
            run.id, thread_id=thread.id, tool_outputs=[{"tool_call_id": first.id, "output": "1"}]
        )
    with pytest.raises(openai.BadRequestError, match="Invalid tool_call_id"):
        await client.beta.threads.runs.submit_tool_outputs(
            run.id,
            thread_id=thread.id,
            tool_outputs=[{"tool_call_id": "call_unknown", "output": "1"}],
        )
    still = await client.beta.threads.runs.retrieve(run.id, thread_id=thread.id)
    assert still.status == "requires_action"


async def test_headers_on_every_response(emu: RunningEmulator) -> None:
    async with raw_client(emu) as http:
        for response in (await http.get("/v1/assistants"), await http.get("/v1/threads/thread_x")):
            assert response.headers["openai-version"] == "2020-10-01"
            assert int(response.headers["openai-processing-ms"]) >= 0
            assert response.headers["x-request-id"].startswith("req_")


async def test_assistants_removed(emu: RunningEmulator) -> None:
    async with running_emulator(EmulatorConfig(assistants_removed=True)) as removed:
        async with AsyncOpenAI(base_url=removed.base_url, api_key=API_KEY, max_retries=0) as sdk:
            for call in (
                sdk.beta.assistants.list(),
                sdk.beta.threads.create(),
                sdk.beta.threads.runs.retrieve("run_x", thread_id="thread_x"),
            ):
                with pytest.raises(openai.NotFoundError) as caught:
                    await call
                assert caught.value.message.endswith(ASSISTANTS_REMOVED_MESSAGE)
                assert "2026-08-26" in caught.value.message
                assert "Responses API" in caught.value.message


async def test_beta_header_required_and_unknown_url(emu: RunningEmulator) -> None:
    async with raw_client(emu) as http:
        missing = await http.get("/v1/assistants", headers={"OpenAI-Beta": ""})
        unknown = await http.get("/v1/nope")
        bad_json = await http.post(
            "/v1/threads", content=b"{not json", headers={"content-type": "application/json"}
        )
    assert missing.status_code == 400
    assert "OpenAI-Beta" in missing.json()["error"]["message"]
    assert unknown.status_code == 404
    assert unknown.json()["error"]["message"] == "Invalid URL (GET /v1/nope)"
    assert bad_json.status_code == 400
    for response in (missing, unknown, bad_json):
        assert_matches("ErrorResponse", response.json())


async def test_invalid_metadata_and_missing_parameter(client: AsyncOpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        await client.beta.assistants.create(
            model="gpt-4o-mini", metadata={f"k{i}": "v" for i in range(17)}
        )
    assert caught.value.param == "metadata"
    _, thread = await setup_thread(client, "x")
    with pytest.raises(openai.BadRequestError) as missing:
        await client.post(
            f"/threads/{thread.id}/runs",
            body={},
            cast_to=object,
            options={"headers": {"OpenAI-Beta": "assistants=v2"}},
        )
    assert missing.value.message.endswith("Missing required parameter: 'assistant_id'.")
    with pytest.raises(openai.BadRequestError, match="emu_outcome"):
        await client.beta.assistants.create(
            model="gpt-4o-mini", metadata={"emu_outcome": "exploded"}
        )
    assert FAST
