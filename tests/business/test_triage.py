"""The ticket triage example end to end: a business workflow with an assistant run as its child."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from durable_runs_emulator.server import RunningEmulator
from openai import AsyncOpenAI
from temporalio.client import Client, WorkflowFailureError, WorkflowHandle
from temporalio.exceptions import CancelledError

from durable_runs.models import PollPolicy
from durable_runs.workflows.triage import (
    AUTO_REPLIES,
    CLASSIFY_CHILD,
    SupportTicketTriageWorkflow,
    Ticket,
    TriageOptions,
    TriageOutcome,
    parse_category,
)
from tests.conftest import WorkerFactory

FAST = TriageOptions(poll=PollPolicy(initial_interval_s=0.1, max_interval_s=0.5, deadline_s=60))


async def _until(check: Callable[[], Awaitable[bool]], *, within: float = 10.0) -> None:
    """Wait (bounded) until `check()` holds."""
    deadline = time.monotonic() + within
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {within}s")
        await asyncio.sleep(0.05)


async def _start(
    client: Client, queue: str, ticket: Ticket
) -> WorkflowHandle[SupportTicketTriageWorkflow, TriageOutcome]:
    return await client.start_workflow(
        SupportTicketTriageWorkflow.run,
        ticket,
        id=f"triage-{ticket.id}-{uuid.uuid4().hex[:8]}",
        task_queue=queue,
    )


async def _runs(emulator: RunningEmulator, workflow_id: str) -> list[dict[str, Any]]:
    stats = await emulator.stats()
    objects = {**stats["runs"], **stats["responses"]}
    ids = stats["runs_by_workflow"].get(workflow_id, [])
    ids += stats["responses_by_workflow"].get(workflow_id, [])
    return [objects[i] for i in ids]


@pytest.mark.parametrize(
    ("email", "text", "category", "tier", "action"),
    [
        (
            "ada@example.com",
            "I was charged twice, please refund one.",
            "billing",
            "premium",
            "escalate",
        ),
        (
            "grace@example.com",
            "My invoice shows the wrong address.",
            "billing",
            "standard",
            "auto_reply",
        ),
        ("ada@example.com", "The app crashes when I export a report.", "bug", None, "auto_reply"),
        ("new@example.org", "How do I change my avatar?", "other", None, "auto_reply"),
    ],
)
async def test_classification_branches(
    client: Client,
    worker_factory: WorkerFactory,
    emulator: RunningEmulator,
    email: str,
    text: str,
    category: str,
    tier: str | None,
    action: str,
) -> None:
    ticket = Ticket(id="T-1", customer_email=email, text=text, options=FAST)
    async with worker_factory(client) as queue:
        handle = await _start(client, queue, ticket)
        outcome = await handle.result()
    assert (outcome.category, outcome.customer_tier, outcome.action) == (category, tier, action)
    assert outcome.ticket_id == "T-1"
    assert outcome.run.status == "completed"
    assert outcome.run.answer == category
    assert outcome.run.tool_rounds == 1  # the assistant looked the customer up
    assert outcome.reply == (AUTO_REPLIES[outcome.category] if action == "auto_reply" else "")


@pytest.mark.parametrize(
    ("backend", "objects"),
    [
        (None, 2),  # the default, Responses: the tool round continued in a follow-up response
        ("assistants", 1),  # the seed's API: one run, its tool outputs submitted to it
    ],
    ids=["responses-by-default", "seeds-assistants-backend"],
)
async def test_classification_on_each_backend(
    client: Client, worker_factory: WorkerFactory, backend: str | None, objects: int
) -> None:
    options = FAST if backend is None else FAST.model_copy(update={"backend": backend})
    ticket = Ticket(
        id="T-2", customer_email="alan@example.com", text="Refund my order", options=options
    )
    async with worker_factory(client) as queue:
        outcome = await (await _start(client, queue, ticket)).result()
    assert (outcome.category, outcome.customer_tier, outcome.action) == (
        "billing",
        "premium",
        "escalate",
    )
    assert outcome.run.backend == (backend or "responses")
    assert (outcome.run.thread_id is not None) == (backend == "assistants")
    assert len(outcome.run.response_ids) == objects


async def test_a_ticket_that_does_not_decode_fails_at_once_naming_the_field(
    client: Client, worker_factory: WorkerFactory
) -> None:
    raw = {"id": "T-5", "customer_email": "x@example.com", "text": "Hi", "options": {"backend": 1}}
    async with worker_factory(client) as queue:
        handle = await client.start_workflow(
            "SupportTicketTriageWorkflow", raw, id=f"triage-raw-{uuid.uuid4()}", task_queue=queue
        )
        with pytest.raises(WorkflowFailureError) as failure:
            await asyncio.wait_for(handle.result(), 20)
    assert "options.backend" in str(failure.value.cause)


async def test_child_id_is_deterministic_and_readable(
    client: Client, worker_factory: WorkerFactory, emulator: RunningEmulator
) -> None:
    ticket = Ticket(id="T-3", customer_email="grace@example.com", text="It errors", options=FAST)
    async with worker_factory(client) as queue:
        handle = await _start(client, queue, ticket)
        outcome = await handle.result()
    child_id = f"{handle.id}/{CLASSIFY_CHILD}"
    child = await client.get_workflow_handle(child_id).describe()
    assert child.parent_id == handle.id
    assert child.workflow_type == "RunWorkflow"
    summary = await child.static_summary()
    assert summary is not None and summary.startswith("classify · responses · Ticket T-3")
    responses = await _runs(emulator, child_id)  # the first, and its tool round's follow-up
    assert len(responses) == 2
    for response in responses:
        assert response["metadata"]["temporal_workflow_id"] == child_id
        assert response["metadata"]["ticket_id"] == "T-3"
    assert outcome.run.run_id == responses[-1]["id"]


# The SDK marks the Assistants API deprecated (it is, upstream); the test needs one assistant.
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
async def test_parent_cancellation_cancels_the_childs_run_at_the_api(
    client: Client,
    worker_factory: WorkerFactory,
    emulator: RunningEmulator,
    openai_client: AsyncOpenAI,
) -> None:
    # The assistant's metadata makes every run of it stay queued until cancelled.
    assistant = await openai_client.beta.assistants.create(
        model="gpt-4o-mini", metadata={"emu_outcome": "stay_queued"}
    )
    options = FAST.model_copy(update={"backend": "assistants", "assistant_id": assistant.id})
    ticket = Ticket(id="T-4", customer_email="ada@example.com", text="Refund!", options=options)
    async with worker_factory(client) as queue:
        handle = await _start(client, queue, ticket)
        child_id = f"{handle.id}/{CLASSIFY_CHILD}"

        async def run_exists() -> bool:
            return bool(await _runs(emulator, child_id))

        await _until(run_exists)
        await handle.cancel()
        with pytest.raises(WorkflowFailureError) as failure:
            await handle.result()
        assert isinstance(failure.value.cause, CancelledError)
        # WAIT_CANCELLATION_COMPLETED: the cancel reached the API before the parent ended.
        (run,) = await _runs(emulator, child_id)
        assert run["calls"].get("cancel_run") == 1
        assert "cancelling" in run["status_times"]

    async def run_cancelled() -> bool:
        (record,) = await _runs(emulator, child_id)
        return "cancelled" in record["status_times"]

    await _until(run_cancelled)
    child = await client.get_workflow_handle(child_id).describe()
    assert child.status is not None and child.status.name == "CANCELED"


@pytest.mark.parametrize(
    ("answer", "category"),
    [("billing", "billing"), ("Bug.", "bug"), (" other\n", "other"), ("It is billing", None)],
)
def test_parse_category(answer: str, category: str | None) -> None:
    assert parse_category(answer) == category
