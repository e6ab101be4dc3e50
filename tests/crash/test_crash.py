"""Crash tests: real processes (dev server, worker, bridge) killed at chosen points of a run.

Each case ends with the right answer, exactly one run created at the emulator for the workflow,
at most one accepted `submit_tool_outputs` per tool round, and each tool effect applied once per
idempotency key (while the raw invocations show the tool itself ran at least once, sometimes
more).
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from contextlib import AbstractAsyncContextManager
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from durable_runs_emulator.config import EmulatorConfig
from temporalio.client import WorkflowHandle

from durable_runs.models import (
    ApprovalDecision,
    ApprovalPolicy,
    PollPolicy,
    RunRequest,
    RunResult,
    RunStatusView,
)
from durable_runs.processes import Part, wait_port_bindable
from durable_runs.workflow_names import DECIDE_UPDATE, STATUS_QUERY
from durable_runs.workflows.run import RunWorkflow
from tests.bridge.signing import new_secret
from tests.crash import history
from tests.crash.conftest import Stack, open_stack
from tests.crash.procs import START_BOUND_S, bridge_proc, free_port
from tests.crash.tools import weather_answer
from tests.waiting import wait_for

pytestmark = [pytest.mark.crash, pytest.mark.timeout(150)]
BACKENDS = pytest.mark.parametrize("backend", ["responses", "assistants"])
"""Cases that hold for both backends run on each (Responses first: what OpenAI serves)."""

CITIES = ["Paris", "Tokyo"]
WEATHER = "What is the weather in Paris and Tokyo, in Fahrenheit?"
TOOLS = ["get_weather", "celsius_to_fahrenheit"]
POLL = PollPolicy(initial_interval_s=0.5, backoff=1.5, max_interval_s=2.0, deadline_s=240)
RESULT_BOUND_S = 60.0
"""Bound on a run's end after the crash (the hand-over to a new worker takes the workers'
`DURABLE_RUNS_STICKY_TIMEOUT_S`, 1 s here, plus an interrupted activity's timeout)."""


def run_request(question: str = "What is 2+2?", **fields: Any) -> RunRequest:
    """A request with moderate polling, overridable field by field."""
    return RunRequest(**{"messages": [question], "poll": POLL, **fields})


async def start(stack: Stack, req: RunRequest) -> WorkflowHandle[RunWorkflow, RunResult]:
    """Start the run workflow on the stack's queue."""
    return await stack.client.start_workflow(
        RunWorkflow.run, req, id=f"crash-{uuid.uuid4()}", task_queue=stack.task_queue
    )


async def result_of(handle: WorkflowHandle[RunWorkflow, RunResult]) -> RunResult:
    """The workflow's result, bounded."""
    return await asyncio.wait_for(handle.result(rpc_timeout=None), timeout=RESULT_BOUND_S)


async def run_created(stack: Stack, workflow_id: str) -> list[dict[str, Any]]:
    """The emulator's objects for the workflow (empty until the create landed)."""
    return await stack.objects_of(workflow_id)


def accepted(obj: dict[str, Any], kind: str) -> int:
    """Requests of one kind about an emulator object that the emulator answered 2xx."""
    return sum(1 for r in obj["requests"] if r["kind"] == kind and r["status_code"] < 300)


async def assert_one_per_step(
    stack: Stack, workflow_id: str, result: RunResult
) -> list[dict[str, Any]]:
    """One object per step at the emulator, each step's work accepted once.

    Assistants: one run, one accepted submit per tool round. Responses: one response per step
    (the first, then one follow-up per tool round), each created by one accepted request.
    """
    objects = await stack.objects_of(workflow_id)
    assert [o["id"] for o in objects] == result.response_ids
    if result.backend == "assistants":
        (run,) = objects
        assert accepted(run, "submit_tool_outputs") == result.tool_rounds
    else:
        assert len(objects) == 1 + result.tool_rounds
        assert all(accepted(o, "create_response") == 1 for o in objects)
    return objects


def reads(objects: list[dict[str, Any]]) -> int:
    """Status reads the emulator served about these objects."""
    return sum(o["calls"].get(k, 0) for o in objects for k in ("retrieve_run", "retrieve_response"))


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
    """Assistants: the run exists at the API, Temporal has not recorded it: the new worker finds
    it by metadata."""
    worker = await stack.start_worker("worker-1")
    # The create lands but its answer is lost, so Temporal holds no record of the run.
    metadata = {"emu_create_lose_response": "1", "emu_duration_ms": "1500"}
    handle = await start(stack, run_request(backend="assistants", metadata=metadata))
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
    await assert_one_per_step(stack, handle.id, result)
    assert result.api_calls["start"] == 1
    assert len(history.worker_identities(await history.events(handle))) == 2


async def start_not_completed(handle: WorkflowHandle[Any, Any], activity: str) -> bool:
    """True while the workflow's history holds no completed `activity`."""
    scheduled = {
        e.event_id
        for e in await history.events(handle)
        if e.HasField("activity_task_scheduled_event_attributes")
        and e.activity_task_scheduled_event_attributes.activity_type.name == activity
    }
    return scheduled != set() and not any(
        e.activity_task_completed_event_attributes.scheduled_event_id in scheduled
        for e in await history.events(handle)
        if e.HasField("activity_task_completed_event_attributes")
    )


@BACKENDS
async def test_kill_after_the_api_committed_the_create(stack: Stack, backend: str) -> None:
    """Killed when the API has made the run/response but its answer has not reached the worker.

    Assistants: the retried create finds its run by metadata, one run. Responses: the API offers
    no lookup, so the retry makes a second response: exactly one orphan, never used by the
    workflow, carrying our metadata. That is the window the soak measures.
    """
    worker = await stack.start_worker("worker-1")
    stack.gate.close()
    handle = await start(stack, run_request(backend=backend))

    async def committed_unanswered() -> bool:
        held = bool(await run_created(stack, handle.id)) and stack.gate.held >= 1
        return held and await start_not_completed(handle, f"{backend}.start")

    await wait_for(committed_unanswered, within=20, what="the create committed, its answer held")
    worker.kill()
    stack.gate.opened.set()
    await stack.start_worker("worker-2")
    result = await result_of(handle)
    assert (result.status, result.answer) == ("completed", "4")
    objects = await stack.objects_of(handle.id)
    if backend == "assistants":
        await assert_one_per_step(stack, handle.id, result)
    else:
        orphan, used = objects
        assert result.response_ids == [used["id"]]
        assert orphan["metadata"]["durable_runs_step"] == used["metadata"]["durable_runs_step"]
    assert len(history.worker_identities(await history.events(handle))) == 2


@BACKENDS
async def test_kill_during_wait(stack: Stack, backend: str) -> None:
    """Killed while the workflow waits on an in-progress run: the new worker resumes the loop."""
    worker = await stack.start_worker("worker-1")
    handle = await start(stack, run_request(backend=backend, metadata={"emu_duration_ms": "4000"}))

    async def in_progress_and_waiting() -> bool:
        objs = await stack.objects_of(handle.id)
        in_progress = bool(objs) and "in_progress" in objs[0]["status_times"]
        return in_progress and await history.idle_on_timer(handle)

    await wait_for(in_progress_and_waiting, within=20, what="run in_progress, workflow waiting")
    worker.kill()
    await stack.start_worker("worker-2")
    result = await result_of(handle)
    assert (result.status, result.answer) == ("completed", "4")
    await assert_one_per_step(stack, handle.id, result)
    assert len(history.worker_identities(await history.events(handle))) == 2


async def test_kill_while_awaiting_approval(stack: Stack) -> None:
    """Killed while the run awaits a person's decision (no activity pending): the decision
    reaches the new worker, and the approved tool's effect applies once."""
    worker = await stack.start_worker("worker-1")
    plan = json.dumps([[{"name": "refund_order", "arguments": {"order_id": "A-17", "amount": 2}}]])
    req = run_request(
        "Refund order A-17",
        tools=["refund_order"],
        approval=ApprovalPolicy(tools=["refund_order"]),
        metadata={"emu_tool_plan": plan},
    )
    handle = await start(stack, req)

    async def pending() -> str | None:
        view = await handle.query(STATUS_QUERY, result_type=RunStatusView)
        return view.pending_approvals[0].call_id if view.pending_approvals else None

    call_id = await wait_for(pending, within=20, what="the run awaiting approval")
    description = await handle.describe()
    assert not description.raw_description.pending_activities
    worker.kill()
    await stack.start_worker("worker-2")
    decision = ApprovalDecision(call_id=call_id, approve=True, reason="crash test")
    await handle.execute_update(DECIDE_UPDATE, decision, rpc_timeout=timedelta(seconds=60))
    result = await result_of(handle)
    assert result.status == "completed" and '"amount": 2' in result.answer
    await assert_one_per_step(stack, handle.id, result)
    assert_effects_once(stack, keys=1)
    assert len(history.worker_identities(await history.events(handle))) == 2


@BACKENDS
async def test_kill_inside_tool_activity(stack: Stack, backend: str) -> None:
    """Killed while both tools of round 1 run: Temporal retries them by itself within the
    tools' heartbeat timeout, and their effects apply once."""
    worker = await stack.start_worker("worker-1", mode="block")
    handle = await start(stack, run_request(WEATHER, backend=backend, tools=TOOLS))

    async def both_started() -> bool:
        return len(stack.ledger.invocations("started")) >= 2

    await wait_for(both_started, within=20, what="both round-1 tools started")
    worker.kill()
    assert stack.ledger.effects() == []
    await stack.start_worker("worker-2")
    result = await result_of(handle)
    assert (result.status, result.answer) == ("completed", weather_answer(CITIES))
    assert result.tool_rounds == 2
    await assert_one_per_step(stack, handle.id, result)
    starts = assert_effects_once(stack, keys=4)
    assert sorted(starts.values()) == [1, 1, 2, 2]  # round 1 ran twice, round 2 once


@BACKENDS
async def test_kill_between_tool_effect_and_submit(stack: Stack, backend: str) -> None:
    """The tool's effect is written, then its worker dies before the submit (Responses: the
    follow-up create): the retry applies nothing new and each round is submitted once."""
    worker = await stack.start_worker("worker-1", mode="die_after_effect")
    handle = await start(stack, run_request(WEATHER, backend=backend, tools=TOOLS))

    async def died() -> bool:
        return not worker.alive

    await wait_for(died, within=20, what="the worker killed itself after a tool effect")
    applied = [e["key"] for e in stack.ledger.effects()]
    assert applied, "no effect was written before the crash"
    await stack.start_worker("worker-2")
    result = await result_of(handle)
    assert (result.status, result.answer) == ("completed", weather_answer(CITIES))
    assert result.tool_rounds == 2
    await assert_one_per_step(stack, handle.id, result)
    starts = assert_effects_once(stack, keys=4)
    for key in applied:  # ran again after the crash, applied nothing the second time
        assert starts[key] == 2


@BACKENDS
async def test_kill_after_follow_up_create(stack: Stack, backend: str) -> None:
    """Killed after round 1 was submitted (Responses: the follow-up response exists) while the
    workflow waits: no second submit, no second follow-up, round 2 runs once."""
    worker = await stack.start_worker("worker-1")
    metadata = {"emu_duration_ms": "2500"}
    handle = await start(
        stack, run_request(WEATHER, backend=backend, tools=TOOLS, metadata=metadata)
    )

    async def submitted_and_waiting() -> bool:
        objs = await stack.objects_of(handle.id)
        submitted = sum(accepted(o, "submit_tool_outputs") for o in objs) + len(objs) - 1
        return submitted >= 1 and await history.idle_on_timer(handle)

    await wait_for(submitted_and_waiting, within=30, what="round 1 submitted, workflow waiting")
    worker.kill()
    await stack.start_worker("worker-2")
    result = await result_of(handle)
    assert (result.status, result.answer) == ("completed", weather_answer(CITIES))
    await assert_one_per_step(stack, handle.id, result)
    assert set(assert_effects_once(stack, keys=4).values()) == {1}


async def test_dev_server_restart_mid_run(stack: Stack) -> None:
    """The Temporal server stops mid-run and starts again on the same database."""
    await stack.start_worker("worker-1")
    handle = await start(
        stack, run_request(WEATHER, tools=TOOLS, metadata={"emu_duration_ms": "2500"})
    )

    async def after_first_round() -> bool:
        return len(stack.ledger.effects()) >= 2 and await history.idle_on_timer(handle)

    await wait_for(after_first_round, within=30, what="round 1 done, workflow waiting")
    await stack.server.stop()
    assert not stack.server.proc.alive
    await stack.server.start()
    result = await result_of(handle)
    assert (result.status, result.answer) == ("completed", weather_answer(CITIES))
    await assert_one_per_step(stack, handle.id, result)
    starts = assert_effects_once(stack, keys=4)
    assert set(starts.values()) == {1}


@BACKENDS
async def test_worker_restart_during_backoff_makes_no_extra_reads(
    stack: Stack, backend: str
) -> None:
    """A long run survives a worker restart in a backoff timer: no read is made twice."""
    worker = await stack.start_worker("worker-1")
    handle = await start(stack, run_request(backend=backend, metadata={"emu_duration_ms": "6000"}))

    async def some_reads_then_waiting() -> bool:
        return reads(await stack.objects_of(handle.id)) >= 3 and await history.idle_on_timer(handle)

    await wait_for(some_reads_then_waiting, within=20, what="three reads, then a backoff timer")
    worker.kill()
    await stack.start_worker("worker-2")
    result = await result_of(handle)
    assert (result.status, result.answer) == ("completed", "4")
    objects = await assert_one_per_step(stack, handle.id, result)
    assert reads(objects) == result.api_calls["read"] == result.checks, (objects, result)


# ---- webhook mode: the bridge is killed mid-run -------------------------------------------


def webhook_stack(
    tmp_path: Path, secret: str, bridge_port: int
) -> AbstractAsyncContextManager[Stack]:
    """A stack whose emulator posts signed events to a bridge on `bridge_port`.

    Responses runs get `response.*` events with `data.id` only, as OpenAI sends them; Assistants
    runs get `thread.run.*` events only through the emulator extension `thread_run_webhooks`.
    """
    config = EmulatorConfig(
        webhook_url=f"http://127.0.0.1:{bridge_port}/webhooks/openai",
        webhook_secret=secret,
        thread_run_webhooks=True,
    )
    return open_stack(tmp_path, config)


async def restart_on(bridge: Part, port: int) -> None:
    """Start the killed bridge again on its port, once nothing else holds the port."""
    await wait_port_bindable("127.0.0.1", port, bound_s=START_BOUND_S)
    await bridge.launch(bound_s=START_BOUND_S)


async def bridge_counter(port: int, name: str) -> int:
    """One of the bridge's counters (`received`, `signalled`, ...)."""
    async with httpx.AsyncClient() as http:
        health = (await http.get(f"http://127.0.0.1:{port}/healthz", timeout=2)).json()
    return int(health[name])


@BACKENDS
@pytest.mark.parametrize("restart_in_time", [True, False], ids=["retry-delivers", "safety-poll"])
async def test_bridge_killed_mid_delivery(
    tmp_path: Path, backend: str, restart_in_time: bool
) -> None:
    """The bridge dies while the run works; the emulator's retried delivery of the completion
    event (bridge back in time) or the workflow's safety poll (bridge back too late) still
    completes the run."""
    secret = new_secret()
    port = free_port()
    # Safety poll far beyond the test when the retry must deliver; short when it must not.
    safety = 90.0 if restart_in_time else 4.0
    poll = PollPolicy(
        webhooks=True, safety_poll_s=safety, initial_interval_s=safety, deadline_s=240
    )
    async with webhook_stack(tmp_path, secret, port) as stack:
        bridge = bridge_proc(
            tmp_path,
            port=port,
            temporal_address=stack.server.address,
            webhook_secret=secret,
            openai_base_url=stack.emulator.base_url,
        )
        stack.track(bridge)
        await bridge.wait_ready(bound_s=START_BOUND_S)
        await stack.start_worker("worker-1")
        request = run_request(backend=backend, poll=poll, metadata={"emu_duration_ms": "2500"})
        handle = await start(stack, request)
        # The completion event, 2.5 s after the create, meets the dead bridge.
        await wait_for(lambda: run_created(stack, handle.id), within=20, what="the run is created")
        bridge.kill()
        started = time.monotonic()

        async def delivery_failed() -> bool:
            return int((await stack.emulator.stats())["webhooks"]["failed"]) >= 1

        await wait_for(delivery_failed, within=20, what="a delivery to the dead bridge failed")
        if restart_in_time:
            await restart_on(bridge, port)
        result = await result_of(handle)
        elapsed = time.monotonic() - started
        assert (result.status, result.answer) == ("completed", "4")
        await assert_one_per_step(stack, handle.id, result)
        webhooks = (await stack.emulator.stats())["webhooks"]
        if restart_in_time:
            # The event, not a timer, ended the wait; at most one read per response object.
            assert result.api_calls.get("read", 0) <= (1 if backend == "responses" else 0)
            assert result.events_applied >= 1
            assert elapsed < safety
            # the new bridge process delivered it
            assert await bridge_counter(port, "signalled") >= 1
        else:
            assert result.api_calls["read"] >= 1  # the safety poll found it completed
            await restart_on(bridge, port)
        assert webhooks["failed"] >= 1
