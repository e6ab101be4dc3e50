"""`AgentModelCallWorkflow`: one Agents SDK model call as a background response.

create ─► WAIT ─► collect. A short activity creates the response (idempotently); the wait holds
no worker slot: with webhooks it is "a `response.*` event or the safety-poll timer, whichever
comes first" (the bridge signals this workflow, whose id the response's metadata carries), and
polling it is one `poll` activity whose reads the server spaces on the backoff schedule
(`activities.polling`). The last activity returns the SDK's `ModelResponse`: every output item
(function calls, handoff calls, messages, reasoning) and the usage, for the SDK's runner in the
parent to go on with its own tools, handoffs and guardrails.

The response id is published as `OpenAIRunId` (and its status as `OpenAIRunStatus`), so the UI
shows which response each model call waited for. Cancelling the call cancels the response at
the API. Runs outside the sandbox for the reasons `workflows.run` gives.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from pydantic import BaseModel, Field
from temporalio import exceptions as temporal_exceptions
from temporalio import workflow
from temporalio.common import RetryPolicy, TypedSearchAttributes
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from agents import ModelResponse
    from temporalio.openai_agents._invoke_model_activity import ActivityModelInput

    from durable_runs import search_attributes as sa
    from durable_runs.activities.agent_model import AgentModelActivities, ModelCallStart
    from durable_runs.models import (
        TERMINAL_STATUSES,
        ObjectRef,
        PollInput,
        PollPolicy,
        RunEvent,
        RunSnapshot,
    )
    from durable_runs.workflow_names import RUN_EVENT_SIGNAL

from durable_runs.workflows import rules

MODEL_CALL_WORKFLOW_TYPE = "AgentModelCall"
"""Workflow type of one model call."""

API_CALL_TIMEOUT = timedelta(seconds=30)
"""Start-to-close timeout of a create, a cancel and the final retrieve."""

READ_TIMEOUT = timedelta(seconds=10)
"""Start-to-close timeout of one read (a `poll` attempt is one read): short, so an attempt
lost with a killed worker is retried soon."""

API_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=30)
)
"""Retries of a failed API call (non-retryable errors end the call at once)."""


class ModelCallRequest(BaseModel):
    """Input of `AgentModelCallWorkflow`.

    Attributes:
        call: The model input exactly as Temporal's integration would hand its activity.
        poll: How to wait: webhooks (and the safety poll) or polling, and the deadline.
    """

    call: ActivityModelInput
    poll: PollPolicy = Field(default_factory=PollPolicy)


def start_attributes() -> TypedSearchAttributes:
    """The search attributes a model call starts with."""
    return sa.at_start("responses")


@workflow.defn(name=MODEL_CALL_WORKFLOW_TYPE, sandboxed=False)
class AgentModelCallWorkflow:
    """Create a background response, wait for it with no slot held, return its output."""

    def __init__(self) -> None:
        """No state but the events the bridge signalled."""
        self._events: list[RunEvent] = []
        self._seen: list[str] = []
        self._published: tuple[str, str] | None = None

    @workflow.signal(name=RUN_EVENT_SIGNAL)
    def run_event(self, event: RunEvent) -> None:
        """A webhook event about the response (from the bridge): the wait ends at once."""
        self._events.append(event)

    @workflow.run
    async def run(self, request: ModelCallRequest) -> ModelResponse:
        """Create the response, wait for it to end, return it as the SDK's `ModelResponse`."""
        poll = request.poll
        deadline = workflow.now() + timedelta(seconds=poll.deadline_s)
        snapshot: RunSnapshot = await workflow.execute_activity_method(
            AgentModelActivities.create,
            ModelCallStart(call=request.call, workflow_id=workflow.info().workflow_id),
            start_to_close_timeout=API_CALL_TIMEOUT,
            retry_policy=API_RETRY,
            summary="create background response",
        )
        self._publish(snapshot)
        try:
            if poll.webhooks:
                snapshot = await self._wait_for_events(snapshot, poll, deadline)
            else:
                snapshot = await self._poll(snapshot, poll, deadline)
        except (asyncio.CancelledError, ActivityError) as err:
            # A cancel arrives as the wait's activity cancelled, or at a timer.
            cancelled = isinstance(err, asyncio.CancelledError) or isinstance(
                err.cause, temporal_exceptions.CancelledError
            )
            if cancelled:
                await asyncio.shield(self._cancel(snapshot))
            raise
        self._publish(snapshot)
        if snapshot.status not in TERMINAL_STATUSES:
            await self._cancel(snapshot)
            raise ApplicationError(
                f"response {snapshot.object_id} did not end within {poll.deadline_s:g} s",
                type="ModelCallTimedOut",
                non_retryable=True,
            )
        return await workflow.execute_activity_method(
            AgentModelActivities.model_response,
            ObjectRef(object_id=snapshot.object_id),
            start_to_close_timeout=API_CALL_TIMEOUT,
            retry_policy=API_RETRY,
            summary="collect output",
        )

    async def _poll(
        self, snapshot: RunSnapshot, poll: PollPolicy, deadline: datetime
    ) -> RunSnapshot:
        reads = 0
        while snapshot.status not in TERMINAL_STATUSES:
            now = workflow.now()
            if now >= deadline:
                break
            polled = await workflow.execute_activity_method(
                AgentModelActivities.poll,
                PollInput(
                    ref=ObjectRef(object_id=snapshot.object_id),
                    status=snapshot.status,
                    first_due_at=now + poll.wait_after(reads, hint_ms=snapshot.poll_after_ms),
                    poll=poll,
                    reads_before=reads,
                ),
                start_to_close_timeout=READ_TIMEOUT,
                schedule_to_close_timeout=max(deadline - now, READ_TIMEOUT),
                retry_policy=RetryPolicy(initial_interval=timedelta(seconds=1)),
                summary="wait for response",
            )
            reads += polled.reads
            snapshot = polled.snapshot
            self._publish(snapshot)
        return snapshot

    async def _wait_for_events(
        self, snapshot: RunSnapshot, poll: PollPolicy, deadline: datetime
    ) -> RunSnapshot:
        schedule = rules.restart_schedule(poll, workflow.now())
        while snapshot.status not in TERMINAL_STATUSES:
            now = workflow.now()
            remaining = (deadline - now).total_seconds()
            if remaining <= 0:
                break
            wait, schedule = rules.next_wait(
                schedule, poll, hint_ms=snapshot.poll_after_ms, now=now
            )
            try:
                await workflow.wait_condition(
                    lambda: bool(self._events), timeout=min(wait, remaining)
                )
            except TimeoutError:
                schedule = rules.advance_schedule(schedule, poll)
            else:
                fresh, carried = self._take_events(snapshot.object_id)
                if carried is not None:
                    # The bridge read the response for the event: no read of our own.
                    snapshot = carried
                    continue
                if not fresh:
                    continue
            snapshot = await workflow.execute_activity_method(
                AgentModelActivities.read,
                ObjectRef(object_id=snapshot.object_id),
                start_to_close_timeout=READ_TIMEOUT,
                retry_policy=API_RETRY,
                summary="read response",
            )
        return snapshot

    def _take_events(self, response_id: str) -> tuple[bool, RunSnapshot | None]:
        """Whether the pending events hold a new one about the response (each id once), and
        the newest snapshot such an event carried (the bridge's read), if any."""
        events, self._events = self._events, []
        fresh = False
        carried: RunSnapshot | None = None
        for event in events:
            if event.event_id in self._seen or event.object_id != response_id:
                continue
            self._seen.append(event.event_id)
            fresh = True
            carried = event.snapshot or carried
        return fresh, carried

    async def _cancel(self, snapshot: RunSnapshot) -> None:
        if snapshot.status in TERMINAL_STATUSES:
            return
        await workflow.execute_activity_method(
            AgentModelActivities.cancel,
            ObjectRef(object_id=snapshot.object_id),
            start_to_close_timeout=API_CALL_TIMEOUT,
            retry_policy=RetryPolicy(maximum_attempts=3),
            summary="cancel response",
        )

    def _publish(self, snapshot: RunSnapshot) -> None:
        """Upsert the response id and status when they changed (each upsert is a write)."""
        if self._published == (snapshot.object_id, snapshot.status):
            return
        self._published = (snapshot.object_id, snapshot.status)
        workflow.upsert_search_attributes(
            [
                sa.OPENAI_RUN_ID.value_set(snapshot.object_id),
                sa.OPENAI_RUN_STATUS.value_set(snapshot.status),
            ]
        )
