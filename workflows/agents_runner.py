"""The Agents SDK runner inside a workflow, with each model call a background response.

Temporal's integration (`temporalio.openai_agents`) installs `TemporalOpenAIRunner` as the
SDK's default runner: in a workflow it gives every agent (and the agents it hands off to) a
`_TemporalModelStub` model, whose `get_response` runs the call as one activity. We keep their
runner (its checks, the run-config handling, the error rewrap) and give the agents our stub
first: `BackgroundModelStub` is a `_TemporalModelStub` (so their runner leaves it in place), and
its `get_response` builds the very input their activity takes and hands it to a child workflow,
`AgentModelCallWorkflow`, that runs it as a background response. Streaming calls are left to
their streaming activity.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from agents import (
        Agent,
        AgentOutputSchemaBase,
        Handoff,
        ModelResponse,
        ModelSettings,
        ModelTracing,
        RunContextWrapper,
        RunResult,
        RunState,
        TContext,
        Tool,
        TResponseInputItem,
    )
    from agents.run import RunOptions
    from openai.types.responses.response_prompt_param import ResponsePromptParam
    from temporalio.openai_agents import ModelActivityParameters
    from temporalio.openai_agents._openai_runner import (
        TemporalOpenAIRunner,
        _coerce_run_config,
        _model_name,
    )
    from temporalio.openai_agents._temporal_model_stub import _TemporalModelStub
    from typing_extensions import Unpack

    from durable_runs.models import PollPolicy

from durable_runs.workflows.agent_model_call import (
    AgentModelCallWorkflow,
    ModelCallRequest,
    start_attributes,
)

MODEL_CALL_PREFIX = "model-"
"""A model call's child workflow id: `<agent workflow id>/model-<8 hex>`."""


class BackgroundModelStub(_TemporalModelStub):
    """An agent's model inside a workflow: each call a child workflow, a background response."""

    def __init__(
        self,
        model_name: str | None,
        *,
        model_params: ModelActivityParameters,
        agent: Agent[Any] | None,
        poll: PollPolicy,
    ) -> None:
        """Args:
        model_name: The agent's model name (None: the SDK's default model).
        model_params: The integration's parameters (the summary and task queue apply).
        agent: The agent whose model this is (None for a run config's model).
        poll: How each call waits: webhooks or polling, and its deadline.
        """
        super().__init__(model_name, model_params=model_params, agent=agent)
        self.poll = poll

    async def get_response(
        self,
        system_instructions: str | None,
        input: str | list[TResponseInputItem],
        model_settings: ModelSettings,
        tools: list[Tool],
        output_schema: AgentOutputSchemaBase | None,
        handoffs: list[Handoff],
        tracing: ModelTracing,
        *,
        previous_response_id: str | None,
        conversation_id: str | None,
        prompt: ResponsePromptParam | None,
    ) -> ModelResponse:
        """Run the call as `AgentModelCallWorkflow` and return its `ModelResponse`."""
        call, summary = self._build_activity_input(
            system_instructions=system_instructions,
            input=input,
            model_settings=model_settings,
            tools=tools,
            output_schema=output_schema,
            handoffs=handoffs,
            tracing=tracing,
            previous_response_id=previous_response_id,
            conversation_id=conversation_id,
            prompt=prompt,
        )
        info = workflow.info()
        return await workflow.execute_child_workflow(
            AgentModelCallWorkflow.run,
            ModelCallRequest(call=call, poll=self.poll),
            id=f"{info.workflow_id}/{MODEL_CALL_PREFIX}{workflow.uuid4().hex[:8]}",
            task_queue=self.model_params.task_queue or info.task_queue,
            static_summary=summary,
            search_attributes=start_attributes(),
            cancellation_type=workflow.ChildWorkflowCancellationType.WAIT_CANCELLATION_COMPLETED,
        )


def to_background(
    agent: Agent[Any],
    model_params: ModelActivityParameters,
    poll: PollPolicy,
    seen: dict[int, Agent[Any]] | None = None,
) -> Agent[Any]:
    """A copy of `agent`, and of every agent it can hand off to, on `BackgroundModelStub`.

    As the integration's own conversion: handoff targets are converted too (a `Handoff`
    object's target when it is invoked), and a cycle of handoffs is converted once.
    """
    seen = {} if seen is None else seen
    if id(agent) in seen:
        return seen[id(agent)]
    if isinstance(agent.model, _TemporalModelStub):
        return agent
    converted = dataclasses.replace(agent)
    seen[id(agent)] = converted
    handoffs: list[Agent[Any] | Handoff[Any, Any]] = []
    for handoff in agent.handoffs:
        if isinstance(handoff, Agent):
            handoffs.append(to_background(handoff, model_params, poll, seen))
            continue
        invoke: Callable[[RunContextWrapper[Any], str], Awaitable[Agent[Any]]]
        invoke = handoff.on_invoke_handoff

        async def on_invoke(
            context: RunContextWrapper[Any],
            args: str,
            invoke: Callable[[RunContextWrapper[Any], str], Awaitable[Agent[Any]]] = invoke,
        ) -> Agent[Any]:
            return to_background(await invoke(context, args), model_params, poll, seen)

        handoffs.append(dataclasses.replace(handoff, on_invoke_handoff=on_invoke))
    converted.model = BackgroundModelStub(
        _model_name(agent), model_params=model_params, agent=agent, poll=poll
    )
    converted.handoffs = handoffs
    return converted


class BackgroundResponsesRunner(TemporalOpenAIRunner):
    """Temporal's runner, with every model call of a workflow run a background response."""

    def __init__(self, model_params: ModelActivityParameters, poll: PollPolicy) -> None:
        """Args:
        model_params: The integration's parameters.
        poll: How each model call waits.
        """
        super().__init__(model_params)
        self.poll = poll

    async def run(
        self,
        starting_agent: Agent[TContext],
        input: str | list[TResponseInputItem] | RunState[TContext],
        **kwargs: Unpack[RunOptions[TContext]],
    ) -> RunResult:
        """In a workflow, run the agent with background-response models; else as theirs."""
        if workflow.in_workflow():
            starting_agent = to_background(starting_agent, self.model_params, self.poll)
            run_config = kwargs.get("run_config")
            if run_config is not None:
                run_config = _coerce_run_config(run_config)
                if isinstance(run_config.model, str):
                    stub = BackgroundModelStub(
                        run_config.model, model_params=self.model_params, agent=None, poll=self.poll
                    )
                    run_config = dataclasses.replace(run_config, model=stub)
                kwargs["run_config"] = run_config
        return await super().run(starting_agent, input, **kwargs)
