"""`DurableRunsPlugin`: durable-runs inside a Temporal client and worker of your own.

    plugin = DurableRunsPlugin(openai=AsyncOpenAI(max_retries=0), tools=my_tools)
    client = await Client.connect("localhost:7233", plugins=[plugin])
    async with Worker(client, task_queue="durable-runs", workflows=[MyWorkflow]):
        ...

The plugin gives the client the pydantic data converter, and a worker of the workflow queue the
run workflows and the tool activity. Every OpenAI call runs on a second queue, the workflow
queue's name plus `-openai`, where one server-enforced rate limit guards the API quota across
all workers and calls go out by priority; while such a worker runs, the plugin runs a companion
worker on that queue with the backend activities. A worker built on the `-openai` queue itself
(to scale API calls apart from workflows) gets only the backend activities.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta

from openai import AsyncOpenAI
from temporalio.contrib.pydantic import PydanticPayloadConverter
from temporalio.converter import DataConverter, DefaultPayloadConverter
from temporalio.plugin import SimplePlugin
from temporalio.worker import (
    FixedSizeSlotSupplier,
    PollerBehaviorAutoscaling,
    ResourceBasedSlotConfig,
    ResourceBasedSlotSupplier,
    ResourceBasedTunerConfig,
    Worker,
    WorkerConfig,
    WorkerTuner,
    WorkflowRunner,
)
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner

from durable_runs.activities.assistants import AssistantsActivities
from durable_runs.activities.contract import BackendActivities
from durable_runs.activities.metrics import ActivityMetricsInterceptor
from durable_runs.activities.responses import ResponsesActivities
from durable_runs.activities.tools import ToolActivities, ToolRegistry
from durable_runs.options import ActivityOptions, use_worker_defaults
from durable_runs.search_attributes import ensure_registered
from durable_runs.settings import (
    DEFAULT_OPENAI_MIN_CALLS,
    DEFAULT_OPENAI_TARGET_CPU,
    OPENAI_QUEUE_SUFFIX,
)
from durable_runs.workflows.chat import ChatSessionWorkflow
from durable_runs.workflows.run import LegacyRunWorkflow, RunWorkflow

PLUGIN_NAME = "durable_runs.DurableRunsPlugin"

OWN_PACKAGE = "durable_runs"
"""Our import name: its modules are passed through the workflow sandbox."""

RUN_WORKFLOWS: Sequence[type] = (RunWorkflow, LegacyRunWorkflow)
"""The workflows the plugin registers: the run state machine, also under its former type name
so that runs started before an upgrade complete."""

CHAT_WORKFLOWS: Sequence[type] = (ChatSessionWorkflow,)
"""Chat sessions, registered with the run workflows: each turn is a child run."""

MAX_API_CALLS = 100
"""API calls one worker runs at once at most (the SDK's default activity slot count)."""


class ConverterConflictError(ValueError):
    """The client already has a payload converter other than the default or pydantic's."""


def with_pydantic_payloads(existing: DataConverter | None) -> DataConverter:
    """The client's data converter with pydantic payloads (its codec, if any, is kept).

    Raises:
        ConverterConflictError: The client has a custom payload converter of its own.
    """
    base = existing or DataConverter.default
    if base.payload_converter_class is PydanticPayloadConverter:
        return base
    if base.payload_converter_class is not DefaultPayloadConverter:
        raise ConverterConflictError(
            "DurableRunsPlugin needs pydantic payloads (temporalio.contrib.pydantic), but the "
            f"client's data converter uses {base.payload_converter_class.__name__}"
        )
    return dataclasses.replace(base, payload_converter_class=PydanticPayloadConverter)


def with_own_modules_passed_through(runner: WorkflowRunner | None) -> WorkflowRunner:
    """The worker's workflow runner, with our modules imported once instead of once per run.

    The sandbox re-imports a workflow's module, and every module it imports that is not passed
    through, for each run it starts. Our run workflows skip the sandbox (`workflows.run`); a
    sandboxed workflow that uses durable-runs (the user's business workflows, our examples)
    would still re-import all of `durable_runs` for each of its runs. Our modules keep no state
    at module level, so they are passed through; the user's own modules keep the sandbox as
    configured. A runner other than the sandbox is kept.
    """
    if runner is None:
        runner = SandboxedWorkflowRunner()
    if not isinstance(runner, SandboxedWorkflowRunner):
        return runner
    restrictions = runner.restrictions.with_passthrough_modules(OWN_PACKAGE)
    return dataclasses.replace(runner, restrictions=restrictions)


def per_second_rate(rpm: int) -> float:
    """The task-queue rate that keeps every 60-second window within `rpm` requests.

    The server's limiter is a token bucket that admits up to one second's worth at once, so a
    minute can see 61 seconds' worth; and a dispatched activity reaches the API a little later
    than it was dispatched, by a varying delay. Divide by 62: one second for the burst, one
    for that jitter.
    """
    return rpm / 62


def api_call_tuner(
    *,
    min_calls: int = DEFAULT_OPENAI_MIN_CALLS,
    target_cpu: float = DEFAULT_OPENAI_TARGET_CPU,
    max_memory: float = 0.9,
) -> WorkerTuner:
    """Slots of the OpenAI worker: as many API calls at once as the host's CPU has room for.

    A worker that took every call at once on a busy host ran them all slowly, first come first
    served: a finishing run's `answer` waited behind the `prepare` and `start` of runs that had
    just begun. Past `target_cpu`, this worker takes no calls beyond `min_calls`; the rest wait
    on the OpenAI queue, where the server hands them out by priority. A call uses little CPU
    for its wait on the API, so an idle host still runs up to `MAX_API_CALLS` at once, with no
    ramp-up delay between slots (a delay would cap the call rate).

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


def is_api_queue(task_queue: str) -> bool:
    """Whether a worker of `task_queue` runs OpenAI calls (the `-openai` queue) or workflows."""
    return task_queue.endswith(OPENAI_QUEUE_SUFFIX)


class DurableRunsPlugin(SimplePlugin):
    """Adds durable-runs to a Temporal client and to the workers built from it.

    Give it to `Client.connect(plugins=[...])` (every worker of that client gets it) or to one
    `Worker(plugins=[...])`.
    """

    def __init__(
        self,
        *,
        openai: AsyncOpenAI,
        tools: ToolRegistry | None = None,
        options: ActivityOptions | None = None,
        openai_rpm: int = 0,
        api_tuner: WorkerTuner | None = None,
        register_search_attributes: bool = True,
    ) -> None:
        """Configure the plugin.

        Args:
            openai: Client of the backend activities; create it with `max_retries=0`, since
                Temporal owns retries (every attempt is an activity attempt).
            tools: Tools the model may call (none by default).
            options: Timeouts, retry policies and call priorities of this worker's runs (a
                run's own `RunRequest.options` override them).
            openai_rpm: API requests per minute across all workers, enforced by the Temporal
                server on the `-openai` queue (0: unlimited). Under a budget every API call
                is one request, so an Assistants read does not also fetch the answer.
            api_tuner: Slots of the `-openai` worker (default: `api_call_tuner()`).
            register_search_attributes: Register our search attributes in the namespace before
                the worker polls (the dev server and self-hosted clusters allow it; on
                Temporal Cloud register them once with `tcld` and pass False).
        """
        tools = tools or ToolRegistry()
        super().__init__(
            PLUGIN_NAME,
            data_converter=with_pydantic_payloads,
            workflows=[*RUN_WORKFLOWS, *CHAT_WORKFLOWS],
            activities=[ToolActivities(tools).run_tool],
            workflow_runner=with_own_modules_passed_through,
        )
        self._openai = openai
        self._tools = tools
        self._options = options
        self._openai_rpm = openai_rpm
        self._api_tuner = api_tuner
        self._register_search_attributes = register_search_attributes

    def backend_activities(self) -> list[Callable[..., Awaitable[object]]]:
        """The activities of the `-openai` queue: every API call of both backends."""
        assistants = AssistantsActivities(
            self._openai, self._tools, answer_with_read=not self._openai_rpm
        )
        return [
            *_api_calls(assistants),
            *_api_calls(ResponsesActivities(self._openai, self._tools)),
        ]

    def configure_worker(self, config: WorkerConfig) -> WorkerConfig:
        """Workflows and the tool activity on a workflow queue; API calls on an `-openai` one.

        Raises:
            ConverterConflictError: The worker's client lacks pydantic payloads (the plugin was
                given to the worker alone, and the client was built without it).
        """
        converter = config["client"].data_converter
        if converter.payload_converter_class is not PydanticPayloadConverter:
            raise ConverterConflictError(
                "DurableRunsPlugin needs a client with pydantic payloads: pass the plugin to "
                "Client.connect(plugins=[...]) (or give the client "
                "temporalio.contrib.pydantic.pydantic_data_converter)"
            )
        config["interceptors"] = [*config.get("interceptors", ()), ActivityMetricsInterceptor()]
        if not is_api_queue(config["task_queue"]):
            return super().configure_worker(config)
        config["activities"] = [*config.get("activities", ()), *self.backend_activities()]
        if self._openai_rpm and config.get("max_task_queue_activities_per_second") is None:
            config["max_task_queue_activities_per_second"] = per_second_rate(self._openai_rpm)
        if config.get("tuner") is None and config.get("max_concurrent_activities") is None:
            config["tuner"] = self._api_tuner or api_call_tuner()
        return config

    async def run_worker(self, worker: Worker, next: Callable[[Worker], Awaitable[None]]) -> None:
        """Run a workflow-queue worker together with its `-openai` companion."""
        if is_api_queue(worker.task_queue):
            await next(worker)
            return
        if self._register_search_attributes:
            await ensure_registered(worker.client)
        companion = Worker(
            worker.client,
            task_queue=worker.task_queue + OPENAI_QUEUE_SUFFIX,
            # A plugin of the client reaches every worker of it already.
            plugins=[] if self in worker.client.config()["plugins"] else [self],
            activity_task_poller_behavior=PollerBehaviorAutoscaling(),
            # In-flight API calls get the grace the workflow worker's activities get.
            graceful_shutdown_timeout=worker.config().get("graceful_shutdown_timeout", timedelta()),
        )
        with self._worker_defaults():
            async with companion:
                await next(worker)

    def _worker_defaults(self) -> contextlib.AbstractContextManager[None]:
        if self._options is None:
            return contextlib.nullcontext()
        return use_worker_defaults(self._options)


def _api_calls(backend: BackendActivities) -> list[Callable[..., Awaitable[object]]]:
    return [
        backend.prepare,
        backend.start,
        backend.read,
        backend.poll,
        backend.submit_tool_outputs,
        backend.cancel,
        backend.answer,
    ]
