"""The API budget: the OpenAI queue's rate limit, and which calls it lets through first."""

from __future__ import annotations

import contextlib

from durable_runs_emulator.server import RunningEmulator
from temporalio.client import Client
from temporalio.service import RPCError

from durable_runs.models import PollPolicy
from tests.conftest import WorkerFactory
from tests.waiting import wait_for
from tests.workflows.helpers import request, runs_of, start

BUDGET_RPM = 300
"""About 4.8 API calls a second for the whole queue."""
NEW_RUNS = 10


async def test_a_finishing_run_goes_ahead_of_new_runs_under_the_budget(
    client: Client, worker_factory: WorkerFactory, emulator: RunningEmulator
) -> None:
    async with worker_factory(client, openai_rpm=BUDGET_RPM) as queue:
        first = await start(client, queue, request(metadata={"emu_duration_ms": "800"}))

        async def first_run_created() -> bool:
            return bool(await runs_of(emulator, first.id))

        await wait_for(first_run_created, within=20, what="the first run created")
        # Ten new runs queue 10 prepares and then 10 creates: about 4 s of budget.
        later = [
            await start(
                client,
                queue,
                request(
                    metadata={"emu_duration_ms": "200"},
                    poll=PollPolicy(initial_interval_s=1.0, deadline_s=60),
                ),
            )
            for _ in range(NEW_RUNS)
        ]
        result = await first.result()
        created = [bool(await runs_of(emulator, h.id)) for h in later]
        for handle in later:
            with contextlib.suppress(RPCError):
                await handle.terminate()
    assert result.status == "completed"
    assert result.answer == "4"
    # The first run's reads and answer jumped the queue: first in first out, they would have
    # waited behind every new run's prepare (and the creates scheduled before them).
    assert sum(created) <= NEW_RUNS // 2, created


async def test_without_a_budget_the_read_that_sees_completion_brings_the_answer(
    client: Client, worker_factory: WorkerFactory, emulator: RunningEmulator
) -> None:
    async with worker_factory(client) as queue:
        handle = await start(client, queue, request(backend="assistants"))
        result = await handle.result()
    assert result.status == "completed"
    assert result.answer == "4"
    assert "answer" not in result.api_calls, result.api_calls  # no activity of its own
    (run,) = await runs_of(emulator, handle.id)
    assert run["calls"]["list_messages"] == 1, run["calls"]


async def test_under_a_budget_every_activity_is_one_request(
    client: Client, worker_factory: WorkerFactory, emulator: RunningEmulator
) -> None:
    async with worker_factory(client, openai_rpm=6000) as queue:
        handle = await start(client, queue, request(backend="assistants"))
        result = await handle.result()
    assert result.answer == "4"
    assert result.api_calls["answer"] == 1, result.api_calls
    (run,) = await runs_of(emulator, handle.id)
    assert run["calls"]["list_messages"] == 1, run["calls"]
    assert run["calls"]["retrieve_run"] == result.api_calls["read"], (run["calls"], result)
