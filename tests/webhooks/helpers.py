"""Helpers for webhook tests: bounded waits, signed deliveries, and what the workflow received."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
from durable_runs_emulator.server import RunningEmulator
from standardwebhooks import Webhook
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHandle

from durable_runs.bridge.server import RunningBridge
from durable_runs.models import PollPolicy, RunEvent, RunRequest, RunResult
from durable_runs.settings import Settings
from durable_runs.workflows.run import RunWorkflow

WEATHER = "What is the weather in Paris and Tokyo, in Fahrenheit?"
WEATHER_TOOLS = ["get_weather", "celsius_to_fahrenheit"]

SAFETY_POLL_S = 120.0
"""A safety poll far longer than any test here: only events can finish such a run in time."""

WEBHOOKS_ONLY = PollPolicy(
    webhooks=True, safety_poll_s=SAFETY_POLL_S, initial_interval_s=SAFETY_POLL_S, deadline_s=300
)
"""Webhook mode where the timer never fires during a test."""

SAFETY_POLL_1S = PollPolicy(webhooks=True, safety_poll_s=1.0, initial_interval_s=1.0, deadline_s=60)
"""Webhook mode with a 1 s safety poll: what finishes a run whose events are lost."""

RESULT_TIMEOUT_S = 30.0
"""Bound on any one workflow result here (far below the 120 s safety poll)."""


def reading_from(settings: Settings, emulator: RunningEmulator) -> Settings:
    """Bridge settings that read the responses events name from `emulator`."""
    return settings.model_copy(update={"openai_base_url": emulator.base_url})


def new_secret() -> str:
    """A fresh `whsec_` secret."""
    return "whsec_" + base64.b64encode(os.urandom(32)).decode()


def request(
    question: str = "What is 2+2?",
    *,
    backend: str,
    poll: PollPolicy = WEBHOOKS_ONLY,
    webhook_faults: str | None = None,
    **overrides: Any,
) -> RunRequest:
    """A webhook-mode request; `webhook_faults` becomes the run's `emu_webhook` knob."""
    metadata: dict[str, str] = dict(overrides.pop("metadata", {}))
    if webhook_faults:
        metadata["emu_webhook"] = webhook_faults
    return RunRequest(
        backend=backend,
        messages=[question],
        poll=poll,
        metadata=metadata,
        **overrides,
    )


async def start(
    client: Client, queue: str, req: RunRequest
) -> WorkflowHandle[RunWorkflow, RunResult]:
    """Start `RunWorkflow` on `queue` with a fresh id."""
    return await client.start_workflow(
        RunWorkflow.run, req, id=f"wh-{uuid.uuid4()}", task_queue=queue
    )


async def result_of(handle: WorkflowHandle[RunWorkflow, RunResult]) -> RunResult:
    """The workflow's result, bounded well below the safety poll."""
    async with asyncio.timeout(RESULT_TIMEOUT_S):
        return await handle.result(rpc_timeout=None)


async def objects_of(emulator: RunningEmulator, workflow_id: str) -> list[dict[str, Any]]:
    """The emulator's stats of every run/response created for a workflow, in creation order."""
    stats = await emulator.stats()
    ids = [
        *stats["runs_by_workflow"].get(workflow_id, []),
        *stats.get("responses_by_workflow", {}).get(workflow_id, []),
    ]
    objects = {**stats["runs"], **stats.get("responses", {})}
    return [{"id": i, **objects[i]} for i in ids]


def retrieves(record: dict[str, Any]) -> int:
    """Status reads the emulator served for one run/response."""
    calls: dict[str, int] = record.get("calls", {})
    return calls.get("retrieve_run", 0) + calls.get("retrieve_response", 0)


async def received_events(handle: WorkflowHandle[Any, Any]) -> list[RunEvent]:
    """Every `run_event` signal in the workflow's history, in the order it was received."""
    history = await handle.fetch_history()
    events: list[RunEvent] = []
    for event in history.events:
        if event.event_type != EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
            continue
        attrs = event.workflow_execution_signaled_event_attributes
        assert attrs.signal_name == "run_event"
        payload = attrs.input.payloads[0]
        events.append(RunEvent.model_validate_json(payload.data))
    return events


async def bridge_health(bridge: RunningBridge) -> dict[str, int]:
    """The bridge's counters (`GET /healthz`)."""
    async with httpx.AsyncClient() as http:
        response = await http.get(bridge.health_url)
        response.raise_for_status()
        body: dict[str, Any] = response.json()
    return {k: v for k, v in body.items() if isinstance(v, int)}


def signed_delivery(
    secret: str, event_type: str, data: dict[str, Any], *, webhook_id: str | None = None
) -> tuple[bytes, dict[str, str]]:
    """One webhook delivery (body and headers), signed by the `standardwebhooks` library."""
    body = json.dumps(
        {
            "id": f"evt_{uuid.uuid4().hex}",
            "object": "event",
            "created_at": int(time.time()),
            "type": event_type,
            "data": data,
        }
    )
    msg_id = webhook_id or f"wh_{uuid.uuid4().hex}"
    now = datetime.now(tz=UTC)
    headers = {
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Webhook(secret).sign(msg_id, now, body),
    }
    return body.encode(), headers
