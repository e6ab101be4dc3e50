"""Idempotent creates, activity by activity: a retried attempt reuses what an earlier one made."""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any

from durable_runs_emulator.server import RunningEmulator
from openai import AsyncOpenAI
from temporalio.testing import ActivityEnvironment

from durable_runs.activities.demo_tools import demo_registry
from durable_runs.activities.responses import ResponsesActivities
from durable_runs.models import Conversation, RunRequest, StartInput
from tests.workflows.helpers import runs_of


async def test_responses_start_retry_reuses_the_heartbeated_response(
    openai_client: AsyncOpenAI, emulator: RunningEmulator
) -> None:
    activities = ResponsesActivities(openai_client, demo_registry())
    workflow_id = f"idem-{uuid.uuid4()}"
    start = StartInput(
        workflow_id=workflow_id,
        step=1,
        request=RunRequest(backend="responses", messages=["What is 2+2?"]),
        conversation=Conversation(),
    )
    heartbeats: list[Any] = []
    first_attempt = ActivityEnvironment()
    first_attempt.on_heartbeat = lambda *details: heartbeats.append(details)
    created = await first_attempt.run(activities.start, start)
    assert heartbeats == [(created.object_id,)]  # recorded the moment the API answered

    # The attempt was lost (worker crash, timeout): Temporal hands the next attempt its details.
    retry = ActivityEnvironment()
    retry.info = dataclasses.replace(retry.info, attempt=2, heartbeat_details=[created.object_id])
    reused = await retry.run(activities.start, start)

    assert reused.object_id == created.object_id
    assert [r["id"] for r in await runs_of(emulator, workflow_id)] == [created.object_id]
