"""A long chat session stays small: continue-as-new every 80 turns, history bounded per run.

CI sends 200 turns; `pytest tests/chat/test_long_session.py -s --chat-turns 1000` sends 1,000.
"""

from __future__ import annotations

import time
import uuid

from temporalio.client import Client

from durable_runs.client import chat_turns, send_message
from durable_runs.models import ChatOptions, PollPolicy
from durable_runs.workflow_names import chat_workflow_id
from tests.conftest import WorkerFactory

TURNS_PER_RUN = 80
RECENT = 5
MAX_EVENTS_PER_RUN = 1_500
"""Bound on one session run's history: under 14 events per turn, never the transcript."""
MAX_BYTES_PER_RUN = 400 * 1024

INSTANT = {"emu_queued_ms": "0", "emu_duration_ms": "0"}
"""The emulator's fastest scenario: a response is done as soon as it exists."""
SHORTEST = PollPolicy(initial_interval_s=0.01, backoff=1.0, max_interval_s=0.01, deadline_s=60)


async def test_a_long_session_keeps_each_history_small(
    client: Client, worker_factory: WorkerFactory, chat_turns_count: int
) -> None:
    turns = chat_turns_count
    session = f"long-{uuid.uuid4().hex[:8]}"
    chat = ChatOptions(
        poll=SHORTEST, metadata=INSTANT, turns_per_run=TURNS_PER_RUN, recent_turns=RECENT
    )
    started = time.monotonic()
    async with worker_factory(client) as queue:
        first = await send_message(
            client, session, "My name is Ada", request=chat, task_queue=queue
        )
        for turn in range(2, turns):
            await send_message(client, session, f"What is {turn}+1?", task_queue=queue)
        last = await send_message(client, session, "What is my name?", task_queue=queue)
        recent = await chat_turns(client, session)
    elapsed = time.monotonic() - started

    runs = [
        execution
        async for execution in client.list_workflows(f"WorkflowId = '{chat_workflow_id(session)}'")
    ]
    sizes = [(e.history_length, e.raw_info.history_size_bytes) for e in runs]
    print(
        f"\n{turns} turns in {elapsed:.1f} s; {len(runs)} session runs; "
        f"history per run: max {max(n for n, _ in sizes)} events, "
        f"max {max(b for _, b in sizes)} bytes; total {sum(n for n, _ in sizes)} events"
    )
    assert (first.turn, last.turn, last.answer) == (1, turns, "Your name is Ada.")
    # Every TURNS_PER_RUN turns a run continues as new; the last run holds the last turns.
    assert len(runs) == -(-turns // TURNS_PER_RUN)
    assert [t.turn for t in recent] == list(range(turns - RECENT + 1, turns + 1))
    assert all(n <= MAX_EVENTS_PER_RUN and b <= MAX_BYTES_PER_RUN for n, b in sizes)
