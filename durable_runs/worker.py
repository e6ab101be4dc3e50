"""The worker process: clients from settings, `DurableRunsPlugin`, one worker, run till stopped.

The worker polls the main queue (workflows and tools); the plugin runs its companion on the
OpenAI queue (`<queue>-openai`, every API call), whose server-side rate limit
(`max_task_queue_activities_per_second`, from `DURABLE_RUNS_OPENAI_RPM`) guards the API quota
across all worker processes.
"""

from __future__ import annotations

import asyncio
import compileall
import inspect
import logging
import signal
import sys
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

from openai import AsyncOpenAI
from temporalio.client import Client
from temporalio.worker import PollerBehaviorAutoscaling, Worker, WorkerTuner

from durable_runs.activities.tools import ToolRegistry, load_registry
from durable_runs.plugin import CHAT_WORKFLOWS, RUN_WORKFLOWS, DurableRunsPlugin, api_call_tuner
from durable_runs.settings import DEFAULT_STICKY_TIMEOUT_S, Settings, get_settings
from durable_runs.telemetry.logs import configure_logging
from durable_runs.telemetry.metrics import metrics_runtime
from durable_runs.telemetry.tracing import install_tracing, tracing_plugins
from durable_runs.temporal import connect
from durable_runs.workflows.triage import SupportTicketTriageWorkflow

log = logging.getLogger("durable_runs.worker")

WORKER_SERVICE = "durable-runs-worker"
"""The worker's OpenTelemetry service name when `OTEL_SERVICE_NAME` is unset."""

EXAMPLE_WORKFLOWS: Sequence[type] = (SupportTicketTriageWorkflow,)
"""The example business workflow, registered beside the plugin's run workflows."""

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


def configured_api_call_tuner(settings: Settings) -> WorkerTuner:
    """`api_call_tuner` as configured (`DURABLE_RUNS_OPENAI_MIN_CALLS`, `..._TARGET_CPU`)."""
    return api_call_tuner(
        min_calls=settings.openai_min_calls, target_cpu=settings.openai_target_cpu
    )


def cache_workflow_bytecode(workflows: Sequence[type]) -> None:
    """Write the bytecode of the workflows' packages if it is missing or stale.

    The sandbox re-imports a workflow's module for every run it starts; without a `.pyc` (as
    under PYTHONDONTWRITEBYTECODE=1) each of those imports compiles the source again.
    """
    for package in {Path(inspect.getfile(w)).parent for w in workflows}:
        compileall.compile_dir(package, maxlevels=0, quiet=2)


def build_worker(
    client: Client,
    *,
    task_queue: str,
    openai: AsyncOpenAI,
    tools: ToolRegistry,
    openai_rpm: int = 0,
    max_cached_workflows: int = 1000,
    workflows: Sequence[type] = EXAMPLE_WORKFLOWS,
    api_tuner: WorkerTuner | None = None,
    shutdown_grace_s: float = 0.0,
    sticky_timeout_s: float = DEFAULT_STICKY_TIMEOUT_S,
) -> Worker:
    """The worker of one process (not yet running): the plugin's, plus business workflows.

    Args:
        client: Temporal client (any data converter: the plugin needs pydantic payloads, and
            says so if the client has a custom converter).
        task_queue: Main queue; API calls go to `task_queue + "-openai"`.
        openai: Client used by the backend activities.
        tools: Tools the model may call.
        openai_rpm: API request budget per minute across all workers (0: unlimited).
        max_cached_workflows: Workflow cache size (0 replays every task: used by crash tests).
        workflows: Workflows registered beside the run workflows (your business workflows).
        api_tuner: Slots of the OpenAI worker (default: `api_call_tuner()`).
        shutdown_grace_s: On shutdown, how long running activities of this worker and of its
            `-openai` companion get to finish before they are cancelled.
        sticky_timeout_s: How long a workflow task waits for the worker that holds the
            workflow in its cache before another worker takes it (the hand-over after a crash).
    """
    plugin = DurableRunsPlugin(
        openai=openai, tools=tools, openai_rpm=openai_rpm, api_tuner=api_tuner
    )
    return Worker(
        client,
        task_queue=task_queue,
        workflows=workflows,
        plugins=[plugin],
        max_cached_workflows=max_cached_workflows,
        workflow_task_poller_behavior=PollerBehaviorAutoscaling(),
        activity_task_poller_behavior=PollerBehaviorAutoscaling(),
        graceful_shutdown_timeout=timedelta(seconds=shutdown_grace_s),
        sticky_queue_schedule_to_start_timeout=timedelta(seconds=sticky_timeout_s),
    )


async def run_until(worker: Worker, stop: asyncio.Event) -> None:
    """Run `worker` until `stop` is set, then shut it down gracefully.

    Shutting down, the worker stops polling and lets its running activities finish within its
    `graceful_shutdown_timeout` (then cancels them); the same holds for its `-openai` companion.
    """
    async with worker:
        await stop.wait()


async def main(settings: Settings | None = None, tools: ToolRegistry | None = None) -> None:
    """Connect, build the worker and run until SIGINT/SIGTERM.

    Args:
        settings: Defaults to the environment's.
        tools: Defaults to the registry named by `DURABLE_RUNS_TOOLS` (the demo tools).
    """
    settings = settings or get_settings()
    cache_workflow_bytecode([*RUN_WORKFLOWS, *CHAT_WORKFLOWS, *EXAMPLE_WORKFLOWS])
    runtime = metrics_runtime(settings)
    install_tracing(settings, service_name=WORKER_SERVICE)
    # Closed before the loop ends, so no connection is left to the interpreter's exit.
    async with openai_client(settings) as api:
        client = await connect(settings, runtime=runtime, plugins=tracing_plugins())
        if runtime is not None:
            log.info("metrics at http://%s/metrics", settings.metrics_bind)
        worker = build_worker(
            client,
            task_queue=settings.task_queue,
            openai=api,
            tools=tools or load_registry(settings.tools),
            openai_rpm=settings.openai_rpm,
            api_tuner=configured_api_call_tuner(settings),
            shutdown_grace_s=settings.shutdown_grace_s,
            sticky_timeout_s=settings.sticky_timeout_s,
        )
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        log.info("worker polling %s and %s", settings.task_queue, settings.openai_task_queue)
        await run_until(worker, stop)
        log.info("worker stopped")


def run() -> None:
    """Entry point: exits at once with a clear message when the key is missing."""
    configure_logging(get_settings())
    try:
        asyncio.run(main())
    except MissingApiKeyError as err:
        print(f"error: {err}", file=sys.stderr)
        raise SystemExit(2) from None
