"""`AssistantRunWorkflow`: one OpenAI run as a durable, backend-neutral state machine.

create ─► WAIT ─► READ ─► (tools ─► submit)* ─► answer. WAIT is "a run event or the backoff
timer, whichever comes first", so webhook signals end a wait at once; READ uses the event's
snapshot when it carries one, else one retrieve activity.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime, timedelta
from typing import Any

from temporalio import exceptions as temporal_exceptions
from temporalio import workflow
from temporalio.common import Priority, RetryPolicy, SearchAttributeUpdate
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from pydantic import ValidationError

    from durable_runs import search_attributes as sa
    from durable_runs.activities.assistants import AssistantsActivities
    from durable_runs.activities.responses import ResponsesActivities
    from durable_runs.activities.tools import ToolActivities
    from durable_runs.models import (
        ActivityKind,
        Answer,
        Conversation,
        ObjectRef,
        PrepareInput,
        RunError,
        RunEvent,
        RunProgress,
        RunRequest,
        RunResult,
        RunSnapshot,
        RunStatusView,
        RunTimings,
        StartInput,
        SubmitInput,
        ToolCall,
        ToolCallInput,
        ToolOutput,
    )
    from durable_runs.settings import OPENAI_QUEUE_SUFFIX

API_CALL_TIMEOUT = timedelta(seconds=20)
"""One HTTP call; short, so an attempt lost with a crashed worker is retried soon."""
PERMANENT_ERROR_TYPES = ["ValidationError"]
"""Errors no retry can fix, whatever activity raised them: pydantic refusing a value (an
activity's input, or an API object we cannot read) fails the same way on every attempt. The
activities mark their other permanent errors (4xx from the API, unknown tools) non-retryable."""
API_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    maximum_interval=timedelta(seconds=30),
    non_retryable_error_types=PERMANENT_ERROR_TYPES,
)
CANCEL_BUDGET = timedelta(minutes=2)
TOOL_TIMEOUT = timedelta(minutes=5)
TOOL_HEARTBEAT_TIMEOUT = timedelta(seconds=10)
"""Tools heartbeat while they run, so a crashed worker's tool call is retried within seconds."""
TOOL_RETRY = RetryPolicy(maximum_attempts=5, non_retryable_error_types=PERMANENT_ERROR_TYPES)
SHIELDED_CREATE_PATCH = "shielded-create"
"""Patch id: a cancellation that arrives during a create waits for it (older histories
cancelled the create). Asked only then, so other runs carry no marker and no
`TemporalChangeVersion` upsert."""
MIN_WAIT_SHARE = 0.5
"""A check that ended late never brings the next one closer than this share of its interval,
so a slow API or a binding budget is not answered with more reads."""
REMEMBERED_EVENT_IDS = 500
"""How many applied webhook ids a run remembers (duplicates come close together)."""

STATUS_RANK = {"queued": 0, "in_progress": 1, "requires_action": 2, "cancelling": 3}
"""Order of non-terminal statuses within one step, so a late event never moves a run back."""

CALL_PRIORITY: dict[ActivityKind, int] = {
    "cancel": 1,
    "read": 2,
    "submit_tool_outputs": 2,
    "answer": 2,
    "start": 3,
    "prepare": 4,
}
"""Task-queue priority of each API call (1 goes first): when the rate budget binds, calls that
move a started run on go ahead of the calls that begin new runs."""

BACKENDS: dict[str, type[AssistantsActivities] | type[ResponsesActivities]] = {
    "assistants": AssistantsActivities,
    "responses": ResponsesActivities,
}


class TimedOut(Exception):
    """The run's deadline passed."""


@workflow.defn(failure_exception_types=[ValidationError])
class AssistantRunWorkflow:
    """Drives one run (Responses background chain or Assistants run) to a final `RunResult`.

    A `pydantic.ValidationError` fails the workflow instead of its workflow task: an input that
    does not decode (a starter that bypassed `durable_runs.client`, e.g. the Temporal CLI with
    `{"backend": "bogus"}`) ends the run at once with a message naming the field, instead of
    leaving it RUNNING with a task that fails the same way on every retry.
    """

    @workflow.init
    def __init__(self, request: RunRequest) -> None:
        """Set up the loop state: fresh from the request, or carried over by continue-as-new."""
        now = workflow.now()
        self._request = request.model_copy(update={"progress": None})
        self._state = request.progress or RunProgress(
            started_at=now,
            deadline_at=now + timedelta(seconds=request.poll.deadline_s),
            delay_s=request.poll.initial_interval_s,
        )
        self._checks_at_start = self._state.checks
        self._next_check_at: datetime | None = None
        info = workflow.info()
        self._published: dict[str, str] = {}
        """Our search attributes as the server has them: set by the starter, or upserted since."""
        if info.continued_run_id is None:  # a continued run upserts them again, as it used to
            given = info.typed_search_attributes
            self._published = {k.name: v for k in sa.ALL_KEYS if (v := given.get(k)) is not None}
        self._creating: asyncio.Future[None] | None = None

    # ---- public surface: signal and query -------------------------------------------------

    @workflow.signal
    def run_event(self, event: RunEvent) -> None:
        """A webhook event about this run (from the bridge): the current wait ends at once."""
        self._state.pending_events.append(event)

    @workflow.query
    def status(self) -> RunStatusView:
        """The run as the workflow knows it now."""
        state = self._state
        snapshot = state.snapshot
        return RunStatusView(
            status=snapshot.status if snapshot else "starting",
            backend=self._request.backend,
            run_id=snapshot.object_id if snapshot else None,
            thread_id=state.conversation.thread_id if state.conversation else None,
            checks=state.checks,
            api_calls=dict(state.api_calls),
            next_check_at=self._next_check_at,
            last_error=snapshot.last_error if snapshot else None,
            tool_rounds=state.tool_rounds,
        )

    # ---- the loop ---------------------------------------------------------------------------

    @workflow.run
    async def run(self, request: RunRequest) -> RunResult:
        """Run the state machine until the run ends, the deadline passes or we are cancelled."""
        state = self._state
        self._publish()
        try:
            if state.conversation is None:
                prepare = self._backend.prepare
                state.conversation = await self._api(
                    "prepare", prepare, PrepareInput(workflow_id=self._workflow_id, request=request)
                )
            if state.snapshot is None:
                await self._start_object()
            return await self._loop(state)
        except TimedOut:
            return await self._finish_timed_out()
        except asyncio.CancelledError:
            # Cancellation is delivered once: activities started from here still run.
            creating = self._creating
            if creating is not None and not creating.done():
                if not workflow.patched(SHIELDED_CREATE_PATCH):
                    # Replaying a history from before the shield: the create was cancelled,
                    # and its failure failed the run.
                    creating.cancel()
                    await creating
                with contextlib.suppress(ApplicationError, TimedOut):
                    await creating  # a failed create left nothing to cancel
            await self._cancel_remote()
            raise

    async def _loop(self, state: RunProgress) -> RunResult:
        while True:
            snapshot = self._snapshot
            if snapshot.needs_tool_outputs:
                await self._tool_round(snapshot)
                continue
            if snapshot.is_terminal:
                if (
                    snapshot.status == "expired"
                    and self._request.on_expired == "restart"
                    and state.restarts < self._request.max_restarts
                ):
                    state.restarts += 1
                    await self._start_object()
                    continue
                return await self._finish(snapshot.status)
            if self._should_continue_as_new():
                workflow.continue_as_new(self._request.model_copy(update={"progress": state}))
            await self._wait_and_check()

    async def _wait_and_check(self) -> None:
        state = self._state
        wait = self._wait_s()
        remaining = (state.deadline_at - workflow.now()).total_seconds()
        if remaining <= 0:
            raise TimedOut
        self._next_check_at = workflow.now() + timedelta(seconds=min(wait, remaining))
        try:
            await workflow.wait_condition(
                lambda: bool(state.pending_events), timeout=min(wait, remaining)
            )
        except TimeoutError:
            if wait >= remaining:
                raise TimedOut from None
        self._next_check_at = None
        if state.pending_events:
            if not self._apply_events():
                return
        else:
            self._advance_schedule()
        await self._read()

    def _wait_s(self) -> float:
        """Seconds to wait before the next check.

        Polling, checks are due on the backoff schedule counted from the create (0.5, 1.25,
        2.375 s … after the workflow task that records it), so the time each check takes does
        not add up over the run as it does in a sleep-then-retrieve loop. The server's
        poll-after hint is a lower bound; a check it puts off moves the schedule with it. In
        webhook mode the wait is the safety poll.
        """
        state = self._state
        poll = self._request.poll
        hint_s = (self._snapshot.poll_after_ms or 0) / 1000
        if poll.webhooks:
            return max(poll.safety_poll_s, hint_s)
        if state.check_due_at is None:
            return max(state.delay_s, hint_s)  # state carried over from an older run
        now = workflow.now()
        wait = max((state.check_due_at - now).total_seconds(), state.delay_s * MIN_WAIT_SHARE)
        if hint_s > wait:
            wait = hint_s
            state.check_due_at = now + timedelta(seconds=hint_s)
        return wait

    def _restart_schedule(self) -> None:
        """A new run or tool step: the first check is due one initial interval from now."""
        state = self._state
        state.delay_s = self._request.poll.initial_interval_s
        state.check_due_at = workflow.now() + timedelta(seconds=state.delay_s)

    def _advance_schedule(self) -> None:
        """A due check is being made: the next one is due one (longer) interval after it."""
        state = self._state
        poll = self._request.poll
        state.delay_s = min(state.delay_s * poll.backoff, poll.max_interval_s)
        if state.check_due_at is not None:
            state.check_due_at += timedelta(seconds=state.delay_s)

    def _apply_events(self) -> bool:
        """Apply pending events; True when one of them asks for a read (it had no snapshot)."""
        state = self._state
        events, state.pending_events = state.pending_events, []
        needs_read = False
        for event in events:
            if event.event_id in state.applied_event_ids:
                continue
            state.applied_event_ids = [*state.applied_event_ids, event.event_id][
                -REMEMBERED_EVENT_IDS:
            ]
            if event.object_id != self._snapshot.object_id:
                continue
            if event.snapshot is None:
                # An id-only event (`response.*`) is applied through the one read it asks for.
                if not self._snapshot.is_terminal:
                    state.events_applied += 1
                    needs_read = True
            elif not self._is_stale(event.snapshot):
                state.events_applied += 1
                state.checks += 1
                self._set_snapshot(event.snapshot)
        return needs_read

    def _is_stale(self, incoming: RunSnapshot) -> bool:
        current = self._snapshot
        if current.is_terminal:
            return True
        if incoming.needs_tool_outputs:
            return {c.id for c in incoming.tool_calls} <= set(self._state.submitted_call_ids)
        if incoming.is_terminal:
            return False
        return STATUS_RANK.get(incoming.status, 0) < STATUS_RANK.get(current.status, 0)

    async def _read(self) -> None:
        state = self._state
        snapshot = self._snapshot
        read = self._backend.read
        state.checks += 1
        self._set_snapshot(await self._api("read", read, self._ref(snapshot)))

    async def _start_object(self) -> None:
        self._state.step += 1
        await self._create_shielded("start", self._backend.start, self._start_input())

    async def _create_shielded(self, kind: ActivityKind, method: Any, arg: Any) -> None:
        """Run a call that may create a remote object, shielded from workflow cancellation.

        Cancelled mid-call, the workflow would not learn the id of a run the API did create, and
        could not cancel it; so the call finishes first and the cancellation handler awaits it.
        """

        async def create() -> None:
            snapshot = await self._api(kind, method, arg)
            self._restart_schedule()
            self._set_snapshot(snapshot)

        self._creating = asyncio.ensure_future(create())
        await asyncio.shield(self._creating)

    async def _tool_round(self, snapshot: RunSnapshot) -> None:
        state = self._state
        outputs = await asyncio.gather(*(self._run_tool(call) for call in snapshot.tool_calls))
        state.submitted_call_ids += [c.id for c in snapshot.tool_calls]
        state.step += 1
        state.tool_rounds += 1
        submit = SubmitInput(
            workflow_id=self._workflow_id,
            step=state.step,
            request=self._request,
            run=self._ref(snapshot),
            outputs=list(outputs),
        )
        # For Responses the submit creates the follow-up response: shielded like a start.
        await self._create_shielded(
            "submit_tool_outputs", self._backend.submit_tool_outputs, submit
        )

    async def _run_tool(self, call: ToolCall) -> ToolOutput:
        try:
            return await workflow.execute_activity_method(
                ToolActivities.run_tool,
                ToolCallInput(
                    workflow_id=self._workflow_id, call=call, allowed=self._request.tools
                ),
                start_to_close_timeout=TOOL_TIMEOUT,
                heartbeat_timeout=TOOL_HEARTBEAT_TIMEOUT,
                retry_policy=TOOL_RETRY,
                summary=f"tool {call.name}",
            )
        except ActivityError as err:
            await self._cancel_remote()
            raise ApplicationError(
                f"tool {call.name} failed and the run was cancelled: {_cause(err)}",
                type="ToolFailed",
                non_retryable=True,
            ) from err

    async def _cancel_remote(self) -> None:
        state = self._state
        if state.snapshot is None or state.snapshot.is_terminal:
            return
        cancel = self._backend.cancel
        self._set_snapshot(
            await self._api("cancel", cancel, self._ref(state.snapshot), budget=CANCEL_BUDGET)
        )

    async def _finish_timed_out(self) -> RunResult:
        await self._cancel_remote()
        error = RunError(
            code="deadline_exceeded",
            message=f"no result within {self._request.poll.deadline_s:g} s; the run was cancelled",
        )
        return self._result("timed_out", "", error)

    async def _finish(self, status: str) -> RunResult:
        answer = Answer(text="")
        if status == "completed":
            if self._snapshot.answer is not None:
                answer = Answer(text=self._snapshot.answer)
            else:
                answer_fn = self._backend.answer
                answer = await self._api("answer", answer_fn, self._ref(self._snapshot))
        return self._result(status, answer.text, self._snapshot.last_error)

    def _result(self, status: str, answer: str, error: RunError | None) -> RunResult:
        state = self._state
        usage = None
        for item in state.usage_by_object.values():
            usage = item if usage is None else usage.plus(item)
        snapshot = state.snapshot
        self._publish(status_override=status)
        return RunResult(
            status=status,
            answer=answer,
            backend=self._request.backend,
            run_id=snapshot.object_id if snapshot else None,
            thread_id=state.conversation.thread_id if state.conversation else None,
            response_ids=list(state.object_ids),
            last_error=error,
            usage=usage,
            api_calls=dict(state.api_calls),
            checks=state.checks,
            events_applied=state.events_applied,
            tool_rounds=state.tool_rounds,
            restarts=state.restarts,
            timings=RunTimings(started_at=state.started_at, finished_at=workflow.now()),
        )

    # ---- helpers -------------------------------------------------------------------------

    @property
    def _backend(self) -> type[AssistantsActivities] | type[ResponsesActivities]:
        return BACKENDS[self._request.backend]

    @property
    def _workflow_id(self) -> str:
        return workflow.info().workflow_id

    @property
    def _snapshot(self) -> RunSnapshot:
        snapshot = self._state.snapshot
        assert snapshot is not None
        return snapshot

    def _ref(self, snapshot: RunSnapshot) -> ObjectRef:
        return ObjectRef(object_id=snapshot.object_id, thread_id=snapshot.thread_id)

    def _start_input(self) -> StartInput:
        state = self._state
        assert state.conversation is not None
        return StartInput(
            workflow_id=self._workflow_id,
            step=state.step,
            request=self._request,
            conversation=state.conversation,
        )

    def _should_continue_as_new(self) -> bool:
        checks_here = self._state.checks - self._checks_at_start
        return (
            workflow.info().is_continue_as_new_suggested()
            or checks_here >= self._request.poll.checks_per_history
        )

    async def _api(
        self, kind: ActivityKind, method: Any, arg: Any, *, budget: timedelta | None = None
    ) -> Any:
        """Run one API activity on the OpenAI queue and count it."""
        state = self._state
        state.api_calls[kind] = state.api_calls.get(kind, 0) + 1
        if budget is None:
            budget = max(state.deadline_at - workflow.now(), API_CALL_TIMEOUT)
        try:
            return await workflow.execute_activity_method(
                method,
                arg,
                task_queue=workflow.info().task_queue + OPENAI_QUEUE_SUFFIX,
                start_to_close_timeout=API_CALL_TIMEOUT,
                schedule_to_close_timeout=budget,
                retry_policy=API_RETRY,
                summary=f"{self._request.backend} {kind}",
                priority=Priority(priority_key=CALL_PRIORITY[kind]),
            )
        except ActivityError as err:
            if isinstance(err.cause, temporal_exceptions.TimeoutError) and kind != "cancel":
                raise TimedOut from err
            raise ApplicationError(
                f"{kind} failed: {_cause(err)}", type="OpenAIError", non_retryable=True
            ) from err

    def _set_snapshot(self, snapshot: RunSnapshot) -> None:
        state = self._state
        if snapshot.object_id not in state.object_ids:
            state.object_ids.append(snapshot.object_id)
        if snapshot.usage is not None:
            state.usage_by_object[snapshot.object_id] = snapshot.usage
        state.snapshot = snapshot
        self._publish()

    def _publish(self, status_override: str | None = None) -> None:
        """Upsert changed search attributes and refresh the UI details."""
        state = self._state
        snapshot = state.snapshot
        status = status_override or (snapshot.status if snapshot else sa.STARTING)
        conversation = state.conversation or Conversation()
        values = {
            sa.OPENAI_BACKEND: self._request.backend,
            sa.OPENAI_RUN_STATUS: status,
            sa.OPENAI_RUN_ID: snapshot.object_id if snapshot else None,
            sa.OPENAI_THREAD_ID: conversation.thread_id,
            sa.OPENAI_ASSISTANT_ID: conversation.assistant_id,
        }
        changed: list[SearchAttributeUpdate[str]] = []
        for key, value in values.items():
            if value is not None and self._published.get(key.name) != value:
                self._published[key.name] = value
                changed.append(key.value_set(value))
        if changed:
            workflow.upsert_search_attributes(changed)
        calls = sum(state.api_calls.values())
        error = snapshot.last_error if snapshot else None
        workflow.set_current_details(
            f"**status** {status} · **checks** {state.checks} · **API calls** {calls}"
            f" · **tool rounds** {state.tool_rounds}"
            + (f" · **last error** {error.code}: {error.message}" if error else "")
        )


def _cause(err: ActivityError) -> str:
    cause = err.cause
    return str(cause) if cause is not None else str(err)
