"""SIGTERM to a worker process while an API call is in flight: the call finishes, once.

The emulator commits the create and holds its answer (the crash suite's `AnswerGate`) until the
worker has begun its shutdown; then it answers. With the shutdown grace, the worker's create
activity completes (no second attempt, one create at the API) and the process exits 0. Without
it (grace 0, the fault planted), the call is cut off and retried: a second create.
"""

from __future__ import annotations

import pytest
from temporalio.api.history.v1 import HistoryEvent

from durable_runs.processes import Part
from tests.crash import history
from tests.crash.conftest import Stack
from tests.crash.procs import START_BOUND_S, worker_proc
from tests.crash.test_crash import (
    assert_one_per_step,
    result_of,
    run_created,
    run_request,
    start,
    start_not_completed,
)
from tests.crash.tools import LEDGER_ENV
from tests.waiting import wait_for

pytestmark = [pytest.mark.crash, pytest.mark.timeout(120)]

SHUTDOWN_BEGUN = "Beginning worker shutdown"
"""The SDK's log line as each worker (the workflow worker, then its `-openai` companion)
stops polling."""
EXIT_BOUND_S = 30.0


async def start_worker(stack: Stack, name: str, *, grace_s: float) -> Part:
    """A worker process with `DURABLE_RUNS_SHUTDOWN_GRACE_S=grace_s`, polling."""
    proc = stack.track(
        worker_proc(
            stack.workdir,
            name,
            client=stack.client,
            task_queue=stack.task_queue,
            openai_base_url=stack.emulator.base_url,
            extra_env={
                LEDGER_ENV: str(stack.ledger.directory),
                "DURABLE_RUNS_SHUTDOWN_GRACE_S": str(grace_s),
            },
        )
    )
    await proc.wait_ready(bound_s=START_BOUND_S)
    return proc


def completed_attempt(events: list[HistoryEvent], activity: str) -> int | None:
    """The attempt that completed the one `activity` of the history (None: none completed).

    Temporal records an activity's started event with the attempt that ended it, so a call
    cut off and retried completes as attempt 2 or later.
    """
    by_id = {e.event_id: e for e in events}
    for event in events:
        if not event.HasField("activity_task_completed_event_attributes"):
            continue
        done = event.activity_task_completed_event_attributes
        scheduled = by_id[done.scheduled_event_id].activity_task_scheduled_event_attributes
        if scheduled.activity_type.name == activity:
            return by_id[done.started_event_id].activity_task_started_event_attributes.attempt
    return None


@pytest.mark.parametrize("grace_s", [30.0, 0.0], ids=["grace", "no-grace-planted-fault"])
async def test_sigterm_lets_the_api_call_finish(stack: Stack, grace_s: float) -> None:
    """SIGTERM during a create: with the grace it completes once, as attempt 1, and the
    worker exits 0; a second worker finishes the run."""
    worker = await start_worker(stack, "worker-1", grace_s=grace_s)
    stack.gate.close()
    handle = await start(stack, run_request(backend="responses"))

    async def committed_unanswered() -> bool:
        held = bool(await run_created(stack, handle.id)) and stack.gate.held >= 1
        return held and await start_not_completed(handle, "responses.start")

    await wait_for(committed_unanswered, within=20, what="the create committed, its answer held")
    worker.process.terminate()

    def shutdowns_begun() -> int:
        return worker.log_path.read_text(errors="replace").count(SHUTDOWN_BEGUN)

    async def companion_stopping() -> bool:
        return shutdowns_begun() >= 2 or not worker.alive

    await wait_for(companion_stopping, within=20, what="both workers began their shutdown")
    stack.gate.opened.set()
    assert await worker.wait_exit(within=EXIT_BOUND_S) == 0, worker.log_tail()

    await stack.start_worker("worker-2")
    result = await result_of(handle)
    assert (result.status, result.answer) == ("completed", "4")
    attempt = completed_attempt(await history.events(handle), "responses.start")
    objects = await stack.objects_of(handle.id)
    if grace_s:
        assert attempt == 1
        await assert_one_per_step(stack, handle.id, result)
    else:
        # Cut off by the shutdown, the create was retried and made a second response.
        assert attempt is not None and attempt >= 2
        assert len(objects) == 2
