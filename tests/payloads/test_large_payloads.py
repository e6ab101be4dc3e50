"""Large payloads: the prompt is recorded once, big outputs and answers go to S3, not history.

Real dev server, real emulator over HTTP, a real S3-compatible server (moto, its own process).
"""

from __future__ import annotations

import base64
import json
import os
import uuid
from typing import Any

import pytest
from durable_runs_emulator.server import RunningEmulator
from openai import AsyncOpenAI
from temporalio.api.history.v1 import History
from temporalio.client import Client, WorkflowFailureError
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from durable_runs.activities.demo_tools import demo_registry
from durable_runs.activities.tools import ToolRegistry
from durable_runs.codec_keys import parse_codec_keys
from durable_runs.models import SubmitInput
from durable_runs.options import PAYLOADS_TOO_LARGE
from durable_runs.settings import Settings
from durable_runs.temporal import connect
from tests.conftest import WorkerFactory
from tests.histories.record import HISTORIES, load_history
from tests.payloads.conftest import S3Server
from tests.workflows.helpers import activity_attempts, request, start

MIB = 1 << 20
HISTORY_BOUND = 200 * 1024
"""A run whose tool output and answer went to S3 keeps its history under this many bytes."""
FAST = {"emu_queued_ms": "10", "emu_duration_ms": "50"}


def big_text(chars: int) -> str:
    """Return a text of exactly `chars` characters."""
    return ("0123456789abcdef" * (chars // 16 + 1))[:chars]


@pytest.fixture
def registry() -> ToolRegistry:
    """The demo tools plus `big_text`."""
    tools = demo_registry()
    tools.register(big_text)
    return tools


def _big_run_metadata(answer_chars: int) -> dict[str, str]:
    plan = [[{"name": "big_text", "arguments": {"chars": 5 * MIB}}]]
    return {**FAST, "emu_tool_plan": json.dumps(plan), "emu_answer_chars": str(answer_chars)}


async def _history(client: Client, workflow_id: str) -> History:
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    return History(events=history.events)


async def test_prompt_is_recorded_once_however_many_tool_rounds(
    client: Client, worker_factory: WorkerFactory, emulator: RunningEmulator
) -> None:
    """Three tool rounds: the prompt and the instructions are in the workflow's input and the
    create's, nowhere else; each follow-up still gets the instructions (copied by the API call)."""
    prompt = f"weather report {uuid.uuid4()}"
    instructions = f"answer in haiku {uuid.uuid4()}"
    plan = [[{"name": "get_weather", "arguments": {"city": c}}] for c in ("Oslo", "Rome", "Lima")]
    req = request(
        prompt,
        instructions=instructions,
        tools=["get_weather"],
        metadata={**FAST, "emu_tool_plan": json.dumps(plan)},
    )
    async with worker_factory(client) as queue:
        handle = await start(client, queue, req)
        result = await handle.result()
    assert result.status == "completed" and result.tool_rounds == 3

    history = await _history(client, handle.id)
    where: dict[str, int] = {}
    for event in history.events:
        for text in (prompt, instructions):
            count = event.SerializeToString().count(text.encode())
            if count:
                name = event.activity_task_scheduled_event_attributes.activity_type.name
                key = f"{text is prompt}:{name or event.WhichOneof('attributes')}"
                where[key] = where.get(key, 0) + count
    started = "workflow_execution_started_event_attributes"
    assert where == {
        f"True:{started}": 1,
        "True:responses.start": 1,
        f"False:{started}": 1,
        "False:responses.start": 1,
    }
    openai = AsyncOpenAI(base_url=emulator.base_url, api_key="sk-test", max_retries=0)
    for response_id in result.response_ids:
        assert (await openai.responses.retrieve(response_id)).instructions == instructions


def test_a_submit_scheduled_by_an_older_workflow_still_decodes() -> None:
    """The submit input recorded before `create` (the whole request in it) still decodes."""
    history = load_history(HISTORIES / "RunWorkflow" / "polls_on_retries_responses_tool_chain.json")
    inputs = [
        event.activity_task_scheduled_event_attributes.input
        for event in history.events
        if event.activity_task_scheduled_event_attributes.activity_type.name
        == "responses.submit_tool_outputs"
    ]
    assert inputs, "the recorded history has a tool round"
    for payloads in inputs:
        (submit,) = pydantic_data_converter.payload_converter.from_payloads(
            payloads.payloads, [SubmitInput]
        )
        assert isinstance(submit, SubmitInput)
        assert submit.create is None and submit.request is not None
        assert submit.create_options.tools == submit.request.tools
        assert submit.create_options.model == submit.request.model


async def test_big_tool_output_and_answer_go_to_s3_and_history_stays_small(
    temporal_env: WorkflowEnvironment,
    worker_factory: WorkerFactory,
    registry: ToolRegistry,
    s3_server: S3Server,
    bucket: str,
) -> None:
    """A 5 MiB tool output and a 3 MiB answer complete; the history holds references only."""
    target = temporal_env.client.service_client.config.target_host
    settings = Settings(TEMPORAL_ADDRESS=target, DURABLE_RUNS_PAYLOAD_BUCKET=bucket)
    client = await connect(settings)
    req = request("big", tools=["big_text"], metadata=_big_run_metadata(3 * MIB))
    async with worker_factory(client, registry=registry) as queue:
        handle = await start(client, queue, req)
        result = await handle.result()
    assert result.status == "completed"
    assert len(result.answer) == 3 * MIB
    assert result.answer.startswith("Tool results: big_text=0123456789abcdef")

    history = await _history(client, handle.id)
    assert history.ByteSize() < HISTORY_BOUND, history.ByteSize()
    objects = s3_server.s3.list_objects_v2(Bucket=bucket)["Contents"]
    sizes = sorted(obj["Size"] for obj in objects)
    assert sum(size > 5 * MIB for size in sizes) >= 2  # the tool's result, the submit's input
    assert sum(3 * MIB < size < 4 * MIB for size in sizes) >= 2  # the answer read, the result


def _bucket_bytes(s3_server: S3Server, bucket: str) -> bytes:
    objects = s3_server.s3.list_objects_v2(Bucket=bucket).get("Contents", [])
    return b"".join(
        s3_server.s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read() for obj in objects
    )


@pytest.mark.parametrize("encrypted", [True, False], ids=["encrypted", "plain-planted-fault"])
async def test_with_encryption_the_bucket_holds_only_ciphertext(
    temporal_env: WorkflowEnvironment,
    worker_factory: WorkerFactory,
    registry: ToolRegistry,
    s3_server: S3Server,
    bucket: str,
    encrypted: bool,
) -> None:
    """Encryption and storage together: what goes to S3 is already encrypted.

    The same check on a run without keys finds the tool output in the bucket, so it can fail.
    """
    target = temporal_env.client.service_client.config.target_host
    key = base64.b64encode(os.urandom(32)).decode()
    settings = Settings(
        TEMPORAL_ADDRESS=target,
        DURABLE_RUNS_PAYLOAD_BUCKET=bucket,
        codec_keys=parse_codec_keys(f"k1:{key}") if encrypted else (),
    )
    client = await connect(settings)
    req = request("secret question", tools=["big_text"], metadata=_big_run_metadata(1 * MIB))
    async with worker_factory(client, registry=registry) as queue:
        handle = await start(client, queue, req)
        result = await handle.result()
    assert result.status == "completed"
    stored = _bucket_bytes(s3_server, bucket)
    assert len(stored) > 5 * MIB
    plaintext = big_text(4096).encode()
    assert (plaintext in stored) is not encrypted


@pytest.mark.parametrize(
    ("metadata", "failed_call"),
    [
        pytest.param(_big_run_metadata(100), "tool big_text failed", id="tool-output"),
        pytest.param({**FAST, "emu_answer_chars": str(3 * MIB)}, "read failed", id="answer"),
    ],
)
async def test_without_storage_a_big_payload_fails_the_run_at_once(
    client: Client,
    worker_factory: WorkerFactory,
    registry: ToolRegistry,
    metadata: dict[str, Any],
    failed_call: str,
) -> None:
    """No bucket: the payload over Temporal's limit fails the run on its first attempt, with an
    error that names the setting, instead of retries until the deadline."""
    req = request("big", tools=["big_text"], metadata=metadata)
    async with worker_factory(client, registry=registry) as queue:
        handle = await start(client, queue, req)
        with pytest.raises(WorkflowFailureError) as failure:
            await handle.result()
    message = str(failure.value.cause)
    assert failed_call in message
    assert PAYLOADS_TOO_LARGE in message and "DURABLE_RUNS_PAYLOAD_BUCKET" in message
    assert max(await activity_attempts(handle)) == 1
