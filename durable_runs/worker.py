"""The worker: builds clients from settings, registers workflows and activities, runs till stopped.

Two Temporal workers share one process: one polls the main queue (workflows and tools), the
other the OpenAI queue (`<queue>-openai`, every API call), whose server-side rate limit
(`max_task_queue_activities_per_second`, from `DURABLE_RUNS_OPENAI_RPM`) guards the API quota
across all worker processes.
"""

from __future__ import annotations

import asyncio
import compileall
import contextlib
import inspect
import logging
import signal
import sys
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

from openai import AsyncOpenAI
from temporalio.client import Client
from temporalio.worker import (
    FixedSizeSlotSupplier,
    PollerBehaviorAutoscaling,
    ResourceBasedSlotConfig,
    ResourceBasedSlotSupplier,
    ResourceBasedTunerConfig,
    Worker,
    WorkerTuner,
)

from durable_runs.activities.assistants import AssistantsActivities
from durable_runs.activities.responses import ResponsesActivities
from durable_runs.activities.tools import ToolActivities, ToolRegistry, load_registry
from durable_runs.search_attributes import ensure_registered
from durable_runs.settings import (
    DEFAULT_OPENAI_MIN_CALLS,
    DEFAULT_OPENAI_TARGET_CPU,
    OPENAI_QUEUE_SUFFIX,
    Settings,
    get_settings,
)
from durable_runs.temporal import connect
from durable_runs.workflows.run import AssistantRunWorkflow
from durable_runs.workflows.triage import SupportTicketTriageWorkflow

log = logging.getLogger("durable_runs.worker")

WORKFLOWS = [AssistantRunWorkflow, SupportTicketTriageWorkflow]
"""Every workflow the worker registers."""

MISSING_KEY = (
    "OPENAI_API_KEY is not set: the worker needs it to call the OpenAI API. Set OPENAI_API_KEY "
    "(and OPENAI_BASE_URL for the emulator or another compatible server, e.g. "
    "http://127.0.0.1:4010/v1)."
)


class MissingApiKeyError(RuntimeError):
    """The worker was started without `OPENAI_API_KEY`."""


def openai_client(settings: Settings) -> AsyncOpenAI:
    """The worker's OpenAI client: key and base URL from settings, SDK retries off.

    Raises:
        MissingApiKeyError: `OPENAI_API_KEY` is not set.
    """
    if settings.openai_api_key is None:
        raise MissingApiKeyError(MISSING_KEY)
    return AsyncOpenAI(
        api_key=settings.openai_api_key.get_secret_value(),
        base_url=settings.openai_base_url,
        max_retries=0,  # Temporal owns retries: every attempt is an activity attempt.
    )


def per_second_rate(rpm: int) -> float:
    """The task-queue rate that keeps every 60-second window within `rpm` requests.

    The server's limiter is a token bucket that admits up to one second's worth at once, so a
    minute can see 61 seconds' worth; and a dispatched activity reaches the API a little later
    than it was dispatched, by a varying delay. Divide by 62: one second for the burst, one
    for that jitter.
    """
    return rpm / 62


MAX_API_CALLS = 100
"""API calls one worker runs at once at most (the SDK's default activity slot count)."""


def api_call_tuner(
    *,
    min_calls: int = DEFAULT_OPENAI_MIN_CALLS,
    target_cpu: float = DEFAULT_OPENAI_TARGET_CPU,
    max_memory: float = 0.9,
) -> WorkerTuner:
    """Slots of the OpenAI worker: as many API calls at once as the host's CPU has room for.

    A worker that took every call at once (100 slots) on a busy host ran them all slowly,
    first come first served: a finishing run's `answer` waited behind the `prepare` and
    `start` of runs that had just begun. Past `target_cpu`, this worker takes no calls beyond
    `min_calls`; the rest wait on the OpenAI queue, where the server hands them out by
    priority (`CALL_PRIORITY`). With 200 runs at once on 2 cores, this took the webhook p50
    from 2.2 s to 0.11 s. A call uses little CPU for its wait on the API, so an idle host
    still runs up to `MAX_API_CALLS` at once, with no ramp-up delay between slots (a delay
    would cap the call rate).

    Args:
        min_calls: Calls always allowed at once.
        target_cpu: Host CPU share (0-1] the tuner steers towards.
        max_memory: Host memory share above which no calls beyond `min_calls` start.
    """
    fixed = FixedSizeSlotSupplier(MAX_API_CALLS)
    return WorkerTuner.create_composite(
        workflow_supplier=fixed,
        activity_supplier=ResourceBasedSlotSupplier(
            ResourceBasedSlotConfig(
                minimum_slots=min_calls,
                maximum_slots=MAX_API_CALLS,
                ramp_throttle=timedelta(0),
            ),
            ResourceBasedTunerConfig(target_memory_usage=max_memory, target_cpu_usage=target_cpu),
        ),
        local_activity_supplier=fixed,
        nexus_supplier=fixed,
    )


def configured_api_call_tuner(settings: Settings) -> WorkerTuner:
    """`api_call_tuner` as configured (`DURABLE_RUNS_OPENAI_MIN_CALLS`, `..._TARGET_CPU`)."""
    return api_call_tuner(
        min_calls=settings.openai_min_calls, target_cpu=settings.openai_target_cpu
    )


def cache_workflow_bytecode(workflows: Sequence[type]) -> None:
    """Write the bytecode of the workflows' packages if it is missing or stale.

    The sandbox re-imports a workflow's module for every run it starts; without a `.pyc` (as
    under PYTHONDONTWRITEBYTECODE=1) each of those imports compiles the source again, about a
    tenth of the worker's CPU per run.
    """
    for package in {Path(inspect.getfile(w)).parent for w in workflows}:
        compileall.compile_dir(package, maxlevels=0, quiet=2)


def build_workers(
    client: Client,
    *,
    task_queue: str,
    openai: AsyncOpenAI,
    tools: ToolRegistry,
    openai_rpm: int = 0,
    max_cached_workflows: int = 1000,
    workflows: Sequence[type] = WORKFLOWS,
    api_tuner: WorkerTuner | None = None,
) -> Sequence[Worker]:
    """The two workers of one process (not yet running).

    Args:
        client: Temporal client (with the pydantic data converter).
        task_queue: Main queue; API calls go to `task_queue + "-openai"`.
        openai: Client used by the backend activities.
        tools: Tools the model may call.
        openai_rpm: API request budget per minute across all workers (0: unlimited; then an
            Assistants read that sees completion also fetches the answer).
        max_cached_workflows: Workflow cache size (0 replays every task: used by crash tests).
        workflows: Workflows of the main queue (add your business workflows to ours).
        api_tuner: Slots of the OpenAI worker (default: `api_call_tuner()`).

    Returns:
        The workflow/tool worker and the OpenAI worker.
    """
    main = Worker(
        client,
        task_queue=task_queue,
        workflows=workflows,
        activities=[ToolActivities(tools).run_tool],
        max_cached_workflows=max_cached_workflows,
        workflow_task_poller_behavior=PollerBehaviorAutoscaling(),
        activity_task_poller_behavior=PollerBehaviorAutoscaling(),
    )
    # Under a budget every activity is one API request, so the rate limit counts requests.
    assistants = AssistantsActivities(openai, tools, answer_with_read=not openai_rpm)
    responses = ResponsesActivities(openai, tools)
    api = Worker(
        client,
        task_queue=task_queue + OPENAI_QUEUE_SUFFIX,
        activities=[
            assistants.prepare,
            assistants.start,
            assistants.read,
            assistants.submit_tool_outputs,
            assistants.cancel,
            assistants.answer,
            responses.prepare,
            responses.start,
            responses.read,
            responses.submit_tool_outputs,
            responses.cancel,
            responses.answer,
        ],
        max_task_queue_activities_per_second=per_second_rate(openai_rpm) if openai_rpm else None,
        tuner=api_tuner or api_call_tuner(),
        activity_task_poller_behavior=PollerBehaviorAutoscaling(),
    )
    return [main, api]


async def run_workers(workers: Sequence[Worker], stop: asyncio.Event) -> None:
    """Run the workers until `stop` is set, then shut them down gracefully."""
    async with contextlib.AsyncExitStack() as stack:
        for worker in workers:
            await stack.enter_async_context(worker)
        await stop.wait()


async def main(settings: Settings | None = None, tools: ToolRegistry | None = None) -> None:
    """Connect, build the workers and run until SIGINT/SIGTERM.

    Args:
        settings: Defaults to the environment's.
        tools: Defaults to the registry named by `DURABLE_RUNS_TOOLS` (the demo tools).
    """
    settings = settings or get_settings()
    api = openai_client(settings)
    cache_workflow_bytecode(WORKFLOWS)
    client = await connect(settings)
    await ensure_registered(client)
    workers = build_workers(
        client,
        task_queue=settings.task_queue,
        openai=api,
        tools=tools or load_registry(settings.tools),
        openai_rpm=settings.openai_rpm,
        api_tuner=configured_api_call_tuner(settings),
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    log.info("worker polling %s and %s", settings.task_queue, settings.openai_task_queue)
    await run_workers(workers, stop)
    log.info("worker stopped")


def run() -> None:
    """Entry point: exits at once with a clear message when the key is missing."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    # The openai SDK's HTTP client logs every request at INFO: one line per API call.
    logging.getLogger("httpx2").setLevel(logging.WARNING)
    try:
        asyncio.run(main())
    except MissingApiKeyError as err:
        print(f"error: {err}", file=sys.stderr)
        raise SystemExit(2) from None


if __name__ == "__main__":
    run()
