"""`RunWorkflow`: one OpenAI run as a durable, backend-neutral state machine.

create ─► WAIT ─► READ ─► (tools ─► submit)* ─► answer. Polling, WAIT and READ are one `poll`
activity whose attempts each read once, spaced by the server's retries on the backoff schedule,
until the run changes (`activities.polling`): no timer or workflow task per read. In webhook mode
WAIT is "a run event or the safety-poll timer, whichever comes first", so webhook signals end a
wait at once, and READ uses the event's snapshot when it carries one, else one `read` activity.

The pure decisions (backoff schedule, staleness, applying events) live in `workflows.rules`;
every API call goes through the backend contract (`activities.contract.BackendActivities`),
with the timeouts, retry policies and priorities of `durable_runs.options`. The same machine is
registered twice: as `RunWorkflow`, and as `LegacyRunWorkflow` under the former type name
`AssistantRunWorkflow`, so that runs started before the rename finish.

Both types run outside the workflow sandbox (`sandboxed=False`): our modules are passed through
it anyway (`DurableRunsPlugin`), so it guarded nothing of ours, and it was the largest worker
cost per run (a code run per activation, an import hook per thread switch). What guards the
determinism of this module instead: no state at module level, time only from `workflow.now()`,
and the recorded histories of every version replaying in CI (`tests/test_replay.py`). A user's
own workflows keep the sandbox.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable, Iterator
from datetime import datetime, timedelta
from typing import NoReturn, TypeVar

from temporalio import exceptions as temporal_exceptions
from temporalio import workflow
from temporalio.common import MetricMeter, SearchAttributeUpdate
from temporalio.exceptions import ActivityError, ApplicationError, RetryState

with workflow.unsafe.imports_passed_through():
    from opentelemetry import context as trace_context
    from pydantic import ValidationError

    from durable_runs import search_attributes as sa
    from durable_runs.activities.assistants import AssistantsActivities
    from durable_runs.activities.contract import BackendActivities
    from durable_runs.activities.polling import NOT_DUE
    from durable_runs.activities.responses import ResponsesActivities
    from durable_runs.activities.tools import ToolActivities
    from durable_runs.models import (
        AWAITING_APPROVAL,
        Answer,
        ApprovalDecision,
        Backend,
        Conversation,
        CreateOptions,
        LegacyRunRequest,
        ObjectRef,
        PendingApproval,
        PollInput,
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
    from durable_runs.options import PAYLOADS_TOO_LARGE, ActivityKind, ActivityOptions, resolve
    from durable_runs.settings import OPENAI_QUEUE_SUFFIX
    from durable_runs.workflow_names import (
        DECIDE_UPDATE,
        LEGACY_TYPE_NAME,
        RUN_EVENT_SIGNAL,
        RUN_WORKFLOW_TYPE,
        STATUS_QUERY,
    )

from durable_runs.workflows import rules

InputT = TypeVar("InputT")
OutputT = TypeVar("OutputT")

POLL_ON_RETRIES_PATCH = "poll-on-retries"
"""Patch id: polling is one `poll` activity per change, its reads spaced by the server's
retries (no timer, workflow task or history event per read), and a Responses run makes no
`prepare` call. Asked once at the start of every run: histories without the marker replay the
earlier timer-and-read loop."""

SHIELDED_CREATE_PATCH = "shielded-create"
"""Patch id: a cancellation that arrives during a create waits for it (older histories
cancelled the create). Asked only then, so other runs carry no marker and no
`TemporalChangeVersion` upsert."""

READS_AVOIDED = "durable_runs_reads_avoided_by_events"
"""Counter: waits a webhook event ended with a snapshot, so the run made no status read."""

COMPLETION_TO_NOTICE = "durable_runs_completion_to_notice_seconds"
"""Histogram: from the API's completion time of a run or response to the workflow's notice."""

BACKENDS: dict[Backend, type[BackendActivities]] = {
    "assistants": AssistantsActivities,
    "responses": ResponsesActivities,
}
"""The activities of each backend; the workflow calls them through the backend contract."""


class TimedOut(Exception):
    """The run's deadline passed."""


class NoDecision(Exception):
    """No decision came within the approval policy's time, and its policy is to fail."""

    def __init__(self, error: RunError) -> None:
        """Args: error: what the run's result reports."""
        super().__init__(error.message)
        self.error = error


class _RunStateMachine:
    """The run state machine, shared by both run workflow types.

    Each type brings its own input and continue-as-new: `RunWorkflow`, and `LegacyRunWorkflow`
    under the former type name.
    """

    def _setup(self, request: RunRequest, carried: RunProgress | None) -> None:
        """Set up the loop state: fresh from the request, or carried over by continue-as-new."""
        now = workflow.now()
        self._request = request
        self._options: ActivityOptions = resolve(request.options)
        self._state = carried or RunProgress(
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
        self._polls_on_retries = False
        self._woken_by: trace_context.Context | None = None
        """Trace context of the signal that ended the last wait: what follows is its work."""
        self._pending: dict[str, PendingApproval] = {}
        """Tool calls of the current round that wait for a person, by call id."""
        self._decisions: dict[str, ApprovalDecision] = {}
        """Every decision this run took (a person's, or the policy's), by call id."""
        self._finished = False

    def _continue_as_new(self, state: RunProgress) -> NoReturn:
        """Continue as new under this workflow's type, carrying `state`."""
        raise NotImplementedError

    # ---- public surface: signal and query -------------------------------------------------

    @workflow.signal(name=RUN_EVENT_SIGNAL)
    def run_event(self, event: RunEvent) -> None:
        """A webhook event about this run (from the bridge): the current wait ends at once."""
        self._state.pending_events.append(event)
        self._woken_by = trace_context.get_current()

    @workflow.query(name=STATUS_QUERY)
    def status(self) -> RunStatusView:
        """The run as the workflow knows it now."""
        state = self._state
        snapshot = state.snapshot
        status = snapshot.status if snapshot else "starting"
        return RunStatusView(
            status=AWAITING_APPROVAL if self._pending else status,
            backend=self._request.backend,
            run_id=snapshot.object_id if snapshot else None,
            thread_id=state.conversation.thread_id if state.conversation else None,
            checks=state.checks,
            api_calls=dict(state.api_calls),
            next_check_at=self._next_check_at,
            last_error=snapshot.last_error if snapshot else None,
            tool_rounds=state.tool_rounds,
            pending_approvals=list(self._pending.values()),
        )

    @workflow.update(name=DECIDE_UPDATE)
    def decide(self, decision: ApprovalDecision) -> None:
        """A person's decision on a pending tool call: approve (maybe with edited arguments)
        or reject (the model is told the reason)."""
        self._decisions[decision.call_id] = decision

    @decide.validator
    def _check_decision(self, decision: ApprovalDecision) -> None:
        """Refuse, before anything is written to history, a decision that cannot apply."""
        call_id = decision.call_id
        if self._finished:
            raise ValueError(f"the run has finished; call {call_id} can no longer be decided")
        if call_id in self._decisions:
            verdict = "approved" if self._decisions[call_id].approve else "rejected"
            raise ValueError(f"call {call_id} was already decided ({verdict})")
        if call_id not in self._pending:
            waiting = ", ".join(self._pending) or "none"
            raise ValueError(f"no pending approval for call {call_id} (pending: {waiting})")

    # ---- the loop ---------------------------------------------------------------------------

    async def _run(self) -> RunResult:
        """Run the state machine until the run ends, the deadline passes or we are cancelled."""
        state = self._state
        self._polls_on_retries = workflow.patched(POLL_ON_RETRIES_PATCH)
        self._publish()
        try:
            if state.conversation is None:
                state.conversation = await self._prepare()
            if state.snapshot is None:
                await self._start_object()
            return await self._loop(state)
        except TimedOut:
            return await self._finish_timed_out()
        except NoDecision as no_decision:
            await self._cancel_remote()
            return self._result("failed", "", no_decision.error)
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
            # Traced, the calls an event leads to are children of its delivery's signal.
            with _attached(self._woken_by):
                result = await self._step(state)
            if result is not None:
                return result

    async def _step(self, state: RunProgress) -> RunResult | None:
        """One turn of the loop: a tool round, the end, or one wait; the result when it ends."""
        snapshot = self._snapshot
        if snapshot.needs_tool_outputs:
            await self._tool_round(snapshot)
            return None
        if snapshot.is_terminal:
            if (
                snapshot.status == "expired"
                and self._request.on_expired == "restart"
                and state.restarts < self._request.max_restarts
            ):
                state.restarts += 1
                await self._start_object()
                return None
            return await self._finish(snapshot.status)
        if self._should_continue_as_new():
            self._continue_as_new(state)
        if self._polls_on_retries and not self._request.poll.webhooks:
            await self._poll()
        else:
            await self._wait_and_check()
        return None

    async def _prepare(self) -> Conversation:
        """Where the run happens: an Assistants thread; nothing to create for Responses."""
        if self._request.backend == "responses" and self._polls_on_retries:
            return Conversation()
        prepare = PrepareInput(workflow_id=self._workflow_id, request=self._request)
        return await self._call("prepare", self._backend.prepare, prepare)

    async def _poll(self) -> None:
        """Polling: one `poll` activity reads, on the server's retries, until the run changes."""
        state = self._state
        snapshot = self._snapshot
        poll = self._request.poll
        first_due_at = workflow.now() + poll.wait_after(
            state.object_reads, hint_ms=snapshot.poll_after_ms
        )
        self._next_check_at = first_due_at
        poll_input = PollInput(
            ref=self._ref(snapshot),
            status=snapshot.status,
            first_due_at=first_due_at,
            poll=poll,
            reads_before=state.object_reads,
        )
        try:
            polled = await self._call("read", self._backend.poll, poll_input)
        except TimedOut as timeout:
            self._count_reads(_reads_before_timeout(timeout))
            raise
        finally:
            self._next_check_at = None
        self._count_reads(polled.reads)
        self._set_snapshot(polled.snapshot)

    def _count_reads(self, reads: int) -> None:
        """Count the reads of one `poll` activity (`_call` counted it as one API call)."""
        state = self._state
        state.object_reads += reads
        state.checks += reads
        state.api_calls["read"] += reads - 1

    async def _wait_and_check(self) -> None:
        state = self._state
        now = workflow.now()
        wait, schedule = rules.next_wait(
            self._schedule, self._request.poll, hint_ms=self._snapshot.poll_after_ms, now=now
        )
        self._set_schedule(schedule)
        remaining = (state.deadline_at - now).total_seconds()
        if remaining <= 0:
            raise TimedOut
        self._next_check_at = now + timedelta(seconds=min(wait, remaining))
        try:
            await workflow.wait_condition(
                lambda: bool(state.pending_events), timeout=min(wait, remaining)
            )
        except TimeoutError:
            self._woken_by = None
            if wait >= remaining:
                raise TimedOut from None
        self._next_check_at = None
        if state.pending_events:
            if not self._apply_events():
                return
        else:
            self._set_schedule(rules.advance_schedule(self._schedule, self._request.poll))
        with _attached(self._woken_by):
            await self._read()

    def _apply_events(self) -> bool:
        """Apply pending events; True when one of them asks for a read (it had no snapshot)."""
        state = self._state
        events, state.pending_events = state.pending_events, []
        applied = rules.apply_events(
            events,
            current=self._snapshot,
            applied_event_ids=state.applied_event_ids,
            submitted_call_ids=state.submitted_call_ids,
        )
        state.applied_event_ids = applied.applied_event_ids
        state.events_applied += applied.events_applied
        state.checks += len(applied.snapshots)
        for snapshot in applied.snapshots:
            self._set_snapshot(snapshot)
        if applied.snapshots and not applied.needs_read:
            self._metrics.create_counter(
                READS_AVOIDED, "Waits an event ended with a snapshot, instead of a status read."
            ).add(1)
        return applied.needs_read

    async def _read(self) -> None:
        state = self._state
        ref = self._ref(self._snapshot)
        state.checks += 1
        self._set_snapshot(await self._call("read", self._backend.read, ref))

    async def _start_object(self) -> None:
        self._state.step += 1
        await self._create_shielded("start", self._backend.start, self._start_input())

    async def _create_shielded(
        self,
        kind: ActivityKind,
        method: Callable[[BackendActivities, InputT], Awaitable[RunSnapshot]],
        arg: InputT,
    ) -> None:
        """Run a call that may create a remote object, shielded from workflow cancellation.

        Cancelled mid-call, the workflow would not learn the id of a run the API did create, and
        could not cancel it; so the call finishes first and the cancellation handler awaits it.
        """

        async def create() -> None:
            self._adopt_created(await self._call(kind, method, arg))

        self._creating = asyncio.ensure_future(create())
        await asyncio.shield(self._creating)

    def _adopt_created(self, snapshot: RunSnapshot) -> None:
        """A new run or response: its checks start on a fresh schedule."""
        self._set_schedule(rules.restart_schedule(self._request.poll, workflow.now()))
        self._state.object_reads = 0
        self._set_snapshot(snapshot)

    async def _tool_round(self, snapshot: RunSnapshot) -> None:
        state = self._state
        if not await self._await_approvals(snapshot):
            return  # the run expired while it waited: the loop follows `on_expired`
        outputs = await asyncio.gather(*(self._answer_call(call) for call in snapshot.tool_calls))
        state.submitted_call_ids += [c.id for c in snapshot.tool_calls]
        state.step += 1
        state.tool_rounds += 1
        submit = SubmitInput(
            workflow_id=self._workflow_id,
            step=state.step,
            run=self._ref(snapshot),
            outputs=list(outputs),
            create=CreateOptions.of(self._request),
        )
        # For Responses the submit creates the follow-up response: shielded like a start.
        await self._create_shielded(
            "submit_tool_outputs", self._backend.submit_tool_outputs, submit
        )

    async def _await_approvals(self, snapshot: RunSnapshot) -> bool:
        """Wait, on a timer alone, for a person's decision on each call that needs one.

        No activity runs and nothing reads the run while it waits; webhook events queue up
        and are applied after the round. The run's deadline does not run meanwhile. Returns
        False when the API object expired first (Assistants): the snapshot then says so.

        Raises:
            NoDecision: No decision came in time and the policy is to fail.
        """
        policy = self._request.approval
        needing = [c for c in snapshot.tool_calls if c.name in policy.tools]
        if not needing:
            return True
        now = workflow.now()
        expires_at = (
            datetime.fromtimestamp(snapshot.expires_at, tz=now.tzinfo)
            if snapshot.expires_at is not None
            else None
        )
        self._pending = {
            c.id: PendingApproval(
                workflow_id=self._workflow_id,
                call_id=c.id,
                tool=c.name,
                arguments=c.arguments,
                waiting_since=now,
                expires_at=expires_at,
            )
            for c in needing
        }
        self._publish(status_override=AWAITING_APPROVAL)
        timeout: float | None = policy.decide_within_s
        if expires_at is not None:
            # At least a second, so a clock ahead of the API's does not spin on reads.
            until_expiry = max((expires_at - now).total_seconds(), 1.0)
            timeout = until_expiry if timeout is None else min(timeout, until_expiry)
        try:
            await workflow.wait_condition(
                lambda: self._pending.keys() <= self._decisions.keys(), timeout=timeout
            )
        except TimeoutError:
            if expires_at is not None and workflow.now() >= expires_at:
                return await self._expired_awaiting(expires_at)
            self._no_decision(policy.decide_within_s or 0.0)
        finally:
            self._state.deadline_at += workflow.now() - now
            self._pending = {}
        return True

    def _no_decision(self, waited_s: float) -> None:
        """Apply the policy to the calls nobody decided within `waited_s`."""
        undecided = [c for c in self._pending if c not in self._decisions]
        reason = f"no decision within {waited_s:g} s"
        if self._request.approval.on_no_decision == "fail":
            names = ", ".join(f"{self._pending[c].tool} ({c})" for c in undecided)
            raise NoDecision(
                RunError(code="approval_timeout", message=f"{reason} on {names}; run cancelled")
            )
        for call_id in undecided:
            self._decisions[call_id] = ApprovalDecision(
                call_id=call_id, approve=False, reason=reason
            )

    async def _expired_awaiting(self, expires_at: datetime) -> bool:
        """The API object's expiry came before the decisions: read it, and say what happened."""
        names = ", ".join(f"{p.tool} ({p.call_id})" for p in self._pending.values())
        await self._read()
        snapshot = self._snapshot
        if snapshot.status != "expired":
            return True  # not expired after all: the round begins again
        on_expired = self._request.on_expired
        message = (
            f"the Assistants run expired at {expires_at.isoformat()} while {names} awaited "
            f"approval (Assistants runs expire 10 minutes after requires_action); "
            f"on_expired={on_expired}"
            + (": a new run starts" if on_expired == "restart" else ": the run ends")
        )
        self._state.snapshot = snapshot.model_copy(
            update={"last_error": RunError(code="expired_awaiting_approval", message=message)}
        )
        return False

    async def _answer_call(self, call: ToolCall) -> ToolOutput:
        """The output of one call: the tool's, or a person's rejection."""
        decision = self._decisions.get(call.id)
        if decision is None:
            return await self._run_tool(call)
        if not decision.approve:
            rejected = {"rejected": True, "reason": decision.reason or "rejected by a person"}
            return ToolOutput(tool_call_id=call.id, output=json.dumps(rejected))
        if decision.edited_arguments is not None:
            call = call.model_copy(update={"arguments": decision.edited_arguments})
        return await self._run_tool(call, approved=True)

    async def _run_tool(self, call: ToolCall, *, approved: bool = False) -> ToolOutput:
        options = self._options
        try:
            return await workflow.execute_activity_method(
                ToolActivities.run_tool,
                ToolCallInput(
                    workflow_id=self._workflow_id,
                    call=call,
                    allowed=self._request.tools,
                    approved=approved,
                ),
                start_to_close_timeout=options.tool_timeout,
                heartbeat_timeout=options.tool_heartbeat_timeout,
                retry_policy=options.tool_retry_policy(),
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
        ref = self._ref(state.snapshot)
        budget = self._options.cancel_budget
        self._set_snapshot(await self._call("cancel", self._backend.cancel, ref, budget=budget))

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
                ref = self._ref(self._snapshot)
                answer = await self._call("answer", self._backend.answer, ref)
        return self._result(status, answer.text, self._snapshot.last_error)

    def _result(self, status: str, answer: str, error: RunError | None) -> RunResult:
        state = self._state
        usage = None
        for item in state.usage_by_object.values():
            usage = item if usage is None else usage.plus(item)
        snapshot = state.snapshot
        self._finished = True
        self._publish(status_override=status)
        return RunResult(
            status=status,
            answer=answer,
            backend=self._request.backend,
            run_id=snapshot.object_id if snapshot else None,
            thread_id=state.conversation.thread_id if state.conversation else None,
            assistant_id=state.conversation.assistant_id if state.conversation else None,
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
    def _backend(self) -> type[BackendActivities]:
        return BACKENDS[self._request.backend]

    @property
    def _workflow_id(self) -> str:
        return workflow.info().workflow_id

    @property
    def _snapshot(self) -> RunSnapshot:
        snapshot = self._state.snapshot
        assert snapshot is not None
        return snapshot

    @property
    def _schedule(self) -> rules.Schedule:
        return rules.Schedule(delay_s=self._state.delay_s, check_due_at=self._state.check_due_at)

    def _set_schedule(self, schedule: rules.Schedule) -> None:
        self._state.delay_s = schedule.delay_s
        self._state.check_due_at = schedule.check_due_at

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

    async def _call(
        self,
        kind: ActivityKind,
        method: Callable[[BackendActivities, InputT], Awaitable[OutputT]],
        arg: InputT,
        *,
        budget: timedelta | None = None,
    ) -> OutputT:
        """Run one API activity of the run's backend on the OpenAI queue, and count it.

        Args:
            kind: Which call it is (counted, and its priority).
            method: The backend's activity method, e.g. `self._backend.read`.
            arg: Its input.
            budget: Schedule-to-close timeout: how long its retries may go on (default: until
                the run's deadline, and at least one call's timeout).

        Raises:
            TimedOut: The budget ran out (but for a cancel).
            ApplicationError: The call failed for good.
        """
        state = self._state
        options = self._options
        state.api_calls[kind] = state.api_calls.get(kind, 0) + 1
        if budget is None:
            budget = max(state.deadline_at - workflow.now(), options.api_call_timeout)
        try:
            return await workflow.execute_activity_method(
                method,
                arg,
                task_queue=workflow.info().task_queue + OPENAI_QUEUE_SUFFIX,
                start_to_close_timeout=options.api_call_timeout,
                schedule_to_close_timeout=budget,
                retry_policy=options.api_retry_policy(),
                summary=f"{self._request.backend} {kind}",
                priority=options.priority(kind),
            )
        except ActivityError as err:
            # A schedule-to-close timeout ends the call as a timeout; when it would fall inside
            # the wait before a retry, the server fails it at once, with the last attempt's
            # error as the cause and the timeout as the retry state.
            timed_out = isinstance(err.cause, temporal_exceptions.TimeoutError) or (
                err.retry_state == RetryState.TIMEOUT
            )
            if timed_out and kind != "cancel":
                raise TimedOut from err
            if isinstance(err.cause, temporal_exceptions.CancelledError):
                # The run was cancelled while the call waited (a `poll` between its reads).
                raise asyncio.CancelledError from err
            raise ApplicationError(
                f"{kind} failed: {_cause(err)}", type="OpenAIError", non_retryable=True
            ) from err

    def _set_snapshot(self, snapshot: RunSnapshot) -> None:
        state = self._state
        if snapshot.completed_at is not None and snapshot.is_terminal:
            known = state.snapshot
            if known is None or known.object_id != snapshot.object_id or not known.is_terminal:
                self._record_notice(snapshot.completed_at)
        if snapshot.object_id not in state.object_ids:
            state.object_ids.append(snapshot.object_id)
        if snapshot.usage is not None:
            state.usage_by_object[snapshot.object_id] = snapshot.usage
        state.snapshot = snapshot
        self._publish()

    @property
    def _metrics(self) -> MetricMeter:
        """Temporal's workflow meter (silent during replay), labelled with the backend."""
        return workflow.metric_meter().with_additional_attributes(
            {"backend": self._request.backend}
        )

    def _record_notice(self, completed_at: float) -> None:
        """Record how long after the API's completion time this workflow learnt of it."""
        noticed = workflow.now().timestamp() - completed_at
        mode = "webhooks" if self._request.poll.webhooks else "polling"
        self._metrics.create_histogram_float(
            COMPLETION_TO_NOTICE,
            "From the API's completion time (whole seconds on OpenAI) to the workflow's notice.",
            "s",
        ).record(max(noticed, 0.0), {"mode": mode})

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
            + "".join(
                f" · **awaiting approval** {p.tool}({p.arguments}) call {p.call_id}"
                for p in self._pending.values()
            )
        )


@workflow.defn(name=RUN_WORKFLOW_TYPE, failure_exception_types=[ValidationError], sandboxed=False)
class RunWorkflow(_RunStateMachine):
    """Drives one run (Responses background chain or Assistants run) to a final `RunResult`.

    A `pydantic.ValidationError` fails the workflow instead of its workflow task: an input that
    does not decode (a starter that bypassed `durable_runs.client`, e.g. the Temporal CLI with
    `{"backend": "bogus"}`) ends the run at once with a message naming the field, instead of
    leaving it RUNNING with a task that fails the same way on every retry.
    """

    @workflow.init
    def __init__(self, request: RunRequest, carried: RunProgress | None = None) -> None:
        """Set up the run from its request (and the state a continue-as-new carried).

        A run is started with the request alone, one argument for two parameters: the SDK
        then decodes it without the parameters' types, so it is validated here.
        """
        self._setup(RunRequest.model_validate(request), carried)

    @workflow.run
    async def run(self, request: RunRequest, carried: RunProgress | None = None) -> RunResult:
        """Run the state machine until the run ends, the deadline passes or we are cancelled.

        Args:
            request: What to ask, where, with which tools and policies.
            carried: Internal: the loop state a continue-as-new passes on (start without it).
        """
        return await self._run()

    def _continue_as_new(self, state: RunProgress) -> NoReturn:
        workflow.continue_as_new(args=[self._request, state])


@workflow.defn(name=LEGACY_TYPE_NAME, failure_exception_types=[ValidationError], sandboxed=False)
class LegacyRunWorkflow(_RunStateMachine):
    """`RunWorkflow` under its former type name, so that runs started before the rename end.

    Such a run's input is the request with the loop state inside it (`progress`, set when it
    continued as new); it goes on continuing as new under this name, in that shape.
    """

    @workflow.init
    def __init__(self, request: LegacyRunRequest) -> None:
        """Set up the run from its request and the state it carries."""
        self._setup(request.current(), request.progress)

    @workflow.run
    async def run(self, request: LegacyRunRequest) -> RunResult:
        """Run the state machine until the run ends, the deadline passes or we are cancelled."""
        return await self._run()

    def _continue_as_new(self, state: RunProgress) -> NoReturn:
        carried = LegacyRunRequest.model_validate({**dict(self._request), "progress": state})
        workflow.continue_as_new(carried)


@contextlib.contextmanager
def _attached(context: trace_context.Context | None) -> Iterator[None]:
    """Run the block in `context` (a trace context), or as it is when None."""
    if context is None:
        yield
        return
    token = trace_context.attach(context)
    try:
        yield
    finally:
        trace_context.detach(token)


def _cause(err: ActivityError) -> str:
    cause = err.cause
    if isinstance(cause, ApplicationError) and cause.type == PAYLOADS_TOO_LARGE:
        return (
            f"{cause} (a result above Temporal's payload limit: set "
            "DURABLE_RUNS_PAYLOAD_BUCKET to keep large payloads in S3)"
        )
    return str(cause) if cause is not None else str(err)


def _reads_before_timeout(timeout: TimedOut) -> int:
    """Reads a `poll` activity made before the deadline ended it (its last error's detail)."""
    error = timeout.__cause__
    cause = error.cause if isinstance(error, ActivityError) else None
    if isinstance(cause, ApplicationError):
        if cause.type == NOT_DUE:
            return 0
        if cause.details and isinstance(cause.details[0], int):
            return cause.details[0]
    return 1
