"""`python -m bench.soak --runs N [--backend responses|assistants|both]`: faults, worker kills, and
the counts that must be 0.

For each backend (Responses first), N webhook-mode runs with tool rounds (the `record_effect`
tool and its idempotency ledger), about 10% of them per fault kind: 429s, 5xx, slow runs with a
poll-after hint, a scripted final status other than completed (Responses: `failed`; Assistants:
`expired`, restarted once and expiring again), a lost create response (the API committed the
object and answered 500), and dropped, duplicated, reordered and delayed webhooks. Responses
runs get the events OpenAI sends (`response.*`, `data.id` only); Assistants runs get
`thread.run.*` events only through the emulator extension `thread_run_webhooks`, since OpenAI
sends none. Meanwhile the worker subprocess is SIGKILLed and restarted: the first kill just after
the runs start (while their creates are in flight), the others while a tool runs.

The verdict fails when a run is lost, ends in a status its fault does not script or its workflow
fails, when a (workflow, step) has more than one run/response that the measured Responses create
window does not explain, when an effect is applied twice, when an effect has no planned tool
call or a completed run's planned call has no effect, or when no worker kill happened. Duplicate
responses from a create whose answer was lost (the `lost_create` fault, or a kill during the
create) are counted and printed: the Responses API has no lookup that would find them.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from rich.console import Console
from rich.table import Table
from temporalio.client import Client, WorkflowHandle
from temporalio.service import RPCError

from bench import ledger
from bench.ledger import LEDGER_ENV, TOOL_NAME, Application
from bench.procs import (
    API_KEY,
    Emulator,
    WorkerProcess,
    emulator_process,
    start_worker,
    temporal_server,
    worker_env,
)
from bench.report import machine
from bench.run import new_webhook_secret
from durable_runs.bridge.server import running_bridge
from durable_runs.models import (
    STEP_METADATA_KEY,
    Backend,
    PollPolicy,
    RunRequest,
    RunResult,
)
from durable_runs.settings import Settings
from durable_runs.workflows.run import RunWorkflow

BACKENDS: tuple[Backend, ...] = ("responses", "assistants")
"""Soaked in this order."""


@dataclass(frozen=True)
class Fault:
    """One fault kind: its scenario knobs, and the final status a run under it must reach."""

    kind: str
    knobs: dict[str, str] = field(default_factory=dict)
    expected: str = "completed"
    tools: bool = True


OUTCOME_FAULT: dict[Backend, Fault] = {
    # Responses never expire (the API refuses the knob), so they fail instead.
    "responses": Fault("failed", {"emu_outcome": "failed"}, expected="failed", tools=False),
    "assistants": Fault("expired", {"emu_outcome": "expired"}, expected="expired", tools=False),
}

COMMON_FAULTS: tuple[Fault, ...] = (
    Fault("429", {"emu_rate_limit_next": "2", "emu_retry_after_ms": "200"}),
    Fault("5xx", {"emu_server_error_next": "2", "emu_server_error_status": "503"}),
    Fault(
        "slow", {"emu_queued_ms": "1500", "emu_duration_ms": "2500", "emu_poll_after_ms": "1000"}
    ),
    Fault("lost_create", {"emu_create_lose_response": "1"}),
    Fault("webhook_drop", {"emu_webhook": "drop"}),
    Fault("webhook_duplicate", {"emu_webhook": "duplicate"}),
    Fault("webhook_reorder", {"emu_webhook": "reorder"}),
    Fault("webhook_delay", {"emu_webhook": "delay_ms:1500"}),
    Fault("none"),
)

SAFETY_POLL_S = 2.0
"""Webhook-mode safety poll of the soak's runs (dropped webhooks are found by it)."""
AIM_BOUND_S = 30.0
"""A kill aimed at a running tool waits at most this long for one (then kills anyway)."""
CREATE_KILL_AFTER_S = 0.3
"""The first kill comes this long after the runs start: their first creates are in flight."""
KILL_GRACE_S = 2.0
"""A duplicate response counts as caused by a kill when one landed between its create and this
long after the create answered (the heartbeat that records its id follows the answer)."""


def faults(backend: Backend) -> tuple[Fault, ...]:
    """The fault kinds of a backend's soak, cycled over its runs (each covers about 10%)."""
    return (*COMMON_FAULTS[:3], OUTCOME_FAULT[backend], *COMMON_FAULTS[3:])


def soak_request(backend: Backend, index: int, queue: str) -> tuple[Fault, RunRequest]:
    """The fault and workflow input of run `index`: one or two rounds of `record_effect`."""
    fault = faults(backend)[index % len(faults(backend))]
    metadata = {"emu_duration_ms": "400", **fault.knobs}
    if fault.tools:
        plan = [
            [
                {"name": TOOL_NAME, "arguments": {"item": f"{queue}-{index}-r{r}-c{c}"}}
                for c in range(r + 1)
            ]
            for r in range(1 + index % 2)
        ]
        metadata["emu_tool_plan"] = json.dumps(plan)
    request = RunRequest(
        backend=backend,
        messages=["Record the items, please."],
        tools=[TOOL_NAME] if fault.tools else [],
        poll=PollPolicy(webhooks=True, safety_poll_s=SAFETY_POLL_S, deadline_s=150),
        on_expired="restart",
        max_restarts=1,
        metadata=metadata,
    )
    return fault, request


Aim = Literal["create", "tool"]


@dataclass(frozen=True)
class Kill:
    """One SIGKILL of the worker: when, what it was aimed at, tool attempts it interrupted."""

    at: float
    aim: Aim
    tools_running: int


def kill_plan(kills: int) -> tuple[Aim, ...]:
    """What `kills` kills aim at: the first at creates, the others at running tools."""
    return tuple("create" if n == 0 else "tool" for n in range(kills))


async def _aim(
    aim: Aim, ledger_path: Path, worker: WorkerProcess, work: asyncio.Future[Any]
) -> None:
    """When aiming at tools, wait until a tool attempt runs in `worker` (bounded)."""
    deadline = time.monotonic() + AIM_BOUND_S
    while aim == "tool" and not work.done() and time.monotonic() < deadline:
        if ledger.running_attempts(ledger_path, worker.pid):
            return
        # Another process's progress: no event to wait on, so probe with a bound.
        await asyncio.sleep(0.05)


async def soak_backend(
    client: Client,
    emu: Emulator,
    *,
    backend: Backend,
    runs: int,
    aims: Sequence[Aim],
    kill_every_s: float,
    out_dir: Path,
    bound_s: float,
    tools: str,
) -> dict[str, Any]:
    """One backend's soak on running servers; returns its summary (see `summarize`)."""
    await emu.reset()
    await emu.configure(thread_run_webhooks=backend == "assistants")
    queue = f"soak-{backend}-{uuid.uuid4().hex[:8]}"
    ledger_path = out_dir / f"ledger-{queue}.sqlite"
    address = client.service_client.config.target_host
    env = worker_env(
        temporal_address=address, base_url=emu.base_url, task_queue=queue, rpm=0, tools=tools
    )
    env[LEDGER_ENV] = str(ledger_path)
    log = out_dir / f"worker-soak-{backend}.log"
    worker = await start_worker(client, env, log)
    results: dict[str, RunResult] = {}
    failures: dict[str, str] = {}
    planted: dict[str, Fault] = {}
    done_kills: list[Kill] = []
    started = time.time()

    async def one(index: int) -> None:
        fault, request = soak_request(backend, index, queue)
        workflow_id = f"{queue}-{index}"
        planted[workflow_id] = fault
        handle: WorkflowHandle[Any, RunResult] = await client.start_workflow(
            RunWorkflow.run, request, id=workflow_id, task_queue=queue
        )
        try:
            results[workflow_id] = await handle.result()
        except Exception as err:  # a failed workflow is a finding, reported as such
            failures[workflow_id] = f"{type(err).__name__}: {err}"

    tasks = [asyncio.create_task(one(i)) for i in range(runs)]
    everything = asyncio.ensure_future(asyncio.gather(*tasks, return_exceptions=True))
    try:
        for aim in aims:
            pause = CREATE_KILL_AFTER_S if aim == "create" else kill_every_s
            await asyncio.wait({everything}, timeout=pause)
            await _aim(aim, ledger_path, worker, everything)
            if everything.done():
                break
            running = ledger.running_attempts(ledger_path, worker.pid)
            await worker.kill()
            done_kills.append(Kill(at=time.time(), aim=aim, tools_running=running))
            worker = await start_worker(client, env, log)
        remaining = bound_s - (time.time() - started)
        await asyncio.wait({everything}, timeout=max(remaining, 1.0))
    finally:
        for task in tasks:
            task.cancel()
        await everything
        await worker.stop()
    for index in range(runs):
        workflow_id = f"{queue}-{index}"
        if workflow_id not in results and workflow_id not in failures:
            with contextlib.suppress(RPCError):
                await client.get_workflow_handle(workflow_id).terminate("soak bound")
    return summarize(
        backend=backend,
        runs=runs,
        planted=planted,
        results=results,
        failures=failures,
        stats=await emu.stats(),
        applications=ledger.applications(ledger_path),
        attempts=ledger.attempt_count(ledger_path),
        kills=done_kills,
        wall_s=time.time() - started,
    )


def _objects_by_step(
    backend: Backend, stats: dict[str, Any]
) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """The emulator's runs (Assistants) or responses, grouped by (workflow id, step)."""
    by_workflow = stats["responses_by_workflow" if backend == "responses" else "runs_by_workflow"]
    objects = stats["responses" if backend == "responses" else "runs"]
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for workflow_id, ids in by_workflow.items():
        for object_id in ids:
            obj = objects[object_id]
            step = obj["metadata"].get(STEP_METADATA_KEY, "")
            groups.setdefault((workflow_id, step), []).append(obj)
    return groups


def _create_request(obj: dict[str, Any]) -> dict[str, Any] | None:
    creates = [r for r in obj["requests"] if r["kind"] in ("create_response", "create_run")]
    return creates[0] if creates else None


def duplicate_causes(
    backend: Backend,
    stats: dict[str, Any],
    results: dict[str, RunResult],
    kills: Iterable[Kill],
) -> dict[str, int]:
    """Objects beyond one per (workflow, step), by cause.

    `lost_create`: the superseded response's create answered 5xx after committing it.
    `killed_create`: a worker kill landed between its create and `KILL_GRACE_S` after the answer.
    `other`: anything else, and any Assistants duplicate (its create finds its run by metadata).
    """
    causes = {"lost_create": 0, "killed_create": 0, "other": 0}
    kill_times = [k.at for k in kills]
    for (workflow_id, _), objs in _objects_by_step(backend, stats).items():
        if len(objs) < 2:
            continue
        used = set(results[workflow_id].response_ids) if workflow_id in results else set()
        kept = next((o for o in objs if o["id"] in used), objs[-1])
        for obj in objs:
            if obj is kept:
                continue
            create = _create_request(obj)
            committed = min(obj["status_times"].values(), default=create["at"] if create else 0)
            answered = create["at"] if create else committed
            if backend == "responses" and create and create["status_code"] >= 500:
                causes["lost_create"] += 1
            elif backend == "responses" and any(
                committed - 0.05 <= at <= answered + KILL_GRACE_S for at in kill_times
            ):
                causes["killed_create"] += 1
            else:
                causes["other"] += 1
    return causes


def planned_items(backend: Backend, stats: dict[str, Any]) -> dict[str, list[str]]:
    """Each workflow's planned tool calls (the `item` argument), from the emulator's tool plan."""
    planned: dict[str, list[str]] = {}
    for (workflow_id, _), objs in _objects_by_step(backend, stats).items():
        raw = objs[0]["metadata"].get("emu_tool_plan")
        if raw and workflow_id not in planned:
            plan = json.loads(raw)
            planned[workflow_id] = [c["arguments"]["item"] for step in plan for c in step]
    return planned


def effect_counts(
    planned: dict[str, list[str]],
    completed: Iterable[str],
    applications: Sequence[Application],
) -> dict[str, int]:
    """Every application of the effect against the tool calls the runs should have made.

    `duplicate_effects`: applications beyond one per key (a call applied twice).
    `effects_without_planned_call`: keys whose item no run planned, or a second key for an item.
    `planned_calls_without_effect`: planned calls of completed runs with no application.
    """
    keys_by_call: dict[tuple[str, str], set[str]] = {}
    for app in applications:
        workflow_id = app.key.rpartition("/")[0]
        keys_by_call.setdefault((workflow_id, app.item), set()).add(app.key)
    wanted = {(w, item) for w, items in planned.items() for item in items}
    unplanned = sum(len(keys) - (1 if call in wanted else 0) for call, keys in keys_by_call.items())
    missing = sum(
        1 for w in completed for item in planned.get(w, []) if (w, item) not in keys_by_call
    )
    return {
        "duplicate_effects": len(applications) - len({a.key for a in applications}),
        "effects_without_planned_call": unplanned,
        "planned_calls_without_effect": missing,
    }


def summarize(
    *,
    backend: Backend,
    runs: int,
    planted: dict[str, Fault],
    results: dict[str, RunResult],
    failures: dict[str, str],
    stats: dict[str, Any],
    applications: Sequence[Application],
    attempts: int,
    kills: Sequence[Kill],
    wall_s: float,
) -> dict[str, Any]:
    """One backend's counts and verdict (`ok`, with `problems` naming each failed check)."""
    finished: dict[str, int] = {}
    for result in results.values():
        finished[result.status] = finished.get(result.status, 0) + 1
    if failures:
        finished["workflow_failed"] = len(failures)
    unexpected = sorted(
        f"{workflow_id} ({planted[workflow_id].kind}): {result.status}"
        for workflow_id, result in results.items()
        if result.status != planted[workflow_id].expected
    )
    duplicates = duplicate_causes(backend, stats, results, kills)
    completed = [w for w, r in results.items() if r.status == "completed"]
    effects = effect_counts(planned_items(backend, stats), completed, applications)
    must_be_zero = {
        "lost": runs - len(results) - len(failures),
        "failed_workflows": len(failures),
        "unexpected_status": len(unexpected),
        "duplicate_runs_or_responses": duplicates["other"],
        **effects,
    }
    problems = [f"{name.replace('_', ' ')}: {n}" for name, n in must_be_zero.items() if n]
    if not kills:
        problems.append("no worker kill happened")
    return {
        "backend": backend,
        "webhooks": "thread.run.* (emulator extension thread_run_webhooks; OpenAI sends none)"
        if backend == "assistants"
        else "response.* with data.id only (as OpenAI sends)",
        "runs_started": len(planted),
        "finished_by_status": finished,
        "must_be_zero": must_be_zero,
        "duplicate_creates_measured": {
            "lost_create": duplicates["lost_create"],
            "killed_create": duplicates["killed_create"],
        },
        "unexpected_status": unexpected,
        "failures": failures,
        "worker_kills": [{"aim": k.aim, "tools_running": k.tools_running} for k in kills],
        "tool_ledger": {
            "attempts": attempts,
            "applications": len(applications),
            "keys": len({a.key for a in applications}),
        },
        "faults": {f.kind: sum(1 for p in planted.values() if p is f) for f in faults(backend)},
        "emulator": {
            "status_codes": stats["status_codes"],
            "calls_by_kind": stats["calls_by_kind"],
            "webhooks": stats["webhooks"],
            "webhooks_by_type": stats.get("webhooks_by_type", {}),
        },
        "wall_s": round(wall_s, 2),
        "problems": problems,
        "ok": not problems,
    }


async def soak(
    *,
    runs: int,
    aims: Sequence[Aim],
    kill_every_s: float,
    out_dir: Path,
    bound_s: float,
    backends: Sequence[Backend] = BACKENDS,
    tools: str = "bench.ledger:ledger_registry",
) -> dict[str, Any]:
    """Soak each backend in turn on one Temporal server, emulator and bridge."""
    secret = new_webhook_secret()
    phases: dict[str, dict[str, Any]] = {}
    async with temporal_server(out_dir) as server, emulator_process(out_dir) as emu:
        client = server.client
        # The bridge reads an id-only event's response from the API (the emulator) itself.
        settings = Settings(
            OPENAI_WEBHOOK_SECRET=secret,
            TEMPORAL_ADDRESS=client.service_client.config.target_host,
            OPENAI_API_KEY=API_KEY,
            OPENAI_BASE_URL=emu.base_url,
        )
        async with running_bridge(settings) as bridge:
            await emu.configure(webhook_url=bridge.url, webhook_secret=secret)
            for backend in backends:
                phases[backend] = await soak_backend(
                    client,
                    emu,
                    backend=backend,
                    runs=runs,
                    aims=aims,
                    kill_every_s=kill_every_s,
                    out_dir=out_dir,
                    bound_s=bound_s,
                    tools=tools,
                )
    return {
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": machine(),
        "runs_per_backend": runs,
        "backends": phases,
        "ok": all(phase["ok"] for phase in phases.values()),
    }


def _rows(phase: dict[str, Any], statuses: Iterable[str]) -> list[tuple[str, str, bool | None]]:
    """(label, value, passed) rows of one backend; passed is None for plain figures."""
    kills = phase["worker_kills"]
    led = phase["tool_ledger"]
    measured = phase["duplicate_creates_measured"]
    hooks = phase["emulator"]["webhooks"]
    codes = sorted(phase["emulator"]["status_codes"].items())
    at_creates = sum(k["aim"] == "create" for k in kills)
    in_tools = sum(k["tools_running"] > 0 for k in kills)
    rows: list[tuple[str, str, bool | None]] = [("runs started", str(phase["runs_started"]), None)]
    finished = phase["finished_by_status"]
    rows += [(f"finished: {s}", str(finished.get(s, 0)), None) for s in statuses]
    rows += [(n.replace("_", " "), str(v), v == 0) for n, v in phase["must_be_zero"].items()]
    rows += [
        ("duplicate creates: lost create answer", str(measured["lost_create"]), None),
        ("duplicate creates: kill in create window", str(measured["killed_create"]), None),
        ("worker kills (aimed at creates / in tools)", f"{len(kills)} ({at_creates} / {in_tools})",
         bool(kills)),
        ("tool attempts / applications / keys",
         f"{led['attempts']} / {led['applications']} / {led['keys']}", None),
        ("emulator status codes", ", ".join(f"{k}: {v}" for k, v in codes), None),
        ("webhooks delivered / dropped",
         f"{hooks.get('succeeded', 0)} / {hooks.get('dropped', 0)}", None),
        ("wall (s)", f"{phase['wall_s']:g}", None),
    ]  # fmt: skip
    return rows


def print_soak(doc: dict[str, Any]) -> None:
    """Print the backends' counts side by side, then every problem and unexpected status."""
    phases = doc["backends"]
    table = Table(title=f"fault soak: {doc['runs_per_backend']} runs per backend")
    table.add_column("count")
    for backend in phases:
        table.add_column(backend, justify="right")
    table.add_column("must hold")
    cells: dict[str, dict[str, str]] = {}
    verdicts: dict[str, list[bool]] = {}
    statuses = sorted({s for phase in phases.values() for s in phase["finished_by_status"]})
    for backend, phase in phases.items():
        for label, value, passed in _rows(phase, statuses):
            cells.setdefault(label, {})[backend] = value
            if passed is not None:
                verdicts.setdefault(label, []).append(passed)
    for label, values in cells.items():
        mark = ""
        if label in verdicts:
            mark = "[green]ok[/green]" if all(verdicts[label]) else "[red]FAIL[/red]"
        table.add_row(label, *(values.get(b, "") for b in phases), mark)
    Console(width=140).print(table)
    for backend, phase in phases.items():
        print(f"  {backend} webhooks: {phase['webhooks']}")
        for problem in phase["problems"]:
            print(f"  {backend} FAIL: {problem}")
        for line in phase["unexpected_status"]:
            print(f"  {backend} unexpected: {line}")
        for workflow_id, error in phase["failures"].items():
            print(f"  {backend} failed: {workflow_id}: {error}")
    print("verdict:", "ok" if doc["ok"] else "FAIL")


def run_soak(
    *,
    runs: int,
    kills: int = 3,
    kill_every_s: float = 3.0,
    out_dir: Path = Path("bench/out"),
    bound_s: float = 150.0,
    backends: Sequence[Backend] = BACKENDS,
    tools: str = "bench.ledger:ledger_registry",
) -> dict[str, Any]:
    """Run the soak, print its table, write `<out_dir>/soak-<runs>.json`; return the document."""
    out_dir.mkdir(parents=True, exist_ok=True)
    doc = asyncio.run(
        soak(
            runs=runs,
            aims=kill_plan(kills),
            kill_every_s=kill_every_s,
            out_dir=out_dir,
            bound_s=bound_s,
            backends=backends,
            tools=tools,
        )
    )
    print_soak(doc)
    (out_dir / f"soak-{runs}.json").write_text(json.dumps(doc, indent=2) + "\n")
    return doc


def main(argv: Sequence[str] | None = None) -> int:
    """Command line; returns 1 when the verdict fails."""
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__)
    parser.add_argument("--runs", type=int, default=20, help="runs per backend")
    parser.add_argument("--backend", choices=["responses", "assistants", "both"], default="both")
    parser.add_argument("--kills", type=int, default=3, help="worker SIGKILLs per backend")
    parser.add_argument("--kill-every", type=float, default=3.0, help="seconds between kills")
    parser.add_argument("--out", type=Path, default=Path("bench/out"))
    parser.add_argument("--bound", type=float, default=150.0, help="seconds before runs are lost")
    args = parser.parse_args(argv)
    backends: tuple[Backend, ...] = BACKENDS if args.backend == "both" else (args.backend,)
    doc = run_soak(
        runs=args.runs,
        kills=args.kills,
        kill_every_s=args.kill_every,
        out_dir=args.out,
        bound_s=args.bound,
        backends=backends,
    )
    return 0 if doc["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
