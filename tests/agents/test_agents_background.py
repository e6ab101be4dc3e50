"""An Agents SDK agent with a handoff and a function tool, each model call a background response."""

from __future__ import annotations

import json
import uuid

from durable_runs_emulator.server import RunningEmulator
from openai import AsyncOpenAI
from temporalio.client import WorkflowExecution
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer, Worker

from durable_runs import search_attributes as sa
from durable_runs.agents import DurableRunsAgentsPlugin
from durable_runs.workflows.agents_example import (
    AgentAnswer,
    AgentQuestion,
    AgentsExampleWorkflow,
)
from tests.agents.conftest import AgentsWorker, client_with
from tests.agents.structured import ForecastRequest, ForecastResult, ForecastWorkflow
from tests.waiting import wait_for

PLAN = json.dumps(
    [
        [{"name": "transfer_to_weather_agent", "arguments": {}}],
        [{"name": "get_weather", "arguments": {"city": "Paris"}}],
    ]
)
"""The emulator's script: triage hands off, the weather agent calls its tool, then answers."""


async def test_agent_with_tool_and_handoff_runs_on_background_responses(
    agents_worker: AgentsWorker,
    durable_plugin: DurableRunsAgentsPlugin,
    emulator: RunningEmulator,
) -> None:
    workflow_id = f"agents-{uuid.uuid4()}"
    async with agents_worker(durable_plugin) as (client, queue):
        handle = await client.start_workflow(
            AgentsExampleWorkflow.run,
            AgentQuestion(
                question="What is the weather in Paris?", metadata={"emu_tool_plan": PLAN}
            ),
            id=workflow_id,
            task_queue=queue,
        )
        result: AgentAnswer = await handle.result()

        async def three_children() -> list[WorkflowExecution] | None:
            query = f"ParentWorkflowId = '{workflow_id}' AND ExecutionStatus = 'Completed'"
            found = [c async for c in client.list_workflows(query)]
            return found if len(found) == 3 else None

        children = await wait_for(three_children, what="three completed model calls listed")

    # The SDK's runner handed off, ran the tool in the workflow, and took the final answer.
    assert result.last_agent == "Weather agent"
    assert "get_weather=The weather in Paris is sunny" in result.answer
    assert 'transfer_to_weather_agent={"assistant": "Weather agent"}' in result.answer

    # Three model calls, each a child workflow that created exactly one background response,
    # whose metadata names the child (so the bridge can route its webhooks there).
    stats = await emulator.stats()
    assert len(children) == 3
    for child in children:
        assert child.workflow_type == "AgentModelCall"
        assert child.id.startswith(f"{workflow_id}/model-")
        (response_id,) = stats["responses_by_workflow"][child.id]
        assert child.typed_search_attributes.get(sa.OPENAI_RUN_ID) == response_id
        assert child.typed_search_attributes.get(sa.OPENAI_RUN_STATUS) == "completed"
        response = stats["responses"][response_id]
        assert response["metadata"]["temporal_workflow_id"] == child.id
        assert response["metadata"]["emu_tool_plan"] == PLAN
        assert response["calls"]["create_response"] == 1

    # The agent and its model calls replay deterministically through the plugin's replayer.
    histories = [await handle.fetch_history()]
    histories += [await client.get_workflow_handle(c.id).fetch_history() for c in children]
    replayer = Replayer(workflows=[AgentsExampleWorkflow], plugins=[durable_plugin])
    for history in histories:
        await replayer.replay_workflow(history)


async def test_settings_tools_output_schema_and_previous_response_pass_through(
    temporal_env: WorkflowEnvironment,
    durable_plugin: DurableRunsAgentsPlugin,
    openai_client: AsyncOpenAI,
) -> None:
    client = client_with(temporal_env, durable_plugin)
    queue = f"agents-{uuid.uuid4()}"
    plan = json.dumps([[{"name": "get_weather", "arguments": {"city": "Oslo"}}]])
    async with Worker(client, task_queue=queue, workflows=[ForecastWorkflow]):
        first: ForecastResult = await client.execute_workflow(
            ForecastWorkflow.run,
            ForecastRequest(question="Weather in Oslo?", metadata={"emu_tool_plan": plan}),
            id=f"agents-{uuid.uuid4()}",
            task_queue=queue,
        )
        second: ForecastResult = await client.execute_workflow(
            ForecastWorkflow.run,
            ForecastRequest(
                question="And tomorrow?",
                metadata={"emu_tool_plan": plan},
                previous_response_id=first.response_ids[-1],
            ),
            id=f"agents-{uuid.uuid4()}",
            task_queue=queue,
        )

    # The structured output came back as JSON of the schema and parsed into the model.
    assert first.forecast.summary.startswith("Tool results: get_weather=The weather in Oslo")
    tool_call, answer = [await openai_client.responses.retrieve(i) for i in first.response_ids]
    # Model settings and tools reached the API as the Agents SDK sent them.
    assert (tool_call.tool_choice, tool_call.parallel_tool_calls) == ("required", False)
    assert tool_call.temperature == 0.2
    assert [
        (t.type, getattr(t, "name", None), getattr(t, "strict", None)) for t in tool_call.tools
    ] == [("function", "get_weather", True)]
    assert answer.text is not None and answer.text.format.type == "json_schema"
    assert all(r.background for r in (tool_call, answer))
    # A run that continues an earlier response names it.
    continued = await openai_client.responses.retrieve(second.response_ids[0])
    assert continued.previous_response_id == first.response_ids[-1]
