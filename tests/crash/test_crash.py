"""Crash tests: real processes (dev server, worker, bridge) killed at chosen points of a run.

Each case ends with the right answer, exactly one run created at the emulator for the workflow,
at most one accepted `submit_tool_outputs` per tool round, and each tool effect applied once per
idempotency key (while the raw invocations show the tool itself ran at least once, sometimes
more).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.client import WorkflowHandle

from durable_runs.models import PollPolicy, RunRequest, RunResult
from emulator.config import EmulatorConfig
from tests.bridge.signing import new_secret
from tests.crash import history
from tests.crash.conftest import Stack, open_stack
from tests.crash.procs import (
    bridge_proc,
    free_port,
    wait_bridge_healthy,
    wait_for,
)
from tests.crash.tools import weather_answer
from workflows.run import AssistantRunWorkflow

pytestmark = [pytest.mark.crash, pytest.mark.timeout(150)]

CITIES = ["Paris", "Tokyo"]
WEATHER = "What is the weather in Paris and Tokyo, in Fahrenheit?"
TOOLS = ["get_weather", "celsius_to_fahrenheit"]
POLL = PollPolicy(initial_interval_s=0.5, backoff=1.5, max_interval_s=2.0, deadline_s=240)
RESULT_BOUND_S = 60.0
"""Bound on a run's end after the crash (sticky-queue hand-over to a new worker is ~10 s)."""


def run_request(question: str = "What is 2+2?", **fields: Any) -> RunRequest:
    """A request with moderate polling, overridable field by field."""
    return RunRequest(**{"messages": [question], "poll": POLL, **fields})


async def start(stack: Stack, req: RunRequest) -> WorkflowHandle[AssistantRunWorkflow, RunResult]:
    """Start the run workflow on the stack's queue."""
    return await stack.client.start_workflow(
        AssistantRunWorkflow.run, req, id=f"crash-{uuid.uuid4()}", task_queue=stack.task_queue
    )


async def result_of(handle: WorkflowHandle[AssistantRunWorkflow, RunResult]) -> RunResult:
    """The workflow's result, bounded."""
    return await asyncio.wait_for(handle.result(rpc_timeout=None), timeout=RESULT_BOUND_S)


async def run_created(stack: Stack, workflow_id: str) -> list[dict[str, Any]]:
    """The emulator's objects for the workflow (empty until the create landed)."""
    return await stack.objects_of(workflow_id)


def accepted(obj: dict[str, Any], kind: str) -> int:
    """Requests of one kind about an emulator object that the emulator answered 2xx."""
    return sum(1 for r in obj["requests"] if r["kind"] == kind and r["status_code"] < 300)


async def assert_one_run(stack: Stack, workflow_id: str, result: RunResult) -> dict[str, Any]:
    """Exactly one run at the emulator, at most one accepted submit per tool round."""
    (run,) = await stack.objects_of(workflow_id)
    assert result.response_ids == [run["id"]]
    assert accepted(run, "submit_tool_outputs") == result.tool_rounds
    return run


def assert_effects_once(stack: Stack, *, keys: int) -> dict[str, int]:
    """Each tool effect applied once per idempotency key; returns raw starts per key."""
    effects = [e["key"] for e in stack.ledger.effects()]
    assert len(effects) == len(set(effects)) == keys, effects
    starts: dict[str, int] = {}
    for record in stack.ledger.invocations("started"):
        starts[record["key"]] = starts.get(record["key"], 0) + 1
    assert set(starts) == set(effects)
    return starts


async def test_kill_right_after_create_run(stack: Stack) -> None:
    """The run exists at the API, Temporal has not recorded it: the new worker finds it."""
    worker = await stack.start_worker("worker-1")
    # The create lands but its answer is lost, so Temporal holds no record of the run.
    metadata = {"emu_create_lose_response": "1", "emu_duration_ms": "1500"}
    handle = await start(stack, run_request(metadata=metadata))
    await wait_for(lambda: run_created(stack, handle.id), within=20, what="the run is created")
    await wait_for(
        lambda: history.failed_attempts(handle, "assistants.start"),
        within=20,
        what="Temporal recorded the lost create",
    )
    worker.kill()
    await stack.start_worker("worker-2")
    result = await result_of(handle)
    assert (result.status, result.answer) == ("completed", "4")
    await assert_one_run(stack, handle.id, result)
    assert result.api_calls["start"] == 1
    assert len(history.worker_identities(await history.events(handle))) == 2


async def test_kill_during_wait(stack: Stack) -> None:
    """Killed while the workflow waits on an in-progress run: the new worker resumes the loop."""
    worker = await stack.start_worker("worker-1")
    handle = await start(stack, run_request(metadata={"emu_duration_ms": "4000"}))

    async def in_progress_and_waiting() -> bool:
        objs = await stack.objects_of(handle.id)
        in_progress = bool(objs) and "in_progress" in objs[0]["status_times"]
        return in_progress and await history.idle_on_timer(handle)

    await wait_for(in_progress_and_waiting, within=20, what="run in_progress, workflow waiting")
    worker.kill()
    await stack.start_worker("worker-2")
    result = await result_of(handle)
    assert (result.status, result.answer) == ("completed", "4")
    await assert_one_run(stack, handle.id, result)
    assert len(history.worker_identities(await history.events(handle))) == 2


async def test_kill_inside_tool_activity(stack: Stack) -> None:
    """Killed while both tools of round 1 run: Temporal retries them by itself within the
    tools' heartbeat timeout, and their effects apply once."""
    worker = await stack.start_worker("worker-1", mode="block")
    handle = await start(stack, run_request(WEATHER, tools=TOOLS))

    async def both_started() -> bool:
        return len(stack.ledger.invocations("started")) >= 2

    await wait_for(both_started, within=20, what="both round-1 tools started")
    worker.kill()
    assert stack.ledger.effects() == []
    await stack.start_worker("worker-2")
    result = await result_of(handle)
    assert (result.status, result.answer) == ("completed", weather_answer(CITIES))
    assert result.tool_rounds == 2
    await assert_one_run(stack, handle.id, result)
    starts = assert_effects_once(stack, keys=4)
    assert sorted(starts.values()) == [1, 1, 2, 2]  # round 1 ran twice, round 2 once


async def test_kill_between_tool_effect_and_submit(stack: Stack) -> None:
    """The tool's effect is written, then its worker dies: the retry applies nothing new and
    the tool outputs are submitted once."""
    worker = await stack.start_worker("worker-1", mode="die_after_effect")
    handle = await start(stack, run_request(WEATHER, tools=TOOLS))

    async def died() -> bool:
        return not worker.alive

    await wait_for(died, within=20, what="the worker killed itself after a tool effect")
    applied = [e["key"] for e in stack.ledger.effects()]
    assert applied, "no effect was written before the crash"
    await stack.start_worker("worker-2")
    result = await result_of(handle)
    assert (result.status, result.answer) == ("completed", weather_answer(CITIES))
    run = await assert_one_run(stack, handle.id, result)
    assert accepted(run, "submit_tool_outputs") == 2
    starts = assert_effects_once(stack, keys=4)
    for key in applied:  # ran again after the crash, applied nothing the second time
        assert starts[key] == 2


async def test_dev_server_restart_mid_run(stack: Stack) -> None:
    """The Temporal server stops mid-run and starts again on the same database."""
    await stack.start_worker("worker-1")
    handle = await start(
        stack, run_request(WEATHER, tools=TOOLS, metadata={"emu_duration_ms": "2500"})
    )

    async def after_first_round() -> bool:
        return len(stack.ledger.effects()) >= 2 and await history.idle_on_timer(handle)

    await wait_for(after_first_round, within=30, what="round 1 done, workflow waiting")
    stack.server.stop()
    assert not stack.server.proc.alive
    await stack.server.start()
    result = await result_of(handle)
    assert (result.status, result.answer) == ("completed", weather_answer(CITIES))
    await assert_one_run(stack, handle.id, result)
    starts = assert_effects_once(stack, keys=4)
    assert set(starts.values()) == {1}


async def test_worker_restart_during_backoff_makes_no_extra_reads(stack: Stack) -> None:
    """A long run survives a worker restart in a backoff timer: no read is made twice."""
    worker = await stack.start_worker("worker-1")
    handle = await start(stack, run_request(metadata={"emu_duration_ms": "6000"}))

    async def some_reads_then_waiting() -> bool:
        objs = await stack.objects_of(handle.id)
        reads = objs[0]["calls"].get("retrieve_run", 0) if objs else 0
        return reads >= 3 and await history.idle_on_timer(handle)

    await wait_for(some_reads_then_waiting, within=20, what="three reads, then a backoff timer")
    worker.kill()
    await stack.start_worker("worker-2")
    result = await result_of(handle)
    assert (result.status, result.answer) == ("completed", "4")
    run = await assert_one_run(stack, handle.id, result)
    retrieves = run["calls"].get("retrieve_run", 0)
    assert retrieves == result.api_calls["read"] == result.checks, (run["calls"], result)


# ---- webhook mode: the bridge is killed mid-run -------------------------------------------


def webhook_stack(
    tmp_path: Path, secret: str, bridge_port: int
) -> AbstractAsyncContextManager[Stack]:
    """A stack whose emulator posts signed events to a bridge on `bridge_port`."""
    config = EmulatorConfig(
        webhook_url=f"http://127.0.0.1:{bridge_port}/webhooks/openai", webhook_secret=secret
    )
    return open_stack(tmp_path, config)


async def bridge_counter(port: int, name: str) -> int:
    """One of the bridge's counters (`received`, `signalled`, ...)."""
    async with httpx.AsyncClient() as http:
        health = (await http.get(f"http://127.0.0.1:{port}/healthz", timeout=2)).json()
    return int(health[name])


@pytest.mark.parametrize("restart_in_time", [True, False], ids=["retry-delivers", "safety-poll"])
async def test_bridge_killed_mid_delivery(tmp_path: Path, restart_in_time: bool) -> None:
    """The bridge dies between deliveries; the emulator's retried delivery (bridge back in
    time) or the workflow's safety poll (bridge back too late) still completes the run."""
    secret = new_secret()
    port = free_port()
    # Safety poll far beyond the test when the retry must deliver; short when it must not.
    safety = 90.0 if restart_in_time else 4.0
    poll = PollPolicy(
        webhooks=True, safety_poll_s=safety, initial_interval_s=safety, deadline_s=240
    )
    async with webhook_stack(tmp_path, secret, port) as stack:
        bridge = bridge_proc(
            tmp_path, port=port, temporal_address=stack.server.address, webhook_secret=secret
        )
        stack.track(bridge)
        await wait_bridge_healthy(bridge, port)
        await stack.start_worker("worker-1")
        handle = await start(stack, run_request(poll=poll, metadata={"emu_duration_ms": "2500"}))
        # The run's first event (queued: acknowledged, not signalled) got through; the
        # completed one, 2.5 s later, meets the dead bridge.
        await wait_for(
            lambda: bridge_counter(port, "received"), within=20, what="an event received"
        )
        bridge.kill()
        started = time.monotonic()

        async def delivery_failed() -> bool:
            return int((await stack.emulator.stats())["webhooks"]["failed"]) >= 1

        await wait_for(delivery_failed, within=20, what="a delivery to the dead bridge failed")
        if restart_in_time:
            bridge.start()
            await wait_bridge_healthy(bridge, port)
        result = await result_of(handle)
        elapsed = time.monotonic() - started
        assert (result.status, result.answer) == ("completed", "4")
        await assert_one_run(stack, handle.id, result)
        webhooks = (await stack.emulator.stats())["webhooks"]
        if restart_in_time:
            assert result.api_calls.get("read", 0) == 0  # the event, not a read, ended the wait
            assert result.events_applied >= 1
            assert elapsed < safety
            # the new bridge process delivered it
            assert await bridge_counter(port, "signalled") >= 1
        else:
            assert result.api_calls["read"] >= 1  # the safety poll found it completed
            bridge.start()
            await wait_bridge_healthy(bridge, port)
        assert webhooks["failed"] >= 1
