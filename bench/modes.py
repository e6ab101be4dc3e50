"""Running the workload in one mode and turning the emulator's stats into per-mode figures."""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, TypeAdapter
from temporalio.client import Client
from temporalio.service import RPCError

from bench.client_loop import LoopResult
from bench.procs import (
    API_KEY,
    MIB,
    ROOT,
    Emulator,
    Meter,
    Usage,
    sample_until,
    start_worker,
    stop_process,
    worker_env,
)
from bench.workload import QUESTION, TOOL_NAME, RunSpec
from durable_runs.client import start_run
from durable_runs.models import PollPolicy, RunRequest, RunResult

Mode = Literal["naive", "sdk", "polling", "webhooks"]
ALL_MODES: tuple[Mode, ...] = ("naive", "sdk", "polling", "webhooks")
MODE_LABELS: dict[str, str] = {
    "naive": "naive loop",
    "sdk": "SDK create_and_poll",
    "polling": "durable polling",
    "webhooks": "durable webhooks",
}

START_CONCURRENCY = 100
"""Workflow starts in flight at once (the client's own bound, not a benchmark knob)."""


class Observed(BaseModel):
    """One run as the caller saw it, joined with the emulator's record.

    Attributes:
        index: The spec's index.
        status: Final status the caller got (`lost` when it got none in time).
        run_ids: Every run created for it.
        noticed_at: Wall-clock time when the caller had the result.
        status_reads: `retrieve_run` calls over its runs.
        api_calls: Calls about its runs (create, retrieve, submit, messages list...).
        latency_s: Emulator's `completed` time to `noticed_at`.
    """

    index: int
    status: str
    run_ids: list[str]
    noticed_at: float | None = None
    status_reads: int = 0
    api_calls: int = 0
    latency_s: float | None = None


class ModeResult(BaseModel):
    """Every figure of one mode.

    Attributes:
        mode: Which mode.
        runs: Runs in the workload.
        completed: Runs that ended `completed`.
        lost: Runs the caller got no result for within the bound.
        statuses: Final statuses counted.
        status_reads_per_run: Mean `retrieve_run` calls per run.
        api_calls_per_run: All `/v1` requests the emulator served, per run.
        latency_p50_ms / latency_p95_ms / latency_max_ms: Completion→notice.
        wall_s: From the first create to the last result.
        runs_per_s: Runs divided by `wall_s`.
        process: Which process was metered (worker subprocess or client loop).
        cpu_s_per_100: Its CPU seconds per 100 runs.
        cpu_s: Its CPU seconds.
        peak_rss_mib: Its peak resident memory.
        rss_growth_mib_per_100: (peak − RSS at start) per 100 runs.
        emulator_cpu_s: The emulator's CPU seconds during the mode.
        emulator_cpu_share: Emulator CPU seconds per wall second (1.0 = one core saturated).
        requests_per_minute_peak: Highest request count in any 60 s window (emulator).
        status_codes: HTTP status codes the emulator answered.
    """

    mode: str
    runs: int
    completed: int
    lost: int
    statuses: dict[str, int]
    status_reads_per_run: float
    api_calls_per_run: float
    latency_p50_ms: float | None
    latency_p95_ms: float | None
    latency_max_ms: float | None
    wall_s: float
    runs_per_s: float
    process: str
    cpu_s: float
    cpu_s_per_100: float
    peak_rss_mib: float
    rss_growth_mib_per_100: float
    emulator_cpu_s: float
    emulator_cpu_share: float
    requests_per_minute_peak: int
    status_codes: dict[str, int]


@dataclass
class Stack:
    """The shared servers a mode runs against."""

    client: Client
    temporal_address: str
    emulator: Emulator
    bridge_url: str
    webhook_secret: str
    assistant_id: str
    out_dir: Path
    rpm: int


def percentile(values: list[float], q: float) -> float | None:
    """The q-th percentile (0-100) by linear interpolation; None for no values."""
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def mode_bound_s(size: int, rpm: int) -> float:
    """How long one mode may take before unfinished runs count as lost."""
    bound = 120.0 + size * 0.3
    if rpm:
        bound += size * 12 * 60 / rpm  # ~12 API calls per run at the budget's pace
    return bound


async def run_mode(stack: Stack, mode: Mode, specs: list[RunSpec]) -> ModeResult:
    """Run the workload in `mode` with fresh counters and a freshly started metered process."""
    emu = stack.emulator
    await emu.configure(
        webhook_url=stack.bridge_url if mode == "webhooks" else None,
        webhook_secret=stack.webhook_secret if mode == "webhooks" else None,
    )
    bound = mode_bound_s(len(specs), stack.rpm)
    if mode in ("naive", "sdk"):
        seen, usage, started, cpu0 = await _client_loop(stack, mode, specs, bound)
        process = "client loop"
    else:
        seen, usage, started, cpu0 = await _durable(stack, mode, specs, bound)
        process = "worker"
    stats = await emu.stats()
    return summarize(mode, specs, seen, stats, usage, started, cpu0, process)


async def _client_loop(
    stack: Stack, mode: Mode, specs: list[RunSpec], bound: float
) -> tuple[dict[int, tuple[str, list[str], float | None]], Usage, float, float]:
    spec_file = stack.out_dir / f"specs-{mode}.json"
    out_file = stack.out_dir / f"results-{mode}.json"
    spec_file.write_bytes(TypeAdapter(list[RunSpec]).dump_json(specs))
    out_file.unlink(missing_ok=True)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.client_loop", "--mode", mode,
        "--base-url", stack.emulator.base_url, "--api-key", API_KEY,
        "--assistant-id", stack.assistant_id, "--specs", str(spec_file), "--out", str(out_file),
        cwd=ROOT, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert proc.stdin is not None and proc.stdout is not None
    try:
        line = await asyncio.wait_for(proc.stdout.readline(), 60)
        if line.strip() != b"ready":
            raise RuntimeError(f"client loop did not start: {line!r}")
        meter = Meter(proc.pid)
        await stack.emulator.reset()
        cpu0 = float((await stack.emulator.stats())["process_cpu_seconds"])
        meter.begin()
        started = time.time()
        proc.stdin.write(b"go\n")
        await proc.stdin.drain()
        done = asyncio.Event()
        sampler = asyncio.create_task(sample_until([meter], done))
        try:
            line = await asyncio.wait_for(proc.stdout.readline(), bound)
        except TimeoutError:
            line = b""
        done.set()
        await sampler
        usage = meter.end() if line.strip() == b"done" else Usage(0.0, 0, 0)
        proc.stdin.close()
    finally:
        await stop_process(proc, timeout_s=5)
    seen: dict[int, tuple[str, list[str], float | None]] = {}
    if out_file.exists():
        for r in TypeAdapter(list[LoopResult]).validate_json(out_file.read_text()):
            ids = [r.run_id] if r.run_id else []
            seen[r.index] = (r.status, ids, r.noticed_at or None)
    return seen, usage, started, cpu0


def durable_request(spec: RunSpec, assistant_id: str, *, webhooks: bool) -> RunRequest:
    """The workflow input for one spec (the default PollPolicy, or webhook mode)."""
    return RunRequest(
        backend="assistants",
        assistant_id=assistant_id,
        messages=[QUESTION],
        tools=[TOOL_NAME] if spec.tool_rounds else [],
        poll=PollPolicy(webhooks=True) if webhooks else PollPolicy(),
        metadata=spec.metadata,
    )


async def _durable(
    stack: Stack, mode: Mode, specs: list[RunSpec], bound: float
) -> tuple[dict[int, tuple[str, list[str], float | None]], Usage, float, float]:
    queue = f"bench-{mode}-{uuid.uuid4().hex[:8]}"
    env = worker_env(
        temporal_address=stack.temporal_address,
        base_url=stack.emulator.base_url,
        task_queue=queue,
        rpm=stack.rpm,
    )
    worker = await start_worker(env, stack.out_dir / f"worker-{mode}.log")
    results: dict[int, RunResult] = {}
    noticed: dict[int, float] = {}
    try:
        await stack.emulator.reset()
        cpu0 = float((await stack.emulator.stats())["process_cpu_seconds"])
        worker.meter.begin()
        started = time.time()
        gate = asyncio.Semaphore(START_CONCURRENCY)

        async def one(spec: RunSpec) -> None:
            async with gate:
                handle = await start_run(
                    stack.client,
                    durable_request(spec, stack.assistant_id, webhooks=mode == "webhooks"),
                    workflow_id=f"{queue}-{spec.index}",
                    task_queue=queue,
                )
            results[spec.index] = await handle.result()
            noticed[spec.index] = time.time()

        done = asyncio.Event()
        sampler = asyncio.create_task(sample_until([worker.meter], done))
        tasks = [asyncio.create_task(one(s)) for s in specs]
        _, pending = await asyncio.wait(tasks, timeout=bound)
        for task in pending:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        done.set()
        await sampler
        usage = worker.meter.end()
        for spec in specs:
            if spec.index not in results:
                with contextlib.suppress(RPCError):
                    await stack.client.get_workflow_handle(f"{queue}-{spec.index}").terminate()
    finally:
        await worker.stop()
    stats = await stack.emulator.stats()
    by_workflow: dict[str, list[str]] = stats["runs_by_workflow"]
    seen: dict[int, tuple[str, list[str], float | None]] = {}
    for spec in specs:
        ids = by_workflow.get(f"{queue}-{spec.index}", [])
        result = results.get(spec.index)
        seen[spec.index] = (
            result.status if result else "lost",
            ids,
            noticed.get(spec.index),
        )
    return seen, usage, started, cpu0


def summarize(
    mode: Mode,
    specs: list[RunSpec],
    seen: dict[int, tuple[str, list[str], float | None]],
    stats: dict[str, Any],
    usage: Usage,
    started: float,
    emulator_cpu0: float,
    process: str,
) -> ModeResult:
    """Join what the caller saw with the emulator's per-run records."""
    runs: dict[str, Any] = stats["runs"]
    observed: list[Observed] = []
    for spec in specs:
        status, ids, noticed_at = seen.get(spec.index, ("lost", [], None))
        reads = sum(int(runs.get(i, {}).get("calls", {}).get("retrieve_run", 0)) for i in ids)
        calls = sum(sum(int(v) for v in runs.get(i, {}).get("calls", {}).values()) for i in ids)
        latency = None
        if ids and noticed_at is not None and status == "completed":
            completed_at = runs.get(ids[-1], {}).get("status_times", {}).get("completed")
            if completed_at is not None:
                latency = noticed_at - float(completed_at)
        observed.append(
            Observed(
                index=spec.index,
                status=status,
                run_ids=ids,
                noticed_at=noticed_at,
                status_reads=reads,
                api_calls=calls,
                latency_s=latency,
            )
        )
    n = len(specs)
    statuses: dict[str, int] = {}
    for o in observed:
        statuses[o.status] = statuses.get(o.status, 0) + 1
    ends = [o.noticed_at for o in observed if o.noticed_at is not None]
    wall = (max(ends) - started) if ends else 0.0
    latencies_ms = [o.latency_s * 1000 for o in observed if o.latency_s is not None]
    emu_cpu = float(stats["process_cpu_seconds"]) - emulator_cpu0

    def ms(q: float) -> float | None:
        value = percentile(latencies_ms, q)
        return round(value, 1) if value is not None else None

    return ModeResult(
        mode=mode,
        runs=n,
        completed=statuses.get("completed", 0),
        lost=sum(1 for o in observed if o.noticed_at is None),
        statuses=statuses,
        status_reads_per_run=round(statistics.fmean(o.status_reads for o in observed), 3),
        api_calls_per_run=round(int(stats["total_requests"]) / n, 3),
        latency_p50_ms=ms(50),
        latency_p95_ms=ms(95),
        latency_max_ms=round(max(latencies_ms), 1) if latencies_ms else None,
        wall_s=round(wall, 3),
        runs_per_s=round(n / wall, 3) if wall else 0.0,
        process=process,
        cpu_s=round(usage.cpu_seconds, 3),
        cpu_s_per_100=round(usage.cpu_seconds / n * 100, 3),
        peak_rss_mib=round(usage.peak_rss_bytes / MIB, 1),
        rss_growth_mib_per_100=round(
            max(0, usage.peak_rss_bytes - usage.baseline_rss_bytes) / MIB / n * 100, 2
        ),
        emulator_cpu_s=round(emu_cpu, 3),
        emulator_cpu_share=round(emu_cpu / wall, 3) if wall else 0.0,
        requests_per_minute_peak=int(stats["requests_per_minute_peak"]),
        status_codes={str(k): int(v) for k, v in stats["status_codes"].items()},
    )
