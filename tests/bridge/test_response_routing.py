"""Id-only `response.*` events: how the bridge finds their workflow, and what each way costs.

The default routing (`retrieve`) reads the response from the API (the emulator, over HTTP) and
signals the workflow its metadata names, with the read as the event's snapshot. The alternative
(`visibility`) makes one list call on the `OpenAIRunId` search attribute. Costs are checked on the
bridge's own counters (`api_reads`, `temporal_calls`) and, for reads, on the emulator's.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from durable_runs_emulator.server import RunningEmulator
from openai import AsyncOpenAI
from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from durable_runs.bridge.app import create_app
from durable_runs.bridge.server import RunningBridge, running_bridge
from durable_runs.devserver import start_dev_environment
from durable_runs.models import WORKFLOW_ID_METADATA_KEY
from durable_runs.search_attributes import OPENAI_RUN_ID
from tests.bridge.recording import (
    SECRET,
    RecordingWorkflow,
    address_of,
    counters,
    events_of,
    post,
    recorder,
    settings_for,
    signals_in_history,
)
from tests.bridge.signing import event_body, signed_headers
from tests.waiting import wait_for


@pytest.fixture(scope="module")
async def visibility_bridge(
    temporal_env: WorkflowEnvironment, emulator: RunningEmulator
) -> AsyncIterator[RunningBridge]:
    """A bridge with the measured alternative, `DURABLE_RUNS_BRIDGE_ROUTING=visibility`."""
    settings = settings_for(
        address_of(temporal_env.client), api_url=emulator.base_url, routing="visibility"
    )
    async with running_bridge(settings) as running:
        yield running


async def new_response(
    openai: AsyncOpenAI, emulator: RunningEmulator, *, owner: str | None, **knobs: str
) -> str:
    """A background response (owned by workflow `owner`, if given), waited until completed."""
    metadata = {WORKFLOW_ID_METADATA_KEY: owner} if owner else {}
    response = await openai.responses.create(
        model="gpt-4o-mini",
        input="What is 2+2?",
        background=True,
        metadata={**metadata, "emu_queued_ms": "0", "emu_duration_ms": "0", **knobs},
    )

    async def completed() -> bool:
        record = (await emulator.stats())["responses"][response.id]
        return "completed" in record["status_times"]

    await wait_for(completed, what=f"{response.id} completed")
    return response.id


async def api_reads_of(emulator: RunningEmulator, response_id: str) -> int:
    """Retrieves the emulator served for one response."""
    calls: dict[str, int] = (await emulator.stats())["responses"][response_id]["calls"]
    return calls.get("retrieve_response", 0)


def delivery(response_id: str) -> tuple[str, dict[str, str]]:
    """A signed `response.completed` carrying only the id, as OpenAI sends it."""
    body = event_body("response.completed", {"id": response_id})
    return body, signed_headers(SECRET, body)


def spent(before: dict[str, Any], after: dict[str, Any]) -> tuple[int, int]:
    """(API reads, Temporal calls) made between two `/healthz` readings."""
    return (
        after["api_reads"] - before["api_reads"],
        after["temporal_calls"] - before["temporal_calls"],
    )


# --- retrieve (the default) ------------------------------------------------------------------


async def test_stranger_is_answered_2xx_with_zero_temporal_calls(
    bridge: RunningBridge,
    http: httpx.AsyncClient,
    openai_client: AsyncOpenAI,
    emulator: RunningEmulator,
) -> None:
    stranger = await new_response(openai_client, emulator, owner=None)
    before = await counters(http, bridge)

    response = await post(http, bridge.url, *delivery(stranger))

    assert (response.status_code, response.json()["status"]) == (200, "not_ours")
    after = await counters(http, bridge)
    assert spent(before, after) == (1, 0)
    assert after["not_ours"] == before["not_ours"] + 1
    assert await api_reads_of(emulator, stranger) == 1


async def test_our_response_is_signalled_with_the_retrieved_snapshot(
    client: Client,
    queue: str,
    bridge: RunningBridge,
    http: httpx.AsyncClient,
    openai_client: AsyncOpenAI,
    emulator: RunningEmulator,
) -> None:
    handle = await recorder(client, queue)  # never indexed: retrieve does not use the index
    response_id = await new_response(openai_client, emulator, owner=handle.id)
    before = await counters(http, bridge)
    body, headers = delivery(response_id)

    response = await post(http, bridge.url, body, headers)

    assert response.status_code == 200, response.text
    assert response.json() == {
        "status": "signalled",
        "event_type": "response.completed",
        "workflow_id": handle.id,
    }
    [event] = await events_of(handle, 1)
    assert (event.event_id, event.type, event.object_id) == (
        headers["webhook-id"],
        "response.completed",
        response_id,
    )
    assert event.snapshot is not None
    assert (event.snapshot.object_id, event.snapshot.status) == (response_id, "completed")
    assert event.snapshot.answer == "4"  # the workflow needs no answer read either
    assert spent(before, await counters(http, bridge)) == (1, 1)
    assert await api_reads_of(emulator, response_id) == 1


async def test_poll_after_hint_travels_with_the_snapshot(
    client: Client,
    queue: str,
    bridge: RunningBridge,
    http: httpx.AsyncClient,
    openai_client: AsyncOpenAI,
    emulator: RunningEmulator,
) -> None:
    handle = await recorder(client, queue)
    response_id = await new_response(
        openai_client, emulator, owner=handle.id, emu_poll_after_ms="1500"
    )
    assert (await post(http, bridge.url, *delivery(response_id))).status_code == 200
    [event] = await events_of(handle, 1)
    assert event.snapshot is not None and event.snapshot.poll_after_ms == 1500


async def test_unknown_response_id_is_200_and_costs_no_temporal_call(
    bridge: RunningBridge, http: httpx.AsyncClient
) -> None:
    before = await counters(http, bridge)
    response = await post(http, bridge.url, *delivery(f"resp_{uuid.uuid4().hex}"))
    assert (response.status_code, response.json()["status"]) == (200, "unknown_response")
    after = await counters(http, bridge)
    assert spent(before, after) == (1, 0)
    assert after["unknown_response"] == before["unknown_response"] + 1


async def test_response_of_a_closed_workflow_is_202_after_one_temporal_call(
    client: Client,
    queue: str,
    bridge: RunningBridge,
    http: httpx.AsyncClient,
    openai_client: AsyncOpenAI,
    emulator: RunningEmulator,
) -> None:
    handle = await recorder(client, queue)
    await handle.signal(RecordingWorkflow.finish)
    await handle.result()
    response_id = await new_response(openai_client, emulator, owner=handle.id)
    before = await counters(http, bridge)

    response = await post(http, bridge.url, *delivery(response_id))

    assert (response.status_code, response.json()["status"]) == (202, "unknown_run")
    after = await counters(http, bridge)
    assert spent(before, after) == (1, 1)
    assert after["unknown_run"] == before["unknown_run"] + 1


@pytest.mark.parametrize("knob", ["emu_rate_limit_next", "emu_server_error_next"])
async def test_api_error_is_503_signals_nothing_and_the_retry_delivers(
    knob: str,
    client: Client,
    queue: str,
    bridge: RunningBridge,
    http: httpx.AsyncClient,
    openai_client: AsyncOpenAI,
    emulator: RunningEmulator,
) -> None:
    handle = await recorder(client, queue)
    response_id = await new_response(openai_client, emulator, owner=handle.id, **{knob: "1"})
    body, headers = delivery(response_id)
    before = await counters(http, bridge)

    refused = await post(http, bridge.url, body, headers)

    assert refused.status_code == 503, refused.text
    assert refused.headers["retry-after"]
    after = await counters(http, bridge)
    assert spent(before, after) == (1, 0)
    assert after["api_unavailable"] == before["api_unavailable"] + 1
    assert await signals_in_history(handle) == 0

    retried = await post(http, bridge.url, body, headers)  # the sender's retry

    assert (retried.status_code, retried.json()["status"]) == (200, "signalled")
    [event] = await events_of(handle, 1)
    assert event.snapshot is not None and event.snapshot.status == "completed"


async def test_api_unreachable_is_503(
    temporal_env: WorkflowEnvironment, http: httpx.AsyncClient
) -> None:
    settings = settings_for(address_of(temporal_env.client))  # nothing listens at its API URL
    async with running_bridge(settings) as bridge:
        response = await post(http, bridge.url, *delivery(f"resp_{uuid.uuid4().hex}"))
        health = await counters(http, bridge)
    assert response.status_code == 503
    assert response.headers["retry-after"]
    assert (health["api_unavailable"], health["temporal_calls"]) == (1, 0)


async def test_forged_response_event_is_401_and_reads_nothing(
    client: Client,
    queue: str,
    bridge: RunningBridge,
    http: httpx.AsyncClient,
    openai_client: AsyncOpenAI,
    emulator: RunningEmulator,
) -> None:
    handle = await recorder(client, queue)
    response_id = await new_response(openai_client, emulator, owner=handle.id)
    body, _ = delivery(response_id)
    before = await counters(http, bridge)

    response = await post(http, bridge.url, body, signed_headers(SECRET, body + " "))

    assert response.status_code == 401
    after = await counters(http, bridge)
    assert spent(before, after) == (0, 0)
    assert after["rejected_signature"] == before["rejected_signature"] + 1
    assert await signals_in_history(handle) == 0
    assert await api_reads_of(emulator, response_id) == 0


def test_retrieve_routing_without_a_key_fails_at_start_naming_it(
    temporal_env: WorkflowEnvironment,
) -> None:
    settings = settings_for(address_of(temporal_env.client))
    keyless = settings.model_copy(update={"openai_api_key": None})
    with pytest.raises(ValueError, match="OPENAI_API_KEY"):
        create_app(keyless)
    create_app(keyless.model_copy(update={"bridge_routing": "visibility"}))  # needs no key


# --- visibility (the measured alternative) ---------------------------------------------------


async def test_visibility_finds_an_indexed_run_with_one_list_call(
    client: Client, queue: str, visibility_bridge: RunningBridge, http: httpx.AsyncClient
) -> None:
    response_id = f"resp_{uuid.uuid4().hex}"
    handle = await recorder(client, queue, run_id=response_id)

    async def indexed() -> bool:
        query = f'{OPENAI_RUN_ID.name} = "{response_id}"'
        return any([e async for e in client.list_workflows(query, limit=1)])

    await wait_for(indexed, what="the run in the visibility index")
    before = await counters(http, visibility_bridge)

    response = await post(http, visibility_bridge.url, *delivery(response_id))

    assert response.status_code == 200, response.text
    assert response.json()["workflow_id"] == handle.id
    [event] = await events_of(handle, 1)
    assert (event.object_id, event.snapshot) == (response_id, None)  # the workflow reads it
    assert spent(before, await counters(http, visibility_bridge)) == (0, 2)  # list, signal


async def test_visibility_drops_an_event_for_a_run_the_index_lacks(
    client: Client, queue: str, visibility_bridge: RunningBridge, http: httpx.AsyncClient
) -> None:
    """The alternative's cost: a lagging index and a stranger look the same, and both get 202.

    The run here is never indexed (the worst lag); the retrieve routing signals the same run
    (`test_our_response_is_signalled_with_the_retrieved_snapshot`).
    """
    handle = await recorder(client, queue)
    before = await counters(http, visibility_bridge)

    response = await post(http, visibility_bridge.url, *delivery(f"resp_{uuid.uuid4().hex}"))

    assert (response.status_code, response.json()["status"]) == (202, "unknown_run")
    assert spent(before, await counters(http, visibility_bridge)) == (0, 1)  # no retry loop
    assert await signals_in_history(handle) == 0


async def test_visibility_bridge_registers_missing_search_attributes_at_start() -> None:
    async with await start_dev_environment(search_attributes=()) as env:

        async def custom() -> list[str]:
            listed = await env.client.operator_service.list_search_attributes(
                ListSearchAttributesRequest(namespace=env.client.namespace)
            )
            return list(listed.custom_attributes)

        assert OPENAI_RUN_ID.name not in await custom()
        settings = settings_for(address_of(env.client), routing="visibility")
        async with running_bridge(settings):
            assert OPENAI_RUN_ID.name in await custom()
