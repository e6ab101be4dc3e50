"""`DurableRunsAgentsPlugin`: Temporal's OpenAI Agents integration, model calls in background mode.

One line changes in a worker written for `temporalio-openai-agents`::

    plugin = OpenAIAgentsPlugin(model_params=params)          # before
    plugin = DurableRunsAgentsPlugin(model_params=params)     # after

Everything else of theirs stays: the payload converter, the sandbox passthrough, tracing, MCP
and sandbox clients, `activity_as_tool`, the streaming activity. What changes: inside a
workflow every agent's model call is a child workflow (`AgentModelCallWorkflow`) that creates a
background response and waits for it with no worker slot held (webhook events or the server's
retries), instead of an activity that holds a slot and an HTTP request while the model thinks.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Iterator
from typing import Any

from agents import OpenAIProvider
from agents.run import get_default_agent_runner, set_default_agent_runner
from openai import AsyncOpenAI
from temporalio.client import WorkflowHistory
from temporalio.openai_agents import (
    AllowAllWorkerEnvVars,
    ModelActivityParameters,
    OpenAIAgentsPlugin,
)
from temporalio.worker import Replayer, ReplayerConfig, Worker, WorkerConfig, WorkflowReplayResult

from durable_runs.activities.agent_model import AgentModelActivities
from durable_runs.models import PollPolicy
from durable_runs.plugin import with_own_modules_passed_through
from durable_runs.search_attributes import ensure_registered
from durable_runs.workflows.agent_model_call import AgentModelCallWorkflow
from durable_runs.workflows.agents_runner import BackgroundResponsesRunner


class DurableRunsAgentsPlugin(OpenAIAgentsPlugin):
    """`OpenAIAgentsPlugin`, with each model call of a workflow a background response."""

    def __init__(
        self,
        model_params: ModelActivityParameters | None = None,
        *,
        openai: AsyncOpenAI | None = None,
        poll: PollPolicy | None = None,
        register_search_attributes: bool = True,
        resolvable_worker_env_vars: Collection[str] | AllowAllWorkerEnvVars = (),
        **kwargs: Any,
    ) -> None:
        """Configure the plugin.

        Args:
            model_params: As `OpenAIAgentsPlugin` takes them; `task_queue` and the summary
                apply to the model-call workflows (their waits are bounded by `poll`).
            openai: Client of the model-call activities (default: `AsyncOpenAI(max_retries=0)`
                from the `OPENAI_*` environment); Temporal owns retries.
            poll: How a model call waits: `PollPolicy(webhooks=True)` with the webhook bridge
                routing `response.*` events, polling on backoff otherwise; its `deadline_s`
                bounds one model call.
            register_search_attributes: Register our search attributes (`OpenAIRunId`, ...)
                before the worker polls (pass False on Temporal Cloud; register them once).
            resolvable_worker_env_vars: As `OpenAIAgentsPlugin` takes them.
            **kwargs: Any other `OpenAIAgentsPlugin` argument (MCP servers, sandbox clients,
                tracing), passed on unchanged.
        """
        self._model_params = model_params or ModelActivityParameters()
        if openai is not None and kwargs.get("model_provider") is None:
            # Their activities (streaming calls) talk to the same API.
            kwargs["model_provider"] = OpenAIProvider(openai_client=openai)
        super().__init__(
            self._model_params, resolvable_worker_env_vars=resolvable_worker_env_vars, **kwargs
        )
        self._openai = openai
        self._poll = poll or PollPolicy()
        self._register_search_attributes = register_search_attributes
        self._env_vars = resolvable_worker_env_vars

    def model_call_activities(self) -> AgentModelActivities:
        """The activities of the model-call workflows."""
        return AgentModelActivities(
            self._openai or AsyncOpenAI(max_retries=0), resolvable_worker_env_vars=self._env_vars
        )

    def configure_worker(self, config: WorkerConfig) -> WorkerConfig:
        """Theirs, plus the model-call workflow, its activities and our sandbox passthrough."""
        config = super().configure_worker(config)
        activities = self.model_call_activities()
        config["workflows"] = [*config.get("workflows", ()), AgentModelCallWorkflow]
        config["activities"] = [
            *config.get("activities", ()),
            activities.create,
            activities.read,
            activities.poll,
            activities.cancel,
            activities.model_response,
        ]
        config["workflow_runner"] = with_own_modules_passed_through(config.get("workflow_runner"))
        return config

    def configure_replayer(self, config: ReplayerConfig) -> ReplayerConfig:
        """Theirs, plus the model-call workflow."""
        config = super().configure_replayer(config)
        config["workflows"] = [*config.get("workflows", ()), AgentModelCallWorkflow]
        config["workflow_runner"] = with_own_modules_passed_through(config.get("workflow_runner"))
        return config

    async def run_worker(self, worker: Worker, next: Callable[[Worker], Awaitable[None]]) -> None:
        """Run the worker inside their context, with our runner as the SDK's default."""
        if self._register_search_attributes:
            await ensure_registered(worker.client)

        async def with_runner(worker: Worker) -> None:
            with self.background_runner():
                await next(worker)

        await super().run_worker(worker, with_runner)

    def run_replayer(
        self,
        replayer: Replayer,
        histories: AsyncIterator[WorkflowHistory],
        next: Callable[
            [Replayer, AsyncIterator[WorkflowHistory]],
            contextlib.AbstractAsyncContextManager[AsyncIterator[WorkflowReplayResult]],
        ],
    ) -> contextlib._AsyncGeneratorContextManager[AsyncIterator[WorkflowReplayResult], None]:
        """Replay inside their context, with our runner as the SDK's default."""

        @contextlib.asynccontextmanager
        async def with_runner(
            replayer: Replayer, histories: AsyncIterator[WorkflowHistory]
        ) -> AsyncIterator[AsyncIterator[WorkflowReplayResult]]:
            with self.background_runner():
                async with next(replayer, histories) as results:
                    yield results

        return super().run_replayer(replayer, histories, with_runner)

    @contextlib.contextmanager
    def background_runner(self) -> Iterator[None]:
        """Make `BackgroundResponsesRunner` the SDK's default runner while inside."""
        previous = get_default_agent_runner()
        set_default_agent_runner(BackgroundResponsesRunner(self._model_params, self._poll))
        try:
            yield
        finally:
            set_default_agent_runner(previous)
