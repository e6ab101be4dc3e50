"""Crash test of a chat session: the worker process is killed while a turn runs.

The `send` Update was accepted before the crash: a new worker replays the session and its turn's
child run, the turn ends with exactly one response at the emulator, the client that sent the
message gets its answer, and the conversation goes on from it.
"""

from __future__ import annotations

import asyncio
import uuid

import pytest

from durable_runs.client import send_message
from durable_runs.models import ChatOptions, PollPolicy
from durable_runs.workflow_names import chat_turn_workflow_id
from tests.crash import history
from tests.crash.conftest import Stack
from tests.crash.test_crash import RESULT_BOUND_S, accepted
from tests.waiting import wait_for

pytestmark = [pytest.mark.crash, pytest.mark.timeout(150)]

POLL = PollPolicy(initial_interval_s=0.5, backoff=1.5, max_interval_s=2.0, deadline_s=240)


async def test_kill_the_worker_while_a_chat_turn_runs(stack: Stack) -> None:
    session = f"crash-{uuid.uuid4().hex[:8]}"
    options = ChatOptions(poll=POLL, metadata={"emu_duration_ms": "4000"})
    worker = await stack.start_worker("worker-1")
    sending = asyncio.ensure_future(
        send_message(
            stack.client, session, "My name is Ada", request=options, task_queue=stack.task_queue
        )
    )
    turn_1 = chat_turn_workflow_id(session, 1)

    async def waiting_between_reads() -> bool:
        # Killed in the WAIT, not inside the create: a create cut off after the API committed
        # it leaves a second response (the documented Responses window, tested in test_crash).
        objects = await stack.objects_of(turn_1)
        in_progress = bool(objects) and "in_progress" in objects[0]["status_times"]
        return in_progress and await history.idle_on_timer(stack.client.get_workflow_handle(turn_1))

    await wait_for(waiting_between_reads, within=20, what="turn 1 in_progress, its run waiting")
    worker.kill()
    await stack.start_worker("worker-2")
    reply = await asyncio.wait_for(sending, RESULT_BOUND_S)
    (response,) = await stack.objects_of(turn_1)
    assert (reply.turn, reply.status, reply.response_id) == (1, "completed", response["id"])
    assert accepted(response, "create_response") == 1
    turn_handle = stack.client.get_workflow_handle(turn_1)
    assert len(history.worker_identities(await history.events(turn_handle))) == 2
    after = await asyncio.wait_for(
        send_message(stack.client, session, "What is my name?", task_queue=stack.task_queue),
        RESULT_BOUND_S,
    )
    assert (after.turn, after.answer) == (2, "Your name is Ada.")
