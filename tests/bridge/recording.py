"""A recording workflow and HTTP helpers for the bridge tests.

The recording workflow answers to the same `run_event` signal as `RunWorkflow` and does
not dedup, so every signal the bridge sends is seen.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from temporalio import workflow
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHandle

from durable_runs.bridge.server import RunningBridge
from durable_runs.models import RunEvent
from durable_runs.search_attributes import OPENAI_RUN_ID
from durable_runs.settings import Settings
from tests.bridge.signing import new_secret
from tests.conftest import TEST_API_KEY
from tests.waiting import wait_for

SECRET = new_secret()
OLD_SECRET = new_secret()
UNUSED_API_URL = "http://127.0.0.1:9/v1"
"""For bridges whose tests send no response event (nothing listens on the discard port)."""


@workflow.defn(sandboxed=False)
class RecordingWorkflow:
    """Records every `run_event` it gets; upserts `OpenAIRunId` when given one."""

    def __init__(self) -> None:
        self._events: list[RunEvent] = []
        self._done = False

    @workflow.run
    async def run(self, run_id: str | None) -> None:
        if run_id:
            workflow.upsert_search_attributes([OPENAI_RUN_ID.value_set(run_id)])
        await workflow.wait_condition(lambda: self._done)

    @workflow.signal
    def run_event(self, event: RunEvent) -> None:
        self._events.append(event)

    @workflow.signal
    def finish(self) -> None:
        self._done = True

    @workflow.query
    def events(self) -> list[RunEvent]:
        return self._events


def settings_for(
    address: str,
    *,
    api_url: str = UNUSED_API_URL,
    routing: str = "retrieve",
    previous: str = OLD_SECRET,
) -> Settings:
    """Bridge settings: our secrets, a Temporal address, an API to read from, a routing."""
    return Settings(
        OPENAI_WEBHOOK_SECRET=SECRET,
        OPENAI_WEBHOOK_SECRETS_PREVIOUS=previous,
        TEMPORAL_ADDRESS=address,
        TEMPORAL_NAMESPACE="default",
        OPENAI_API_KEY=TEST_API_KEY,
        OPENAI_BASE_URL=api_url,
        DURABLE_RUNS_BRIDGE_ROUTING=routing,
    )


def address_of(client: Client) -> str:
    """The client's server address."""
    return client.service_client.config.target_host


async def recorder(
    client: Client, queue: str, *, run_id: str | None = None
) -> WorkflowHandle[RecordingWorkflow, None]:
    """Start a recording workflow (upserting `OpenAIRunId = run_id` when given)."""
    return await client.start_workflow(
        RecordingWorkflow.run, run_id, id=f"rec-{uuid.uuid4()}", task_queue=queue
    )


async def signals_in_history(handle: WorkflowHandle[Any, Any], name: str = "run_event") -> int:
    """How many `name` signals the workflow's history holds."""
    history = await handle.fetch_history()
    return sum(
        1
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED
        and e.workflow_execution_signaled_event_attributes.signal_name == name
    )


async def events_of(handle: WorkflowHandle[RecordingWorkflow, None], n: int) -> list[RunEvent]:
    """The recorded events once there are `n` (bounded wait)."""

    async def recorded() -> list[RunEvent] | None:
        events = await handle.query(RecordingWorkflow.events)
        return events if len(events) >= n else None

    return await wait_for(recorded, within=10, what=f"{n} recorded events")


async def post(
    http: httpx.AsyncClient, url: str, body: str, headers: dict[str, str]
) -> httpx.Response:
    """POST a delivery."""
    return await http.post(url, content=body.encode(), headers=headers)


async def counters(http: httpx.AsyncClient, bridge: RunningBridge) -> dict[str, Any]:
    """The bridge's `/healthz`."""
    response = await http.get(bridge.health_url)
    assert response.status_code == 200
    data: dict[str, Any] = response.json()
    return data
