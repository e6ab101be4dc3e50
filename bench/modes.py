"""Running the workload in one mode of one backend, and the figures of that mode.

Every mode starts the processes it needs on fresh state (emulator; for durable modes a Temporal
dev server and a worker; for webhook modes the bridge too) and meters each of them.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
import uuid
import warnings
from collections.abc import Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

from openai import AsyncOpenAI
from pydantic import TypeAdapter
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError

from bench.client_loop import LoopResult
from bench.figures import ModeResult, Seen, summarize
from bench.procs import (
    API_KEY,
    ROOT,
    Emulator,
    Meter,
    Usage,
    bridge_process,
    emulator_process,
    sample_until,
    start_worker,
    stop_process,
    temporal_server,
    worker_env,
)
from bench.workload import QUESTION, TOOL_NAME, RunSpec, weather_tool_definition
from durable_runs import search_attributes as sa
from durable_runs.client import start_run
from durable_runs.models import Backend, PollPolicy, RunRequest

BACKENDS: tuple[Backend, ...] = ("responses", "assistants")
"""In the order the tables are printed: Responses, what api.openai.com serves, first."""

Mode = Literal["naive", "sdk", "polling", "webhooks", "webhooks_lost"]
ALL_MODES: tuple[Mode, ...] = ("naive", "sdk", "polling", "webhooks")
"""The modes a benchmark runs unless told otherwise."""
EXTRA_MODES: tuple[Mode, ...] = ("webhooks_lost",)
"""Modes run only when named: webhook mode with no event ever delivered (the bridge down) ends
each run on the safety poll, minutes after its end."""
BACKEND_MODES: dict[Backend, tuple[Mode, ...]] = {
    "responses": ("naive", "polling", "webhooks", "webhooks_lost"),
    "assistants": ALL_MODES,
}
"""The SDK has no polling helper for background responses, so `sdk` is Assistants only."""

LOOP_MODES: tuple[Mode, ...] = ("naive", "sdk")
BASELINE: Mode = "naive"
"""The mode every ratio in a table is taken against: the seed's loop on that backend."""

MODE_LABELS: dict[str, str] = {
    "naive": "seed's loop",
    "sdk": "SDK create_and_poll",
    "polling": "durable polling",
    "webhooks": "durable webhooks",
    "webhooks_lost": "durable webhooks, bridge down",
}

EVENT_SHAPES: dict[Backend, str] = {
    "responses": "response.* events with data.id only, as OpenAI sends them",
    "assistants": "thread.run.* events with the whole run in data: emulator extension "
    "thread_run_webhooks (OpenAI sends no thread.run.* events)",
}
NO_EVENTS = "none"

DEFAULT_POLL = PollPolicy()
"""The durable runs' policy unless a benchmark sets one (`--poll`)."""

START_CONCURRENCY = 100
"""Workflow starts in flight at once (the client's own bound, not a benchmark knob)."""

CLOSED_POLL_S = 1.0
"""How often the benchmark counts the closed runs of a durable mode."""


def event_shape(backend: Backend, mode: Mode) -> str:
    """The webhook events a mode runs on (`none` outside webhook mode, and with the bridge
    down)."""
    return EVENT_SHAPES[backend] if mode == "webhooks" else NO_EVENTS


@dataclass(frozen=True)
class BenchConfig:
    """What every mode of one benchmark run shares.

    Attributes:
        out_dir: Logs and scratch files.
        rpm: The workers' API budget per minute (0: none).
        webhook_secret: Signs the emulator's events; the bridge verifies them.
        poll: The durable runs' policy (webhook modes set `webhooks` on it).
    """

    out_dir: Path
    rpm: int
    webhook_secret: str
    poll: PollPolicy = DEFAULT_POLL


def mode_bound_s(
    size: int, rpm: int, mode: Mode = "polling", poll: PollPolicy = DEFAULT_POLL
) -> float:
    """How long one mode may take before unfinished runs count as lost."""
    bound = 120.0 + size * 0.3
    if mode == "webhooks_lost":
        bound += poll.safety_poll_max_s  # the safety poll's longest wait
    if mode in ("polling", "webhooks", "webhooks_lost"):
        bound = max(bound, poll.deadline_s + 60)
    if rpm:
        bound += size * 12 * 60 / rpm  # ~12 API calls per run at the budget's pace
    return bound


async def create_assistant(base_url: str) -> str:
    """The one assistant an Assistants mode's runs use (created before the counters reset)."""
    client = AsyncOpenAI(base_url=base_url, api_key=API_KEY, max_retries=0)
    try:
        # The Assistants API is deprecated upstream; the benchmark drives it on purpose.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            assistant = await client.beta.assistants.create(
                model="gpt-4o-mini",
                name="bench",
                tools=[weather_tool_definition()],  # type: ignore[list-item]
            )
    finally:
        await client.close()
    return assistant.id


class ModeObserver(Protocol):
    """Looks into a durable mode while it runs (`bench.profile`); loop modes never call it."""

    async def worker_started(self, pid: int) -> None:
        """The worker (process `pid`) polls its queues; no run has started yet."""

    async def runs_finished(self, client: Client, task_queue: str) -> None:
        """Every run ended (or was terminated at the bound); worker and server still run.

        Args:
            client: Client of the mode's Temporal server.
            task_queue: The mode's task queue: its workflows' ids are `<task_queue>-<index>`.
        """


async def run_mode(
    config: BenchConfig,
    backend: Backend,
    mode: Mode,
    specs: list[RunSpec],
    observer: ModeObserver | None = None,
) -> ModeResult:
    """Run the workload in `mode` on `backend`, on processes started for this mode alone.

    Fresh processes per mode: no mode runs on the objects the emulator holds, or the history,
    visibility rows and task backlog Temporal holds, from an earlier mode. `observer`, if
    given, is told when a durable mode's worker has started and when its runs have finished.
    """
    if mode not in BACKEND_MODES[backend]:
        raise ValueError(f"mode {mode!r} does not exist on the {backend} backend")
    bound = mode_bound_s(len(specs), config.rpm, mode, config.poll)
    async with emulator_process(config.out_dir) as emu:
        assistant_id = await create_assistant(emu.base_url) if backend == "assistants" else None
        meters = {"emulator": Meter(emu.pid)}
        queue: str | None = None
        peak = len(specs)  # a loop starts every run at once
        if mode in LOOP_MODES:
            seen, usages, started = await _client_loop(
                config, emu, meters, backend, mode, assistant_id, specs, bound
            )
            process = "client loop"
        else:
            seen, usages, started, queue, peak = await _durable(
                config, emu, meters, backend, mode, assistant_id, specs, bound, observer
            )
            process = "worker"
        stats = await emu.stats()
    if queue is not None:
        # A workflow's objects are those whose metadata names it (the emulator indexes them).
        by_workflow: dict[str, list[str]] = stats[f"{_objects(backend)}_by_workflow"]
        seen = {
            i: (status, by_workflow.get(f"{queue}-{i}", []), at)
            for i, (status, _, at) in seen.items()
        }
    result = summarize(
        backend=backend,
        mode=mode,
        label=MODE_LABELS[mode],
        shape=event_shape(backend, mode),
        specs=specs,
        seen=seen,
        stats=stats,
        usages=usages,
        started=started,
        process=process,
    )
    return result.model_copy(update={"peak_in_flight": peak})


async def _metered(
    meters: dict[str, Meter], run: asyncio.Task[Any] | asyncio.Future[Any]
) -> dict[str, Usage]:
    """Sample the meters until `run` ends; every meter's usage (processes still alive)."""
    done = asyncio.Event()
    sampler = asyncio.create_task(sample_until(list(meters.values()), done))
    try:
        await run
    finally:
        done.set()
        await sampler
    return {name: meter.end() for name, meter in meters.items()}


async def _client_loop(
    config: BenchConfig,
    emu: Emulator,
    meters: dict[str, Meter],
    backend: Backend,
    mode: Mode,
    assistant_id: str | None,
    specs: list[RunSpec],
    bound: float,
) -> tuple[dict[int, Seen], dict[str, Usage], float]:
    name = f"{backend}-{mode}"
    spec_file = config.out_dir / f"specs-{name}.json"
    out_file = config.out_dir / f"results-{name}.json"
    spec_file.write_bytes(TypeAdapter(list[RunSpec]).dump_json(specs))
    out_file.unlink(missing_ok=True)
    extra = ["--assistant-id", assistant_id] if assistant_id else []
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.client_loop", "--backend", backend, "--mode", mode,
        "--base-url", emu.base_url, "--api-key", API_KEY, *extra,
        "--specs", str(spec_file), "--out", str(out_file),
        cwd=ROOT, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert proc.stdin is not None and proc.stdout is not None
    stdout = proc.stdout
    try:
        line = await asyncio.wait_for(stdout.readline(), 60)
        if line.strip() != b"ready":
            raise RuntimeError(f"client loop did not start: {line!r}")
        meters = {"client loop": Meter(proc.pid), **meters}
        await emu.reset()
        for meter in meters.values():
            meter.begin()
        started = time.time()
        proc.stdin.write(b"go\n")
        await proc.stdin.drain()

        async def finished() -> bytes:
            try:
                return await asyncio.wait_for(stdout.readline(), bound)
            except TimeoutError:
                return b""

        reading = asyncio.create_task(finished())
        usages = await _metered(meters, reading)
        if reading.result().strip() != b"done":
            usages["client loop"] = Usage(0.0, 0, 0)
        proc.stdin.close()
    finally:
        await stop_process(proc, timeout_s=5)
    seen: dict[int, Seen] = {}
    if out_file.exists():
        for r in TypeAdapter(list[LoopResult]).validate_json(out_file.read_text()):
            seen[r.index] = (r.status, r.object_ids, r.noticed_at or None)
    return seen, usages, started


def durable_request(
    spec: RunSpec,
    backend: Backend,
    assistant_id: str | None,
    *,
    webhooks: bool,
    poll: PollPolicy = DEFAULT_POLL,
) -> RunRequest:
    """The workflow input for one spec: `poll` (the default policy), in webhook mode or not."""
    return RunRequest(
        backend=backend,
        assistant_id=assistant_id,
        messages=[QUESTION],
        tools=[TOOL_NAME] if spec.tool_rounds else [],
        poll=poll.model_copy(update={"webhooks": webhooks}),
        metadata=spec.metadata,
    )


async def _durable(
    config: BenchConfig,
    emu: Emulator,
    meters: dict[str, Meter],
    backend: Backend,
    mode: Mode,
    assistant_id: str | None,
    specs: list[RunSpec],
    bound: float,
    observer: ModeObserver | None = None,
) -> tuple[dict[int, Seen], dict[str, Usage], float, str, int]:
    """Run the specs as workflows; object ids are left empty (the caller joins them)."""
    webhooks = mode == "webhooks"
    policy_webhooks = mode in ("webhooks", "webhooks_lost")
    async with AsyncExitStack() as stack:
        server = await stack.enter_async_context(temporal_server(config.out_dir))
        client, address = server.client, server.address
        meters = {**meters, "Temporal server": Meter(server.pid)}
        if webhooks:
            bridge = await stack.enter_async_context(
                bridge_process(
                    temporal_address=address,
                    api_url=emu.base_url,
                    secret=config.webhook_secret,
                    log=config.out_dir / f"bridge-{backend}.log",
                )
            )
            meters["bridge"] = Meter(bridge.pid)
            # The Assistants backend has events only through the emulator's named extension.
            await emu.configure(
                webhook_url=bridge.url,
                webhook_secret=config.webhook_secret,
                thread_run_webhooks=backend == "assistants",
            )
        queue = f"bench-{backend}-{mode}-{uuid.uuid4().hex[:8]}"
        env = worker_env(
            temporal_address=address, base_url=emu.base_url, task_queue=queue, rpm=config.rpm
        )
        worker = await start_worker(client, env, config.out_dir / f"worker-{backend}-{mode}.log")
        stack.push_async_callback(worker.stop)
        meters = {"worker": worker.meter, **meters}
        if observer is not None:
            await observer.worker_started(worker.pid)
        await emu.reset()
        statuses, noticed, started, usages, peak = await _start_and_wait(
            client,
            meters,
            specs,
            queue,
            bound,
            durable_request_for=lambda spec: durable_request(
                spec, backend, assistant_id, webhooks=policy_webhooks, poll=config.poll
            ),
        )
        if observer is not None:
            await observer.runs_finished(client, queue)
    seen: dict[int, Seen] = {
        spec.index: (statuses.get(spec.index, "lost"), [], noticed.get(spec.index))
        for spec in specs
    }
    return seen, usages, started, queue, peak


async def _start_and_wait(
    client: Client,
    meters: dict[str, Meter],
    specs: list[RunSpec],
    queue: str,
    bound: float,
    *,
    durable_request_for: Callable[[RunSpec], RunRequest],
) -> tuple[dict[int, str], dict[int, float], float, dict[str, Usage], int]:
    """Start every run, wait until each has closed (or the bound), meter the processes meanwhile.

    The caller holds no wait per run, which would load the server it measures (10,000 result
    long-polls, and a history read each): it counts the mode's closed workflows in visibility
    every `CLOSED_POLL_S`, then lists them once. A run's notice time is its workflow's close
    time on the server, the moment a caller's wait for the result would be answered; its status
    is the final `OpenAIRunStatus` (or the workflow's own status when it did not complete).

    Returns:
        Status and close time per run index, when the first start was sent, the usage of each
        process, and the most runs in flight at once.
    """
    started_at: dict[int, float] = {}
    gate = asyncio.Semaphore(START_CONCURRENCY)
    in_queue = f'TaskQueue = "{queue}"'

    async def start_one(spec: RunSpec) -> None:
        async with gate:
            await start_run(
                client,
                durable_request_for(spec),
                workflow_id=f"{queue}-{spec.index}",
                task_queue=queue,
            )
        started_at[spec.index] = time.time()

    async def everything() -> None:
        await asyncio.gather(*(start_one(s) for s in specs))
        closed = f'{in_queue} AND ExecutionStatus != "Running"'
        while True:  # visibility is another service: it is asked, it cannot notify
            if (await client.count_workflows(closed)).count >= len(specs):
                return
            await asyncio.sleep(CLOSED_POLL_S)

    async def bounded() -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(everything(), bound)

    for meter in meters.values():
        meter.begin()
    started = time.time()
    usages = await _metered(meters, asyncio.create_task(bounded()))
    statuses: dict[int, str] = {}
    closed_at: dict[int, float] = {}
    async for execution in client.list_workflows(in_queue):
        index = int(execution.id.rsplit("-", 1)[1])
        status = execution.status
        if status in (None, WorkflowExecutionStatus.RUNNING) or execution.close_time is None:
            with contextlib.suppress(RPCError):
                await client.get_workflow_handle(execution.id).terminate()
            continue
        closed_at[index] = execution.close_time.timestamp()
        final = execution.typed_search_attributes.get(sa.OPENAI_RUN_STATUS)
        completed = status == WorkflowExecutionStatus.COMPLETED
        statuses[index] = final if completed and final else status.name.lower()
    return statuses, closed_at, started, usages, peak_in_flight(started_at, closed_at)


def peak_in_flight(started_at: dict[int, float], closed_at: dict[int, float]) -> int:
    """The most runs started and not yet closed at any one time (a run never closed counts
    until the end)."""
    changes = sorted(
        [(at, 1) for at in started_at.values()]
        + [(at, -1) for i, at in closed_at.items() if i in started_at]
    )
    peak = current = 0
    for _, change in changes:
        current += change
        peak = max(peak, current)
    return peak


def _objects(backend: Backend) -> str:
    """The emulator's name for a backend's objects in its stats (`runs` or `responses`)."""
    return "responses" if backend == "responses" else "runs"
