"""`python -m bench.soak --runs N`: faults, worker kills, and the counts that must be 0.

N webhook-mode runs with tool rounds (the `record_effect` tool with its idempotency ledger),
about 10% of them per fault kind: 429s, 5xx, slow runs with a poll-after hint, expired runs
restarted once (`on_expired=restart`), a lost create response, and dropped, duplicated,
reordered and delayed webhooks. Meanwhile the worker subprocess is SIGKILLed and restarted
several times. Prints runs started, finished by final status, lost, duplicate runs (from the
emulator's `runs_by_workflow`) and duplicate tool effects (from the ledger); exits 1 when any
must-be-0 count is not 0.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from temporalio.client import WorkflowHandle
from temporalio.service import RPCError

from bench.ledger import LEDGER_ENV, TOOL_NAME, ledger_counts
from bench.procs import WorkerProcess, emulator_process, start_worker, temporal_server, worker_env
from bench.report import machine
from bench.run import new_webhook_secret
from bridge.server import running_bridge
from durable_runs.models import PollPolicy, RunRequest, RunResult
from durable_runs.settings import Settings
from workflows.run import AssistantRunWorkflow

FAULTS: tuple[tuple[str, dict[str, str]], ...] = (
    ("429", {"emu_rate_limit_next": "2", "emu_retry_after_ms": "200"}),
    ("5xx", {"emu_server_error_next": "2", "emu_server_error_status": "503"}),
    ("slow", {"emu_queued_ms": "1500", "emu_duration_ms": "2500", "emu_poll_after_ms": "1000"}),
    ("expired", {"emu_outcome": "expired"}),
    ("lost_create", {"emu_create_lose_response": "1"}),
    ("webhook_drop", {"emu_webhook": "drop"}),
    ("webhook_duplicate", {"emu_webhook": "duplicate"}),
    ("webhook_reorder", {"emu_webhook": "reorder"}),
    ("webhook_delay", {"emu_webhook": "delay_ms:1500"}),
    ("none", {}),
)
"""Fault kinds, cycled over the runs: each covers about 10% of them."""

SAFETY_POLL_S = 2.0
"""Webhook-mode safety poll of the soak's runs (dropped webhooks are found by it)."""


def soak_request(index: int, queue: str) -> tuple[str, RunRequest]:
    """The fault kind and workflow input of run `index`."""
    kind, knobs = FAULTS[index % len(FAULTS)]
    metadata = {"emu_duration_ms": "400", **knobs}
    if kind != "expired":
        rounds = 1 + index % 2
        plan = [
            [
                {"name": TOOL_NAME, "arguments": {"item": f"{queue}-{index}-r{r}-c{c}"}}
                for c in range(r + 1)
            ]
            for r in range(rounds)
        ]
        metadata["emu_tool_plan"] = json.dumps(plan)
    request = RunRequest(
        backend="assistants",
        messages=["Record the items, please."],
        tools=[TOOL_NAME] if kind != "expired" else [],
        poll=PollPolicy(webhooks=True, safety_poll_s=SAFETY_POLL_S, deadline_s=150),
        on_expired="restart",
        max_restarts=1,
        metadata=metadata,
    )
    return kind, request


async def soak(
    *, runs: int, kills: int, kill_every_s: float, out_dir: Path, bound_s: float
) -> dict[str, Any]:
    """Run the soak; returns the JSON document (`ok` False when a must-be-0 count is not 0)."""
    ledger = out_dir / f"ledger-{uuid.uuid4().hex[:8]}.sqlite"
    secret = new_webhook_secret()
    queue = f"soak-{uuid.uuid4().hex[:8]}"
    results: dict[str, RunResult] = {}
    failures: dict[str, str] = {}
    kinds: dict[str, str] = {}
    kills_done = 0
    started = time.time()
    async with temporal_server() as client, emulator_process(out_dir) as emu:
        address = client.service_client.config.target_host
        settings = Settings(OPENAI_WEBHOOK_SECRET=secret, TEMPORAL_ADDRESS=address)
        async with running_bridge(settings) as bridge:
            await emu.configure(webhook_url=bridge.url, webhook_secret=secret)
            env = worker_env(
                temporal_address=address,
                base_url=emu.base_url,
                task_queue=queue,
                rpm=0,
                tools="bench.ledger:ledger_registry",
            )
            env[LEDGER_ENV] = str(ledger)
            log = out_dir / "worker-soak.log"
            worker: WorkerProcess = await start_worker(env, log)

            async def one(index: int) -> None:
                kind, request = soak_request(index, queue)
                workflow_id = f"{queue}-{index}"
                kinds[workflow_id] = kind
                handle: WorkflowHandle[Any, RunResult] = await client.start_workflow(
                    AssistantRunWorkflow.run, request, id=workflow_id, task_queue=queue
                )
                try:
                    results[workflow_id] = await handle.result()
                except Exception as err:  # a failed workflow is a finding, reported as such
                    failures[workflow_id] = f"{type(err).__name__}: {err}"

            tasks = [asyncio.create_task(one(i)) for i in range(runs)]
            everything = asyncio.ensure_future(asyncio.gather(*tasks, return_exceptions=True))
            try:
                for _ in range(kills):
                    # Wait for the end of the work or the next kill time, whichever comes first.
                    done, _ = await asyncio.wait({everything}, timeout=kill_every_s)
                    if done:
                        break
                    await worker.kill()
                    kills_done += 1
                    worker = await start_worker(env, log)
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
            stats = await emu.stats()
    return summarize(
        runs=runs,
        queue=queue,
        kinds=kinds,
        results=results,
        failures=failures,
        stats=stats,
        ledger=ledger_counts(ledger),
        kills=kills_done,
        wall_s=time.time() - started,
    )


def summarize(
    *,
    runs: int,
    queue: str,
    kinds: dict[str, str],
    results: dict[str, RunResult],
    failures: dict[str, str],
    stats: dict[str, Any],
    ledger: dict[str, int],
    kills: int,
    wall_s: float,
) -> dict[str, Any]:
    """The soak's counts and verdict."""
    by_workflow: dict[str, list[str]] = stats["runs_by_workflow"]
    finished: dict[str, int] = {}
    for result in results.values():
        finished[result.status] = finished.get(result.status, 0) + 1
    if failures:
        finished["workflow_failed"] = len(failures)
    duplicate_runs = 0
    for workflow_id, result in results.items():
        created = len(by_workflow.get(workflow_id, []))
        duplicate_runs += max(0, created - (1 + result.restarts))
    for workflow_id in failures:
        duplicate_runs += max(0, len(by_workflow.get(workflow_id, [])) - 2)
    unexpected = sorted(
        f"{workflow_id} ({kinds.get(workflow_id)}): {result.status}"
        for workflow_id, result in results.items()
        if result.status != ("expired" if kinds.get(workflow_id) == "expired" else "completed")
    )
    lost = runs - len(results) - len(failures)
    must_be_zero = {
        "lost": lost,
        "duplicate_runs": duplicate_runs,
        "duplicate_tool_effects": ledger["duplicate_effects"],
        "failed_workflows": len(failures),
    }
    return {
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": machine(),
        "task_queue": queue,
        "runs_started": len(kinds),
        "finished_by_status": finished,
        "must_be_zero": must_be_zero,
        "unexpected_status": unexpected,
        "failures": failures,
        "worker_kills": kills,
        "tool_ledger": ledger,
        "faults": {kind: sum(1 for k in kinds.values() if k == kind) for kind, _ in FAULTS},
        "emulator": {
            "status_codes": stats["status_codes"],
            "calls_by_kind": stats["calls_by_kind"],
            "webhooks": stats["webhooks"],
        },
        "wall_s": round(wall_s, 2),
        "ok": all(v == 0 for v in must_be_zero.values()),
    }


def print_soak(doc: dict[str, Any]) -> None:
    """Print the soak's counts as a table."""
    table = Table(title=f"fault soak: {doc['runs_started']} runs, {doc['worker_kills']} kills")
    table.add_column("count")
    table.add_column("value", justify="right")
    table.add_column("must be 0")
    table.add_row("runs started", str(doc["runs_started"]), "")
    for status, count in sorted(doc["finished_by_status"].items()):
        table.add_row(f"finished: {status}", str(count), "")
    for name, value in doc["must_be_zero"].items():
        mark = "[green]ok[/green]" if value == 0 else "[red]FAIL[/red]"
        table.add_row(name.replace("_", " "), str(value), mark)
    led = doc["tool_ledger"]
    table.add_row("tool attempts / effects", f"{led['attempts']} / {led['effects']}", "")
    table.add_row("unexpected final status", str(len(doc["unexpected_status"])), "")
    codes = ", ".join(f"{k}: {v}" for k, v in sorted(doc["emulator"]["status_codes"].items()))
    table.add_row("emulator status codes", codes, "")
    hooks = doc["emulator"]["webhooks"]
    table.add_row(
        "webhooks sent / dropped", f"{hooks.get('succeeded', 0)} / {hooks.get('dropped', 0)}", ""
    )
    table.add_row("wall (s)", f"{doc['wall_s']:g}", "")
    Console(width=120).print(table)
    for line in doc["unexpected_status"]:
        print(f"  unexpected: {line}")
    for workflow_id, error in doc["failures"].items():
        print(f"  failed: {workflow_id}: {error}")


def run_soak(
    *,
    runs: int,
    kills: int = 3,
    kill_every_s: float = 3.0,
    out_dir: Path = Path("bench/out"),
    bound_s: float = 150.0,
) -> dict[str, Any]:
    """Run the soak, print its table, write `<out_dir>/soak-<runs>.json`; return the document."""
    out_dir.mkdir(parents=True, exist_ok=True)
    doc = asyncio.run(
        soak(runs=runs, kills=kills, kill_every_s=kill_every_s, out_dir=out_dir, bound_s=bound_s)
    )
    print_soak(doc)
    (out_dir / f"soak-{runs}.json").write_text(json.dumps(doc, indent=2) + "\n")
    return doc


def main(argv: Sequence[str] | None = None) -> int:
    """Command line; returns 1 when a must-be-0 count is not 0."""
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--kills", type=int, default=3, help="worker SIGKILLs (then restarts)")
    parser.add_argument("--kill-every", type=float, default=3.0, help="seconds between kills")
    parser.add_argument("--out", type=Path, default=Path("bench/out"))
    parser.add_argument("--bound", type=float, default=150.0, help="seconds before runs are lost")
    args = parser.parse_args(argv)
    doc = run_soak(
        runs=args.runs,
        kills=args.kills,
        kill_every_s=args.kill_every,
        out_dir=args.out,
        bound_s=args.bound,
    )
    return 0 if doc["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
