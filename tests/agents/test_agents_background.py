"""An Agents SDK agent with a handoff and a function tool, each model call a background response."""

from __future__ import annotations

import json
import uuid

from durable_runs_emulator.server import RunningEmulator
from temporalio.client import WorkflowExecution

from durable_runs import search_attributes as sa
from durable_runs.agents import DurableRunsAgentsPlugin
from durable_runs.workflows.agents_example import (
    AgentAnswer,
    AgentQuestion,
    AgentsExampleWorkflow,
)
from tests.agents.conftest import AgentsWorker
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
