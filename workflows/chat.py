"""`ChatSessionWorkflow`: one conversation as a durable workflow, one Update per user message.

A client sends each message with the `send` Update (the first with Update-with-Start) and gets
the turn's `ChatReply` back. Each turn is a child `RunWorkflow` (`chat-<session>/turn-<n>`):
the same run loop as any run (events, backoff, tools), so webhooks reach it the way they reach
every run. Turns chain by ids only: on the Responses backend a turn's first response continues
the last completed turn's final response (`previous_response_id`); on the Assistants backend
every turn is a run on the session's thread.

Turns are serialized: a `send` that arrives while a turn runs waits its turn (in arrival
order, shown as `waiting` by the `turns` query) instead of being refused. The `cancel_turn`
signal cancels the running turn's child (and so its response or run at the API); the chain
then goes on from the last completed turn.

History stays bounded: the workflow keeps no transcript; after `turns_per_run` turns (or when
Temporal suggests it) it waits for its Update handlers to finish and continues as new,
carrying the `ChatChain` (ids and the turn counter). After `idle_close_s` without a turn it
closes, returning the chain; the client's next `send` starts a new run from it.

Runs outside the workflow sandbox, like `RunWorkflow` and under the same discipline: no state
at module level, time only from `workflow.now()`, recorded histories replayed in CI.
"""

from __future__ import annotations

import asyncio
from collections import deque

from temporalio import workflow
from temporalio.exceptions import CancelledError, ChildWorkflowError

with workflow.unsafe.imports_passed_through():
    from pydantic import ValidationError

    from durable_runs.models import (
        ChatChain,
        ChatReply,
        ChatSessionEnd,
        ChatSessionInput,
        ChatTurnView,
        RunRequest,
        RunResult,
    )
    from durable_runs.workflow_names import (
        CANCEL_TURN_SIGNAL,
        CHAT_TURN_PREFIX,
        CHAT_WORKFLOW_TYPE,
        SEND_UPDATE,
        TURNS_QUERY,
    )

from durable_runs.workflows.child import start_assistant
from durable_runs.workflows.run import RunWorkflow


def turn_request(input: ChatSessionInput, chain: ChatChain, message: str) -> RunRequest:
    """The `RunRequest` of the next turn: the session's options, the message and the chain."""
    options = input.options
    fields: dict[str, object] = {
        "backend": options.backend,
        "messages": [message],
        "model": options.model,
        "instructions": options.instructions,
        "tools": options.tools,
        "poll": options.poll,
        "metadata": options.metadata,
        "options": options.options,
    }
    if options.backend == "responses":
        fields["previous_response_id"] = chain.last_response_id
    else:
        fields["thread_id"] = chain.thread_id
        fields["assistant_id"] = chain.assistant_id or options.assistant_id
    return RunRequest.model_validate(fields)


@workflow.defn(name=CHAT_WORKFLOW_TYPE, failure_exception_types=[ValidationError], sandboxed=False)
class ChatSessionWorkflow:
    """A conversation: the `send` Update runs one turn; `turns` shows the recent ones."""

    @workflow.init
    def __init__(self, input: ChatSessionInput) -> None:
        """Set up the session from its input (the chain a previous run handed on)."""
        self._input = ChatSessionInput.model_validate(input)
        self._chain = self._input.chain
        self._turns_at_start = self._chain.turns
        self._entered = self._chain.turns
        self._recent: deque[ChatTurnView] = deque(maxlen=self._input.options.recent_turns)
        self._lock = asyncio.Lock()
        self._current: workflow.ChildWorkflowHandle[RunWorkflow, RunResult] | None = None
        self._last_active = workflow.now()

    @workflow.run
    async def run(self, input: ChatSessionInput) -> ChatSessionEnd:
        """Serve turns until the session is idle for `idle_close_s`, continuing as new.

        Args:
            input: The session id, its options and the chain to go on from.

        Returns:
            The chain, for the session run that a later message starts.
        """
        idle_s = self._input.options.idle_close_s
        # One idle timer per quiet period, not one per turn: a timer that fires during or
        # soon after a turn is followed by one for the rest of the idle time.
        while not self._should_continue_as_new():
            if not workflow.all_handlers_finished():
                await workflow.wait_condition(
                    lambda: workflow.all_handlers_finished() or self._should_continue_as_new()
                )
                continue
            remaining = idle_s - (workflow.now() - self._last_active).total_seconds()
            if remaining <= 0:
                return ChatSessionEnd(session_id=self._input.session_id, chain=self._chain)
            try:
                await workflow.wait_condition(self._should_continue_as_new, timeout=remaining)
            except TimeoutError:
                pass
        await workflow.wait_condition(workflow.all_handlers_finished)
        workflow.continue_as_new(self._input.model_copy(update={"chain": self._chain}))

    @workflow.update(name=SEND_UPDATE)
    async def send(self, message: str) -> ChatReply:
        """Run one turn with `message` (after the turns before it) and return its answer.

        Args:
            message: The user's message.

        Returns:
            The turn's answer; a cancelled or failed turn has an empty answer and its status.
        """
        self._entered += 1
        turn = self._entered
        self._show(ChatTurnView(turn=turn, message=message, status="waiting"))
        try:
            async with self._lock:
                self._show(ChatTurnView(turn=turn, message=message, status="running"))
                reply = await self._run_turn(turn, message)
                self._show(
                    ChatTurnView(
                        turn=turn, message=message, answer=reply.answer, status=reply.status
                    )
                )
                return reply
        finally:
            self._last_active = workflow.now()

    @send.validator
    def _validate_send(self, message: str) -> None:
        """Refuse an empty message before it is written to history."""
        if not message.strip():
            raise ValueError("message: give a non-empty message")

    @workflow.signal(name=CANCEL_TURN_SIGNAL)
    def cancel_turn(self) -> None:
        """Cancel the turn that runs now (its run is cancelled at the API); else nothing."""
        if self._current is not None and not self._current.done():
            self._current.cancel()

    @workflow.query(name=TURNS_QUERY)
    def turns(self) -> list[ChatTurnView]:
        """The recent turns of this workflow run, oldest first (not carried across runs)."""
        return list(self._recent)

    async def _run_turn(self, turn: int, message: str) -> ChatReply:
        request = turn_request(self._input, self._chain, message)
        # The child handle is the task that awaits the child: cancelling it cancels the child.
        self._current = await start_assistant(request, name=f"{CHAT_TURN_PREFIX}{turn}")
        try:
            result = await self._current
        except asyncio.CancelledError:
            return self._reply(turn, status="cancelled")
        except ChildWorkflowError as err:
            if isinstance(err.cause, CancelledError):
                return self._reply(turn, status="cancelled")
            workflow.logger.warning("chat turn %d failed: %s", turn, err.cause or err)
            return self._reply(turn, status="failed")
        finally:
            self._current = None
        if result.status == "completed":
            self._chain = ChatChain(
                turns=turn,
                last_response_id=result.run_id if result.backend == "responses" else None,
                thread_id=result.thread_id,
                assistant_id=result.assistant_id,
            )
        else:
            # The Responses chain stays at the last completed turn; a thread made by this
            # turn (and its assistant) hold the session's later turns.
            chain = self._chain
            self._chain = chain.model_copy(
                update={
                    "turns": turn,
                    "thread_id": result.thread_id or chain.thread_id,
                    "assistant_id": result.assistant_id or chain.assistant_id,
                }
            )
        return self._reply(turn, status=result.status, result=result)

    def _reply(self, turn: int, *, status: str, result: RunResult | None = None) -> ChatReply:
        if result is None:
            self._chain = self._chain.model_copy(update={"turns": turn})
        return ChatReply(
            session_id=self._input.session_id,
            turn=turn,
            answer=result.answer if result else "",
            response_id=result.run_id if result else None,
            status=status,
        )

    def _show(self, view: ChatTurnView) -> None:
        """Record the turn's latest view in the bounded recent list (replacing its older one)."""
        for index, known in enumerate(self._recent):
            if known.turn == view.turn:
                self._recent[index] = view
                return
        self._recent.append(view)

    def _should_continue_as_new(self) -> bool:
        turns_here = self._chain.turns - self._turns_at_start
        return (
            turns_here >= self._input.options.turns_per_run
            or workflow.info().is_continue_as_new_suggested()
        )
