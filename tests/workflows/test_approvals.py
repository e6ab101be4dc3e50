"""Approvals: a tool that requires approval waits for a person's `decide` Update."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from durable_runs_emulator.server import RunningEmulator
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowFailureError
from temporalio.exceptions import CancelledError
from temporalio.testing import WorkflowEnvironment

from durable_runs import client as api
from durable_runs import search_attributes as sa
from durable_runs.activities.tools import ToolRegistry
from durable_runs.models import (
    AWAITING_APPROVAL,
    ApprovalPolicy,
    PendingApproval,
    PollPolicy,
    RunEvent,
    RunRequest,
)
from durable_runs.workflow_names import RUN_EVENT_SIGNAL
from tests.conftest import WorkerFactory
from tests.waiting import wait_for
from tests.workflows.helpers import request, runs_of

REFUND = {"order_id": "A-17", "amount": 20.0}
PLAN = json.dumps([[{"name": "refund_order", "arguments": REFUND}]])


def refund_request(**overrides: Any) -> RunRequest:
    """A run whose model asks `refund_order` once, then quotes the tool's output."""
    fields: dict[str, Any] = {"tools": ["refund_order"], "metadata": {"emu_tool_plan": PLAN}}
    return request("Refund order A-17", **{**fields, **overrides})


async def start_refund(
    client: Client, queue: str, tools: ToolRegistry, **overrides: Any
) -> api.RunHandle:
    """Start a refund run through the client (which adds the registry's approval tools)."""
    return await api.start_run(client, refund_request(**overrides), task_queue=queue, tools=tools)


async def pending_of(client: Client, handle: api.RunHandle) -> PendingApproval:
    """Wait for the run to await approval; its one pending call."""

    async def probe() -> PendingApproval | None:
        view = await api.query_status(handle)
        return view.pending_approvals[0] if view.pending_approvals else None

    return await wait_for(probe, what="the run awaiting approval")


async def event_count(handle: api.RunHandle) -> int:
    """Events in the workflow's history now."""
    return len((await handle.fetch_history()).events)


def tool_activities(events: list[Any]) -> int:
    """Tool activities scheduled in a history."""
    return sum(
        1
        for e in events
        if e.HasField("activity_task_scheduled_event_attributes")
        and e.activity_task_scheduled_event_attributes.activity_type.name == "tools.run"
    )


async def test_approved_call_runs_and_the_run_completes(
    client: Client, worker_factory: WorkerFactory, tools: ToolRegistry
) -> None:
    async with worker_factory(client) as queue:
        handle = await start_refund(client, queue, tools)
        pending = await pending_of(client, handle)
        assert (pending.tool, json.loads(pending.arguments)) == ("refund_order", REFUND)
        view = await api.get_status(client, handle.id)
        assert view.status == AWAITING_APPROVAL
        description = await handle.describe()
        assert description.typed_search_attributes.get(sa.OPENAI_RUN_STATUS) == AWAITING_APPROVAL
        await api.decide(client, handle.id, pending.call_id, approve=True, reason="ok")
        result = await handle.result()
    assert result.status == "completed"
    assert '"refunded": true' in result.answer and '"amount": 20.0' in result.answer


async def test_edited_arguments_are_used(
    client: Client, worker_factory: WorkerFactory, tools: ToolRegistry
) -> None:
    async with worker_factory(client) as queue:
        handle = await start_refund(client, queue, tools)
        pending = await pending_of(client, handle)
        edited = json.dumps({"order_id": "A-17", "amount": 5.0})
        await api.decide(client, handle.id, pending.call_id, approve=True, edited_arguments=edited)
        result = await handle.result()
    assert result.status == "completed" and '"amount": 5.0' in result.answer


async def test_rejection_is_the_tools_output(
    client: Client, worker_factory: WorkerFactory, tools: ToolRegistry
) -> None:
    async with worker_factory(client) as queue:
        handle = await start_refund(client, queue, tools)
        pending = await pending_of(client, handle)
        await api.decide(
            client, handle.id, pending.call_id, approve=False, reason="order already refunded"
        )
        result = await handle.result()
    assert result.status == "completed"
    assert '"rejected": true' in result.answer and "order already refunded" in result.answer
    assert tool_activities((await handle.fetch_history()).events) == 0


async def test_validator_refuses_without_writing_history(
    client: Client, worker_factory: WorkerFactory, tools: ToolRegistry
) -> None:
    async with worker_factory(client) as queue:
        handle = await start_refund(client, queue, tools)
        pending = await pending_of(client, handle)
        before = await event_count(handle)
        with pytest.raises(api.ApprovalRejectedError, match="no pending approval for call nope"):
            await api.decide(client, handle.id, "nope", approve=True)
        assert await event_count(handle) == before
        await api.decide(client, handle.id, pending.call_id, approve=False, reason="no")
        after_decision = await event_count(handle)
        with pytest.raises(api.ApprovalRejectedError, match="already decided"):
            await api.decide(client, handle.id, pending.call_id, approve=True)
        await handle.result()
        finished = await event_count(handle)
        with pytest.raises(api.ApprovalRejectedError, match="finished"):
            await api.decide(client, handle.id, pending.call_id, approve=True)
        assert await event_count(handle) == finished
    # The refused second decision left nothing: the history only grew by the run's own work.
    history = await handle.fetch_history()
    updates = [
        e
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED
    ]
    assert len(updates) == 1 and after_decision <= finished


async def test_waiting_makes_no_reads_and_ignores_events(
    client: Client, worker_factory: WorkerFactory, tools: ToolRegistry
) -> None:
    async with worker_factory(client) as queue:
        handle = await start_refund(client, queue, tools)
        pending = await pending_of(client, handle)
        before = await event_count(handle)
        # A webhook event arriving meanwhile (id-only, as `response.*` events are).
        response_id = (await api.get_status(client, handle.id)).run_id
        assert response_id is not None
        event = RunEvent(event_id="evt-1", type="response.completed", object_id=response_id)
        await handle.signal(RUN_EVENT_SIGNAL, event)
        await wait_for(lambda: _grew(handle, before), what="the signal recorded in history")
        history = await handle.fetch_history()
        waited = history.events[before - 1 :]
        assert not [e for e in waited if e.HasField("activity_task_scheduled_event_attributes")]
        assert (await api.query_status(handle)).pending_approvals  # still waiting
        await api.decide(client, handle.id, pending.call_id, approve=True)
        result = await handle.result()
    assert result.status == "completed"
    assert tool_activities((await handle.fetch_history()).events) == 1


async def _grew(handle: api.RunHandle, before: int) -> bool:
    return await event_count(handle) > before


@pytest.mark.parametrize("on_no_decision", ["reject", "fail"])
async def test_no_decision_policy(
    client: Client, worker_factory: WorkerFactory, tools: ToolRegistry, on_no_decision: str
) -> None:
    policy = ApprovalPolicy(on_no_decision=on_no_decision, decide_within_s=1)  # type: ignore[arg-type]
    async with worker_factory(client) as queue:
        handle = await start_refund(client, queue, tools, approval=policy)
        result = await handle.result()
    if on_no_decision == "reject":
        assert result.status == "completed"
        assert "no decision within 1 s" in result.answer and '"rejected": true' in result.answer
    else:
        assert result.status == "failed" and result.last_error is not None
        assert result.last_error.code == "approval_timeout"
        assert "no decision within 1 s on refund_order" in result.last_error.message


async def test_cancel_while_awaiting_cancels_the_run_at_the_api(
    client: Client, worker_factory: WorkerFactory, tools: ToolRegistry, emulator: RunningEmulator
) -> None:
    async with worker_factory(client) as queue:
        handle = await start_refund(client, queue, tools, backend="assistants")
        await pending_of(client, handle)
        await api.cancel_run(client, handle.id)
        with pytest.raises(WorkflowFailureError) as failure:
            await handle.result()
    assert isinstance(failure.value.cause, CancelledError)
    [run] = await runs_of(emulator, handle.id)
    assert run["statuses"][-1][0] == "cancelled"


async def test_assistants_expiry_follows_on_expired(
    client: Client, worker_factory: WorkerFactory, tools: ToolRegistry
) -> None:
    metadata = {"emu_tool_plan": PLAN, "emu_expires_after_ms": "1500"}
    async with worker_factory(client) as queue:
        handle = await start_refund(client, queue, tools, backend="assistants", metadata=metadata)
        pending = await pending_of(client, handle)
        assert pending.expires_at is not None
        result = await handle.result()
    assert result.status == "expired" and result.last_error is not None
    assert result.last_error.code == "expired_awaiting_approval"
    assert "refund_order" in result.last_error.message
    assert "on_expired=fail: the run ends" in result.last_error.message


async def test_approval_waits_days_then_completes(
    time_skipping_env: WorkflowEnvironment, worker_factory: WorkerFactory, tools: ToolRegistry
) -> None:
    client = time_skipping_env.client
    # A deadline of 60 s: the days of waiting do not count against it. The emulator answers
    # at once (it runs in real time, while the server skips time between reads).
    policy = ApprovalPolicy(decide_within_s=timedelta(days=7).total_seconds())
    instant = {"emu_tool_plan": PLAN, "emu_queued_ms": "0", "emu_duration_ms": "0"}
    async with worker_factory(client) as queue:
        handle = await start_refund(
            client, queue, tools, approval=policy, poll=PollPolicy(deadline_s=60), metadata=instant
        )
        pending = await pending_of(client, handle)
        await time_skipping_env.sleep(timedelta(days=3))
        assert (await api.query_status(handle)).pending_approvals
        await api.decide(client, handle.id, pending.call_id, approve=True)
        result = await handle.result()
    assert result.status == "completed" and '"refunded": true' in result.answer
    assert result.timings.duration_s > timedelta(days=3).total_seconds()
    history = await handle.fetch_history()
    timers = [e for e in history.events if e.HasField("timer_started_event_attributes")]
    assert len(timers) == 1  # the wait's only command: the policy's timer
