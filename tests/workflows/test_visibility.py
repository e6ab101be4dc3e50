"""Search attributes: what a run writes to visibility, and how little (each upsert is a write)."""

from __future__ import annotations

import uuid

from temporalio.client import Client

from durable_runs import search_attributes as sa
from durable_runs.client import start_run
from durable_runs.workflows.run import POLL_ON_RETRIES_PATCH
from tests.conftest import WorkerFactory
from tests.workflows.helpers import request, start

CHANGE_VERSION = "TemporalChangeVersion"
"""The attribute the SDK upserts with a patch marker."""


async def _upserts(client: Client, workflow_id: str) -> list[dict[str, bytes]]:
    """Each upsert of our attributes in the run's history: attribute name → encoded value.

    The run's one patch marker (`poll-on-retries`, asked once at its start) comes with the
    SDK's own upsert of `TemporalChangeVersion`, checked here and left out of the result.
    """
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    upserts: list[dict[str, bytes]] = []
    for event in history.events:
        if event.HasField("upsert_workflow_search_attributes_event_attributes"):
            fields = event.upsert_workflow_search_attributes_event_attributes.search_attributes
            upserts.append({name: p.data for name, p in fields.indexed_fields.items()})
    versions = [u for u in upserts if CHANGE_VERSION in u]
    assert len(versions) == 1 and set(versions[0]) == {CHANGE_VERSION}, versions
    assert POLL_ON_RETRIES_PATCH.encode() in versions[0][CHANGE_VERSION]
    return [u for u in upserts if CHANGE_VERSION not in u]


async def test_a_run_started_by_start_run_upserts_only_what_it_learns(
    client: Client, worker_factory: WorkerFactory
) -> None:
    async with worker_factory(client) as queue:
        handle = await start_run(
            client,
            request(backend="assistants"),
            workflow_id=f"run-{uuid.uuid4()}",
            task_queue=queue,
        )
        result = await handle.result()
        description = await handle.describe()
    assert result.status == "completed"
    attributes = description.typed_search_attributes
    assert attributes.get(sa.OPENAI_BACKEND) == "assistants"
    assert attributes.get(sa.OPENAI_RUN_STATUS) == "completed"
    assert attributes.get(sa.OPENAI_RUN_ID) == result.run_id
    upserts = await _upserts(client, handle.id)
    # Backend and "starting" came with the start; the ids with the first status.
    assert set(upserts[0]) == {
        sa.OPENAI_RUN_ID.name,
        sa.OPENAI_THREAD_ID.name,
        sa.OPENAI_ASSISTANT_ID.name,
        sa.OPENAI_RUN_STATUS.name,
    }
    # Then one per status change, none for a check that saw the same status again.
    assert all(set(upsert) == {sa.OPENAI_RUN_STATUS.name} for upsert in upserts[1:])
    statuses = [upsert[sa.OPENAI_RUN_STATUS.name] for upsert in upserts]
    assert all(a != b for a, b in zip(statuses, statuses[1:], strict=False)), statuses
    assert statuses[-1] == b'"completed"'


async def test_a_run_started_without_attributes_sets_them_itself(
    client: Client, worker_factory: WorkerFactory
) -> None:
    async with worker_factory(client) as queue:
        handle = await start(client, queue, request())
        await handle.result()
    upserts = await _upserts(client, handle.id)
    assert upserts[0] == {
        sa.OPENAI_BACKEND.name: b'"responses"',
        sa.OPENAI_RUN_STATUS.name: b'"starting"',
    }
