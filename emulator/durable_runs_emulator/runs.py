"""Lifecycle of Assistants runs: one task per run moves it through its statuses on time.

queued → in_progress → (requires_action ⇄ in_progress)* → completed | failed | incomplete |
expired; cancel: → cancelling → cancelled; any non-terminal run past `expires_at` → expired.
Every status change is recorded in the stats; with the `thread_run_webhooks` extension (OpenAI sends
no such events) it is also sent as a `thread.run.<status>` webhook carrying the whole run.
"""

from __future__ import annotations

import asyncio
import json
import time

from durable_runs_emulator import brain
from durable_runs_emulator.errors import bad_request
from durable_runs_emulator.ids import new_id
from durable_runs_emulator.state import EmulatorState
from durable_runs_emulator.store import (
    TERMINAL_RUN_STATUSES,
    MessageRecord,
    RunRecord,
    text_content,
)


def set_status(state: EmulatorState, run: RunRecord, status: str) -> None:
    """Move `run` to `status`, record it, and publish its event if `thread_run_webhooks` is on."""
    now = time.time()
    run.status = status
    if status == "in_progress" and run.started_at is None:
        run.started_at = now
    elif status == "completed":
        run.completed_at = now
    elif status == "failed":
        run.failed_at = now
    elif status == "cancelled":
        run.cancelled_at = now
    if status in TERMINAL_RUN_STATUSES:
        run.pending_calls = []
    state.stats.record_status(run.ref, status, now)
    if state.config.thread_run_webhooks:
        state.webhooks.publish(
            event_type=f"thread.run.{status}",
            data=run.to_dict(),
            ref=run.ref,
            faults=run.scenario.webhook_faults,
        )


def start_run(state: EmulatorState, run: RunRecord) -> None:
    """Record the new run's `queued` status and start its lifecycle task."""
    set_status(state, run, "queued")
    state.spawn(_drive(state, run), name=f"run {run.id}")


def request_cancel(state: EmulatorState, run: RunRecord) -> None:
    """Cancel a run: it answers `cancelling` now and becomes `cancelled` after `cancel_ms`.

    Raises:
        APIError: 400 when the run already ended.
    """
    if run.status in TERMINAL_RUN_STATUSES or run.status == "cancelling":
        raise bad_request(f"Cannot cancel run with status '{run.status}'.")
    run.cancel_requested = True
    set_status(state, run, "cancelling")
    run.wake.set()


def submit_outputs(state: EmulatorState, run: RunRecord, outputs: list[dict[str, str]]) -> None:
    """Accept the outputs of the pending tool calls; the run goes back to `in_progress`.

    Raises:
        APIError: 400 when the run is not waiting for outputs or the call ids do not match.
    """
    if run.status != "requires_action":
        raise bad_request(f'Runs in status "{run.status}" do not accept tool outputs.')
    expected = [call["id"] for call in run.pending_calls]
    given = [str(output.get("tool_call_id") or "") for output in outputs]
    for call_id in given:
        if call_id not in expected:
            raise bad_request(
                f"Invalid tool_call_id: {call_id!r}. No tool call with this id is pending.",
                param="tool_outputs",
            )
    missing = [call_id for call_id in expected if call_id not in given]
    if missing:
        raise bad_request(
            f"Expected tool outputs for call_ids {expected}, got {given}.", param="tool_outputs"
        )
    by_id = {str(output.get("tool_call_id")): str(output.get("output") or "") for output in outputs}
    run.rounds.append(
        [
            brain.AnsweredCall(
                name=call["function"]["name"],
                arguments=json.loads(call["function"]["arguments"] or "{}"),
                output=by_id[call["id"]],
            )
            for call in run.pending_calls
        ]
    )
    run.pending_calls = []
    run.submitted = True
    set_status(state, run, "in_progress")
    run.wake.set()


async def _pause(
    state: EmulatorState, run: RunRecord, ms: float | None, *, until_submitted: bool = False
) -> bool:
    """Wait `ms` (forever if None) or until submitted; False when the run ended meanwhile."""
    deadline = None if ms is None else time.monotonic() + ms / 1000.0
    while True:
        if run.cancel_requested:
            await _finish_cancel(state, run)
            return False
        if run.expires_at is not None and time.time() >= run.expires_at:
            set_status(state, run, "expired")
            return False
        if until_submitted and run.submitted:
            run.submitted = False
            return True
        now = time.monotonic()
        if deadline is not None and now >= deadline:
            return True
        timeouts = []
        if deadline is not None:
            timeouts.append(deadline - now)
        if run.expires_at is not None:
            timeouts.append(max(0.0, run.expires_at - time.time()))
        run.wake.clear()
        try:
            await asyncio.wait_for(run.wake.wait(), timeout=min(timeouts) if timeouts else None)
        except TimeoutError:
            pass


async def _finish_cancel(state: EmulatorState, run: RunRecord) -> None:
    cancel_ms = run.scenario.cancel_ms
    if cancel_ms is None:
        cancel_ms = state.config.cancel_ms
    await asyncio.sleep(cancel_ms / 1000.0)
    set_status(state, run, "cancelled")


def _messages(state: EmulatorState, run: RunRecord) -> list[MessageRecord]:
    thread = state.store.threads.get(run.thread_id)
    return thread.messages if thread is not None else []


def _question(state: EmulatorState, run: RunRecord) -> str:
    for message in reversed(_messages(state, run)):
        if message.role == "user":
            return message.text
    return ""


def _earlier_questions(state: EmulatorState, run: RunRecord) -> list[str]:
    """The thread's user messages before the last one, oldest first."""
    questions = [m.text for m in _messages(state, run) if m.role == "user"]
    return questions[:-1]


def _tool_names(run: RunRecord) -> list[str]:
    return [
        tool["function"]["name"]
        for tool in run.tools
        if tool.get("type") == "function" and isinstance(tool.get("function"), dict)
    ]


def _usage(state: EmulatorState, run: RunRecord, answer: str) -> dict[str, int]:
    prompt = brain.count_tokens(run.instructions, *(m.text for m in _messages(state, run)))
    prompt += sum(brain.count_tokens(c.output) for r in run.rounds for c in r)
    completion = brain.count_tokens(answer) + sum(
        brain.count_tokens(json.dumps(c.arguments)) for r in run.rounds for c in r
    )
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


async def _drive(state: EmulatorState, run: RunRecord) -> None:
    scenario = run.scenario
    queued_ms = None if scenario.outcome == "stay_queued" else scenario.queued_ms
    if not await _pause(state, run, queued_ms):
        return
    set_status(state, run, "in_progress")
    while True:
        if not await _pause(state, run, scenario.duration_ms):
            return
        if scenario.outcome == "failed":
            run.last_error = {"code": scenario.error_code, "message": scenario.error_message}
            set_status(state, run, "failed")
            return
        if scenario.outcome == "incomplete":
            run.incomplete_details = {"reason": "max_completion_tokens"}
            run.usage = _usage(state, run, "")
            set_status(state, run, "incomplete")
            return
        if scenario.outcome == "expired":
            set_status(state, run, "expired")
            return
        step = brain.next_step(
            question=_question(state, run),
            tool_names=_tool_names(run),
            plan=scenario.tool_plan,
            rounds=run.rounds,
            answer_chars=scenario.answer_chars,
            earlier=_earlier_questions(state, run),
        )
        if isinstance(step, brain.ToolRound):
            run.pending_calls = [
                {
                    "id": new_id("call"),
                    "type": "function",
                    "function": {"name": call.name, "arguments": json.dumps(call.arguments)},
                }
                for call in step.calls
            ]
            set_status(state, run, "requires_action")
            if not await _pause(state, run, None, until_submitted=True):
                return
            continue
        thread = state.store.threads.get(run.thread_id)
        if thread is None:  # deleted while the run was going on
            run.last_error = {"code": "server_error", "message": "The thread was deleted."}
            set_status(state, run, "failed")
            return
        state.store.add_message(
            thread,
            role="assistant",
            content=[text_content(step.text)],
            assistant_id=run.assistant_id,
            run_id=run.id,
        )
        run.usage = _usage(state, run, step.text)
        set_status(state, run, "completed")
        return
