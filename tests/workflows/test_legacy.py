"""Runs started under the former type name, `AssistantRunWorkflow`, complete on today's worker.

Each run here is started as the code before the rename started it: by that type name, with the
very input a recorded run of that code had (`tests/histories/AssistantRunWorkflow/`). One of
them continues as new, so its later runs carry the loop state inside their request
(`progress`), as the old code's did.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

from temporalio.client import Client, WorkflowHandle
from temporalio.contrib.pydantic import pydantic_data_converter

from tests.conftest import WorkerFactory
from tests.histories.record import HISTORIES, load_history

LEGACY_TYPE = "AssistantRunWorkflow"
RECORDED = HISTORIES / LEGACY_TYPE
COMPLETES_WITHIN_S = 30.0
"""Bound on each run (a worker without the former type would leave it waiting forever)."""


def recorded_input(file_name: str) -> dict[str, Any]:
    """The JSON input a run of the old code was started with."""
    started = (
        load_history(RECORDED / file_name).events[0].workflow_execution_started_event_attributes
    )
    assert started.workflow_type.name == LEGACY_TYPE
    (payload,) = started.input.payloads
    value: dict[str, Any] = json.loads(payload.data)
    return value


async def _inputs_of_each_run(client: Client, handle: WorkflowHandle[Any, Any]) -> list[Any]:
    """(workflow type, decoded input) of every run in the chain, first to last."""
    runs = []
    run_id: str | None = handle.first_execution_run_id
    while run_id:
        history = await client.get_workflow_handle(handle.id, run_id=run_id).fetch_history()
        started = history.events[0].workflow_execution_started_event_attributes
        inputs = pydantic_data_converter.payload_converter.from_payloads(started.input.payloads)
        runs.append((started.workflow_type.name, inputs))
        last = history.events[-1]
        run_id = (
            last.workflow_execution_continued_as_new_event_attributes.new_execution_run_id
            if last.HasField("workflow_execution_continued_as_new_event_attributes")
            else None
        )
    return runs


async def test_a_run_started_under_the_former_name_completes(
    client: Client, worker_factory: WorkerFactory
) -> None:
    old_input = recorded_input("assistants_completed.json")
    assert "progress" in old_input and "options" not in old_input  # the old shape
    async with worker_factory(client) as queue:
        handle = await client.start_workflow(
            LEGACY_TYPE, old_input, id=f"legacy-{uuid.uuid4()}", task_queue=queue
        )
        result = await asyncio.wait_for(handle.result(), COMPLETES_WITHIN_S)
    assert result["status"] == "completed"
    assert result["answer"] == "4"


async def test_a_former_run_continues_as_new_under_its_name_and_completes(
    client: Client, worker_factory: WorkerFactory
) -> None:
    old_input = recorded_input("assistants_continue_as_new.run1.json")
    # Today a polling run's reads add no history; it continues as new after a poll that
    # returned on a status change once the checks reach the bound: make that the first one.
    old_input["poll"]["checks_per_history"] = 1
    async with worker_factory(client) as queue:
        handle = await client.start_workflow(
            LEGACY_TYPE, old_input, id=f"legacy-{uuid.uuid4()}", task_queue=queue
        )
        result = await asyncio.wait_for(handle.result(), COMPLETES_WITHIN_S)
    assert result["status"] == "completed"
    assert result["answer"] == "4"
    runs = await _inputs_of_each_run(client, handle)
    assert len(runs) >= 2
    assert {type_name for type_name, _ in runs} == {LEGACY_TYPE}
    for _, inputs in runs[1:]:
        # One argument, the old request shape, with the carried state inside it.
        (request,) = inputs
        assert request["progress"]["checks"] > 0
