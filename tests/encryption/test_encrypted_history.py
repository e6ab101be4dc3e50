"""With `DURABLE_RUNS_CODEC_KEYS` set, Temporal holds no prompt, tool output, answer or error text.

A real run and a failing run go through the dev server and the emulator with a worker whose
client encrypts (`durable_runs.payloads.data_converter`). A client WITHOUT the codec then reads
everything Temporal serves about them: the raw history events, describe (user metadata, memo,
search attributes, pending activities), the visibility row, and the raw answers of the `status`
query and of the UI's metadata query. None of the secrets may appear in those bytes. The same
check on the same runs with encryption off finds each secret, so it cannot pass vacuously.
"""

from __future__ import annotations

import base64
import json
import os
import uuid

import pytest
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.query.v1 import WorkflowQuery
from temporalio.api.workflowservice.v1 import QueryWorkflowRequest
from temporalio.client import Client, WorkflowFailureError

from durable_runs import client as api
from durable_runs.activities.tools import ToolRegistry
from durable_runs.codec_keys import parse_codec_keys
from durable_runs.models import RunRequest
from durable_runs.payloads import data_converter
from durable_runs.settings import Settings
from tests.conftest import WorkerFactory
from tests.workflows.helpers import FAST_POLL

UI_METADATA_QUERY = "__temporal_workflow_metadata"
"""The built-in query the Temporal UI sends for a workflow's current details."""


def encrypting_client(client: Client) -> Client:
    """A client of the same server whose data converter encrypts (a fresh random key)."""
    key = base64.b64encode(os.urandom(32)).decode()
    settings = Settings(codec_keys=parse_codec_keys(f"test-key:{key}"))
    return Client(
        client.service_client, namespace=client.namespace, data_converter=data_converter(settings)
    )


async def _raw_query(plain: Client, workflow_id: str, query_type: str) -> bytes:
    response = await plain.workflow_service.query_workflow(
        QueryWorkflowRequest(
            namespace=plain.namespace,
            execution=WorkflowExecution(workflow_id=workflow_id),
            query=WorkflowQuery(query_type=query_type),
        )
    )
    return response.SerializeToString()


async def exposed_bytes(plain: Client, workflow_id: str) -> bytes:
    """Everything Temporal serves about a workflow to a client without the codec, as protobuf
    bytes (payload data appears there as it is stored, not base64 as in JSON)."""
    handle = plain.get_workflow_handle(workflow_id)
    history = await handle.fetch_history()
    parts = [event.SerializeToString() for event in history.events]
    parts.append((await handle.describe()).raw_description.SerializeToString())
    async for row in plain.list_workflows(f'WorkflowId = "{workflow_id}"'):
        parts.append(row.raw_info.SerializeToString())
    parts.append(await _raw_query(plain, workflow_id, "status"))
    parts.append(await _raw_query(plain, workflow_id, UI_METADATA_QUERY))
    return b"\n".join(parts)


def plaintexts_in(blob: bytes, secrets: list[str]) -> list[str]:
    """The secrets that appear in `blob` as UTF-8 (what a reader of Temporal's data would see)."""
    return [secret for secret in secrets if secret.encode() in blob]


@pytest.mark.parametrize("encrypted", [True, False], ids=["encrypted", "plain-fault-planted"])
async def test_temporal_holds_no_prompt_tool_output_answer_or_error(
    client: Client, worker_factory: WorkerFactory, encrypted: bool
) -> None:
    mark = uuid.uuid4().hex[:8]
    prompt = f"Ask the vault about heron {mark}"
    tool_output = f"vault-secret-{mark}"
    error_text = f"vault jammed on heron-{mark}"

    def vault(code: str) -> str:
        """Read the vault (returns its secret)."""
        return f"{tool_output} for {code}"

    def broken_vault(code: str) -> str:
        """Read the broken vault (always fails, quoting private data)."""
        raise RuntimeError(f"{error_text} ({code})")

    registry = ToolRegistry()
    registry.register(vault)
    registry.register(broken_vault, fatal=True)
    runner = encrypting_client(client) if encrypted else client

    def ask(tool: str) -> RunRequest:
        plan = [[{"name": tool, "arguments": {"code": f"c-{mark}"}}]]
        return RunRequest(
            messages=[prompt],
            tools=[tool],
            metadata={"emu_tool_plan": json.dumps(plan)},
            poll=FAST_POLL,
        )

    async with worker_factory(runner, registry=registry) as queue:
        answered = await api.start_run(runner, ask("vault"), task_queue=queue)
        result = await answered.result()
        assert result.status == "completed", result
        assert tool_output in result.answer  # the codec's client reads everything back
        failing = await api.start_run(runner, ask("broken_vault"), task_queue=queue)
        with pytest.raises(WorkflowFailureError) as failure:
            await failing.result()
        assert error_text in str(failure.value.cause)  # the encoded message decodes back
        blobs = {wid: await exposed_bytes(client, wid) for wid in (answered.id, failing.id)}

    secrets = [prompt, tool_output, result.answer]
    found_answered = plaintexts_in(blobs[answered.id], secrets)
    found_failing = plaintexts_in(blobs[failing.id], [prompt, error_text])
    if encrypted:
        assert found_answered == [] and found_failing == []
        assert all(b"binary/encrypted" in blob for blob in blobs.values())
        assert b"Encoded failure" in blobs[failing.id]  # the message moved into the payload
    else:  # the check finds every secret when they are stored in plain text
        assert found_answered == secrets
        assert found_failing == [prompt, error_text]
