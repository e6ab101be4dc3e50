"""Chat sessions end to end: real dev server, real worker, the real SDK against the emulator."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from durable_runs_emulator.server import RunningEmulator
from temporalio.client import Client, WorkflowExecutionStatus

from durable_runs.client import (
    InvalidRequestError,
    cancel_turn,
    chat_turns,
    send_message,
)
from durable_runs.models import ChatOptions, ChatTurnView, PollPolicy
from durable_runs.workflow_names import chat_workflow_id
from tests.conftest import WorkerFactory
from tests.waiting import wait_for

FAST = PollPolicy(initial_interval_s=0.05, backoff=1.5, max_interval_s=0.2, deadline_s=60)
QUICK = {"emu_queued_ms": "0", "emu_duration_ms": "20"}
NAME_CHAT = ("My name is Ada", "What is 2+2?", "What is my name?")


def options(**overrides: object) -> ChatOptions:
    """Chat options with fast polling and quick emulated responses."""
    fields: dict[str, object] = {"poll": FAST, "metadata": QUICK, **overrides}
    return ChatOptions.model_validate(fields)


@pytest.mark.parametrize("backend", ["responses", "assistants"])
async def test_three_turns_where_the_third_depends_on_the_first(
    client: Client, worker_factory: WorkerFactory, emulator: RunningEmulator, backend: str
) -> None:
    session = f"s-{uuid.uuid4().hex[:8]}"
    async with worker_factory(client) as queue:
        replies = []
        for message in NAME_CHAT:
            reply = await send_message(
                client, session, message, request=options(backend=backend), task_queue=queue
            )
            replies.append(reply)
        turns = await chat_turns(client, session)
    assert [r.turn for r in replies] == [1, 2, 3]
    assert [r.answer for r in replies[1:]] == ["4", "Your name is Ada."]
    assert turns == [
        ChatTurnView(turn=n, message=m, answer=r.answer, status="completed")
        for n, m, r in zip((1, 2, 3), NAME_CHAT, replies, strict=True)
    ]
    if backend == "responses":
        # Each turn's response continues the one before: ids carried, no transcript resent.
        responses = emulator.app_state.responses
        chain = [responses[r.response_id].previous_response_id for r in replies if r.response_id]
        assert chain == [None, replies[0].response_id, replies[1].response_id]
        assert [len(responses[r.response_id].input_items) for r in replies if r.response_id] == [
            1,
            1,
            1,
        ]


async def test_sends_while_a_turn_runs_wait_their_turn(
    client: Client, worker_factory: WorkerFactory
) -> None:
    session = f"s-{uuid.uuid4().hex[:8]}"
    slow = options(metadata={"emu_queued_ms": "0", "emu_duration_ms": "600"})
    async with worker_factory(client) as queue:
        first = asyncio.ensure_future(
            send_message(client, session, "My name is Ada", request=slow, task_queue=queue)
        )

        async def running() -> bool:
            try:
                return [t.status for t in await chat_turns(client, session)] == ["running"]
            except Exception:
                return False

        await wait_for(running, what="turn 1 running")
        second = asyncio.ensure_future(
            send_message(client, session, "What is my name?", task_queue=queue)
        )

        async def queued() -> bool:
            turns = await chat_turns(client, session)
            return [t.status for t in turns] == ["running", "waiting"]

        await wait_for(queued, what="turn 2 waiting behind turn 1")
        one, two = await asyncio.gather(first, second)
    assert (one.turn, two.turn) == (1, 2)
    assert two.answer == "Your name is Ada."


async def test_a_cancelled_turn_ends_and_the_chain_goes_on(
    client: Client, worker_factory: WorkerFactory, emulator: RunningEmulator
) -> None:
    session = f"s-{uuid.uuid4().hex[:8]}"
    handle = client.get_workflow_handle(chat_workflow_id(session))
    # A session run keeps its options: close it when idle to change them between turns.
    quick = options(idle_close_s=0.5)
    stuck = options(idle_close_s=0.5, metadata={"emu_outcome": "stay_queued"})

    async def closed() -> bool:
        return (await handle.describe()).status == WorkflowExecutionStatus.COMPLETED

    async with worker_factory(client) as queue:
        await send_message(client, session, "My name is Ada", request=quick, task_queue=queue)
        await wait_for(closed, what="session closed after turn 1")
        sending = asyncio.ensure_future(
            send_message(client, session, "Wait forever", request=stuck, task_queue=queue)
        )
        turn_2 = await wait_for(
            lambda: _response_of(emulator, session, turn=2), what="turn 2's response created"
        )
        await cancel_turn(client, session)
        cancelled = await asyncio.wait_for(sending, 30)
        await wait_for(closed, what="session closed after turn 2")
        after = await send_message(
            client, session, "What is my name?", request=quick, task_queue=queue
        )
    assert (cancelled.turn, cancelled.status, cancelled.answer) == (2, "cancelled", "")
    responses = emulator.app_state.responses
    assert responses[turn_2].status == "cancelled"
    assert (after.turn, after.answer) == (3, "Your name is Ada.")
    # Turn 3 continues turn 1, the last completed turn, not the cancelled one.
    assert after.response_id is not None
    assert (
        responses[after.response_id].previous_response_id == responses[turn_2].previous_response_id
    )


async def _response_of(emulator: RunningEmulator, session: str, *, turn: int) -> str | None:
    stats = await emulator.stats()
    ids: list[str] = stats["responses_by_workflow"].get(f"{chat_workflow_id(session)}/turn-{turn}")
    return ids[0] if ids else None


async def test_an_idle_session_closes_and_a_later_message_continues_its_chain(
    client: Client, worker_factory: WorkerFactory
) -> None:
    session = f"s-{uuid.uuid4().hex[:8]}"
    handle = client.get_workflow_handle(chat_workflow_id(session))
    async with worker_factory(client) as queue:
        first = await send_message(
            client, session, "My name is Ada", request=options(idle_close_s=1), task_queue=queue
        )

        async def closed() -> bool:
            return (await handle.describe()).status == WorkflowExecutionStatus.COMPLETED

        await wait_for(closed, what="idle session closed")
        closed_run = (await handle.describe()).run_id
        later = await send_message(client, session, "What is my name?", task_queue=queue)
        reopened_run = (await handle.describe()).run_id
    assert first.turn == 1
    assert (later.turn, later.answer) == (2, "Your name is Ada.")
    assert reopened_run != closed_run


async def test_an_empty_message_is_refused_without_a_turn(
    client: Client, worker_factory: WorkerFactory
) -> None:
    session = f"s-{uuid.uuid4().hex[:8]}"
    async with worker_factory(client) as queue:
        await send_message(client, session, "Hello", request=options(), task_queue=queue)
        with pytest.raises(InvalidRequestError, match="non-empty"):
            await send_message(client, session, "   ", task_queue=queue)
        turns = await chat_turns(client, session)
    assert [t.turn for t in turns] == [1]
