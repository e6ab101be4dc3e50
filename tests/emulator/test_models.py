"""The emulator refuses what the API refuses: an unknown model, a response without input."""

from __future__ import annotations

import openai
import pytest
from durable_runs_emulator.config import DEFAULT_MODELS
from durable_runs_emulator.server import RunningEmulator, running_emulator
from openai import AsyncOpenAI

from tests.emulator.helpers import API_KEY, FAST, setup_thread
from tests.emulator.openapi import assert_matches

UNKNOWN = "gpt-nonexistent"
NOT_FOUND_BODY = {
    "message": f"The requested model '{UNKNOWN}' does not exist.",
    "type": "invalid_request_error",
    "param": "model",
    "code": "model_not_found",
}


def assert_model_not_found(error: openai.BadRequestError) -> None:
    """The SDK's error carries OpenAI's body for an unknown model."""
    assert error.status_code == 400
    assert error.code == "model_not_found"
    assert error.param == "model"
    assert error.body == NOT_FOUND_BODY
    assert_matches("ErrorResponse", error.response.json())
    assert error.response.json() == {"error": NOT_FOUND_BODY}


async def test_responses_create_refuses_an_unknown_model(
    emu: RunningEmulator, client: AsyncOpenAI
) -> None:
    before = await emu.stats()
    with pytest.raises(openai.BadRequestError) as caught:
        await client.responses.create(model=UNKNOWN, input="1+1", background=True)
    assert_model_not_found(caught.value)
    after = await emu.stats()
    assert set(after["responses"]) == set(before["responses"])


async def test_assistants_refuse_an_unknown_model(client: AsyncOpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        await client.beta.assistants.create(model=UNKNOWN)
    assert_model_not_found(caught.value)
    assistant, thread = await setup_thread(client, "What is 2+2?")
    with pytest.raises(openai.BadRequestError) as caught:
        await client.beta.threads.runs.create(
            thread_id=thread.id, assistant_id=assistant.id, model=UNKNOWN
        )
    assert_model_not_found(caught.value)
    assert (await client.beta.threads.runs.list(thread_id=thread.id)).data == []


async def test_every_default_model_and_its_snapshots_exist(client: AsyncOpenAI) -> None:
    for model in (*DEFAULT_MODELS, "gpt-4o-mini-2024-07-18"):
        response = await client.responses.create(
            model=model, input="1+1", metadata={"emu_duration_ms": "0"}
        )
        assert response.model == model
    with pytest.raises(openai.BadRequestError):
        await client.responses.create(model="gpt-4o-mini-latest", input="1+1")


async def test_models_list_is_configurable() -> None:
    async with running_emulator() as emu:
        await emu.configure(models=["house-model"])
        async with AsyncOpenAI(base_url=emu.base_url, api_key=API_KEY, max_retries=0) as client:
            response = await client.responses.create(
                model="house-model", input="1+1", background=True, metadata=FAST
            )
            assert response.model == "house-model"
            with pytest.raises(openai.BadRequestError) as caught:
                await client.responses.create(model="gpt-4o-mini", input="1+1")
            assert caught.value.code == "model_not_found"
            await emu.configure(models=None)
            await client.responses.create(model="gpt-4o-mini", input="1+1")


async def test_responses_create_refuses_missing_input(client: AsyncOpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as missing:
        await client.responses.create(model="gpt-4o-mini", background=True)
    with pytest.raises(openai.BadRequestError) as empty:
        await client.responses.create(model="gpt-4o-mini", input=[], background=True)
    for caught in (missing, empty):
        assert caught.value.code == "missing_required_parameter"
        assert caught.value.param == "input"
