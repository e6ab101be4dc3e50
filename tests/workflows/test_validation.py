"""Bad input ends within seconds with a message naming it, however the run was started.

Every field of `RunRequest` and `PollPolicy` gets invalid values. Through the client API the
request is refused before anything starts; started raw (a plain JSON dict, as the Temporal CLI
would, bypassing the client), the workflow fails at once instead of staying RUNNING with a
workflow task that fails the same way forever. Permanent errors from the worker's side (an
unknown tool, a model the API refuses) fail the run on their first attempt.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from pydantic import ValidationError
from temporalio.client import Client, WorkflowFailureError, WorkflowHandle
from temporalio.service import RPCError, RPCStatusCode

from durable_runs.activities.tools import ToolRegistry
from durable_runs.client import InvalidRequestError, run, start_run
from durable_runs.models import MAX_USER_METADATA_KEYS, AssistantSpec, PollPolicy, RunRequest
from durable_runs.options import ActivityOptions
from tests.conftest import WorkerFactory
from tests.workflows.helpers import FAST_POLL, activity_attempts, request, start

FAILS_WITHIN_S = 20.0
"""Bound on a bad run's end (each ends in its first workflow task or first activity attempt)."""

VALID: dict[str, Any] = {"messages": ["What is 2+2?"]}
"""A valid request as raw JSON; each case changes one field of it."""

CASES: list[tuple[str, dict[str, Any]]] = [
    ("backend", {"backend": "bogus"}),
    ("backend", {"backend": None}),
    ("messages", {"messages": []}),
    ("messages", {"messages": [], "thread_id": "thread_1"}),  # a thread is Assistants only
    ("messages", {"messages": "What is 2+2?"}),
    ("messages.0", {"messages": [""]}),
    ("assistant_id", {"backend": "assistants", "assistant_id": ""}),
    ("assistant.model", {"assistant": {"model": ""}}),
    ("assistant.modl", {"assistant": {"modl": "gpt-4o-mini"}}),
    ("thread_id", {"backend": "assistants", "thread_id": ""}),
    ("previous_response_id", {"previous_response_id": ""}),
    ("approval.on_no_decision", {"approval": {"on_no_decision": "maybe"}}),
    ("approval.decide_within_s", {"approval": {"decide_within_s": 0}}),
    ("previous_response_id", {"backend": "assistants", "previous_response_id": "resp_1"}),
    ("model", {"model": ""}),
    ("model", {"model": 4}),
    ("instructions", {"instructions": ["be brief"]}),
    ("tools", {"tools": "get_weather"}),
    ("tools", {"tools": ["get_weather", "get_weather"]}),
    ("tools.0", {"tools": ["get weather"]}),
    ("tools.0", {"tools": ["x" * 65]}),
    ("poll", {"poll": 5}),
    ("poll.initial_interval_s", {"poll": {"initial_interval_s": 0}}),
    ("poll.initial_interval_s", {"poll": {"initial_interval_s": -1}}),
    ("poll.backoff", {"poll": {"backoff": 0.5}}),
    ("poll.max_interval_s", {"poll": {"max_interval_s": 0}}),
    ("poll.deadline_s", {"poll": {"deadline_s": 0}}),
    ("poll.deadline_s", {"poll": {"deadline_s": -600}}),
    ("poll.deadline_s", {"poll": {"deadline_s": "Infinity"}}),
    ("poll.deadline_s", {"poll": {"deadline_s": "soon"}}),
    ("poll.webhooks", {"poll": {"webhooks": "maybe"}}),
    ("poll.safety_poll_s", {"poll": {"safety_poll_s": 0}}),
    ("poll.safety_poll_backoff", {"poll": {"safety_poll_backoff": 0.5}}),
    ("poll.safety_poll_max_s", {"poll": {"safety_poll_max_s": -1}}),
    ("poll.checks_per_history", {"poll": {"checks_per_history": 0}}),
    ("poll.deadline", {"poll": {"deadline": 60}}),
    ("on_expired", {"on_expired": "retry"}),
    ("max_restarts", {"max_restarts": -1}),
    ("metadata", {"metadata": {f"k{i}": "v" for i in range(MAX_USER_METADATA_KEYS + 1)}}),
    ("metadata", {"metadata": {"temporal_workflow_id": "someone-else"}}),
    ("metadata", {"metadata": {"durable_runs_step": "1"}}),
    ("metadata", {"metadata": {"k" * 65: "v"}}),
    ("metadata", {"metadata": {"note": "v" * 513}}),
    ("metadata.note", {"metadata": {"note": 1}}),
    ("options", {"options": 5}),
    ("options.api_call_timeout", {"options": {"api_call_timeout": 0}}),
    ("options.api_retry_initial_interval", {"options": {"api_retry_initial_interval": -1}}),
    ("options.api_retry_maximum_interval", {"options": {"api_retry_initial_interval": 60}}),
    ("options.cancel_budget", {"options": {"cancel_budget": "soon"}}),
    ("options.tool_timeout", {"options": {"tool_timeout": 0}}),
    ("options.tool_heartbeat_timeout", {"options": {"tool_heartbeat_timeout": -5}}),
    ("options.tool_max_attempts", {"options": {"tool_max_attempts": -1}}),
    ("options.priorities.cancel", {"options": {"priorities": {"cancel": 9}}}),
    ("options.priorities.red", {"options": {"priorities": {"red": 1}}}),
    ("options.timeout", {"options": {"timeout": 5}}),
    ("backnd", {"backnd": "responses"}),
    ("progress", {"progress": {"step": 1}}),  # the workflow's own state: not part of a request
]
"""(the field the message must name, the change to `VALID`) for every field of the request."""

IDS = [f"{field}-{i}" for i, (field, _) in enumerate(CASES)]
UNKNOWN_FIELDS = {"backnd", "progress"}
"""Cases that add a field `RunRequest` does not have."""


def _raw(change: dict[str, Any]) -> dict[str, Any]:
    return {**VALID, **change}


def test_every_field_of_the_request_has_an_invalid_case() -> None:
    named = {field.split(".")[0] for field, _ in CASES}
    assert set(RunRequest.model_fields) <= named
    polled = {field.split(".")[1] for field, _ in CASES if field.startswith("poll.")}
    assert set(PollPolicy.model_fields) <= polled
    optioned = {field.split(".")[1] for field, _ in CASES if field.startswith("options.")}
    assert set(ActivityOptions.model_fields) <= optioned


@pytest.mark.parametrize(("field", "change"), CASES, ids=IDS)
def test_building_an_invalid_request_names_the_field(field: str, change: dict[str, Any]) -> None:
    with pytest.raises(ValidationError) as refused:
        RunRequest.model_validate(_raw(change))
    assert field in str(refused.value)


async def _never_started(client: Client, workflow_id: str) -> None:
    with pytest.raises(RPCError) as missing:
        await client.get_workflow_handle(workflow_id).describe()
    assert missing.value.status == RPCStatusCode.NOT_FOUND


async def test_the_client_refuses_every_invalid_field_before_it_starts_anything(
    client: Client,
) -> None:
    """`start_run` re-checks a request: one built unchecked (or changed since) is refused too."""
    queue = f"unstarted-{uuid.uuid4()}"
    for field, change in CASES:
        if field in UNKNOWN_FIELDS:  # model_construct drops them; building refused them above
            continue
        unchecked = RunRequest.model_construct(**_raw(change))
        workflow_id = f"refused-{uuid.uuid4()}"
        with pytest.raises(InvalidRequestError) as refused:
            await start_run(client, unchecked, workflow_id=workflow_id, task_queue=queue)
        assert field in str(refused.value), (field, str(refused.value))
        assert "\n" not in str(refused.value)
        await _never_started(client, workflow_id)


async def test_the_client_refuses_unknown_tools_against_the_registry(
    client: Client, tools: ToolRegistry
) -> None:
    workflow_id = f"refused-{uuid.uuid4()}"
    req = request(tools=["get_weather", "nope"])
    with pytest.raises(InvalidRequestError) as refused:
        await run(client, req, workflow_id=workflow_id, task_queue="unused", tools=tools)
    assert "unknown tool nope" in str(refused.value)
    assert "get_weather" in str(refused.value)  # the registered names, as a hint
    await _never_started(client, workflow_id)


async def _fails_at_once(handle: WorkflowHandle[Any, Any]) -> str:
    """The failure message of a run that must fail within `FAILS_WITHIN_S`."""
    with pytest.raises(WorkflowFailureError) as failed:
        await asyncio.wait_for(handle.result(), FAILS_WITHIN_S)
    return str(failed.value.cause)


async def test_a_raw_start_with_an_invalid_field_fails_at_once_naming_it(
    client: Client, worker_factory: WorkerFactory
) -> None:
    """Started as plain JSON, bypassing the client: the workflow fails, it does not hang."""
    async with worker_factory(client) as queue:
        handles = [
            await client.start_workflow(
                "RunWorkflow", _raw(change), id=f"raw-{uuid.uuid4()}", task_queue=queue
            )
            for _, change in CASES
        ]
        messages = await asyncio.gather(*(_fails_at_once(h) for h in handles))
    for (field, _), message in zip(CASES, messages, strict=True):
        assert field in message, (field, message)


async def test_a_raw_start_with_a_valid_request_still_runs(
    client: Client, worker_factory: WorkerFactory
) -> None:
    """The control for the case above: the same raw path with a valid body completes."""
    async with worker_factory(client) as queue:
        handle = await client.start_workflow(
            "RunWorkflow",
            {**VALID, "poll": FAST_POLL.model_dump()},
            id=f"raw-{uuid.uuid4()}",
            task_queue=queue,
        )
        result = await asyncio.wait_for(handle.result(), FAILS_WITHIN_S)
    assert result["status"] == "completed"
    assert result["backend"] == "responses"  # the default


@pytest.mark.parametrize("backend", ["responses", "assistants"])
async def test_an_unknown_tool_fails_the_run_on_its_first_attempt(
    client: Client, worker_factory: WorkerFactory, backend: str
) -> None:
    """Not checked by the starter: the worker's create fails non-retryable, not until the
    deadline."""
    async with worker_factory(client) as queue:
        handle = await start(client, queue, request(backend=backend, tools=["nope"]))
        message = await _fails_at_once(handle)
    assert "unknown tool nope" in message
    attempts = await activity_attempts(handle)
    assert attempts and all(attempt == 1 for attempt in attempts), attempts


@pytest.mark.parametrize("backend", ["responses", "assistants"])
async def test_a_model_the_api_refuses_fails_the_run_on_its_first_attempt(
    client: Client, worker_factory: WorkerFactory, backend: str
) -> None:
    """The emulator answers 400 `model_not_found`, as the API does: no retry can fix that."""
    fields: dict[str, Any] = (
        {"model": "gpt-nope"}
        if backend == "responses"
        else {"assistant": AssistantSpec(model="gpt-nope")}
    )
    async with worker_factory(client) as queue:
        handle = await start(client, queue, request(backend=backend, **fields))
        message = await _fails_at_once(handle)
    assert "400" in message and "gpt-nope" in message, message
    attempts = await activity_attempts(handle)
    assert attempts and all(attempt == 1 for attempt in attempts), attempts
