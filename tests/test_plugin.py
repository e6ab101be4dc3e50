"""`DurableRunsPlugin` as a user adopts it: their own client, their own worker and workflow."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import pytest
from openai import AsyncOpenAI
from temporalio import workflow
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer, Worker

from durable_runs import DurableRunsPlugin
from durable_runs.activities.tools import ToolRegistry
from durable_runs.models import PollPolicy, RunRequest, RunResult
from durable_runs.options import ActivityOptions, CallPriorities
from durable_runs.plugin import ConverterConflictError
from durable_runs.search_attributes import OPENAI_BACKEND

with workflow.unsafe.imports_passed_through():
    from durable_runs.workflows.child import run_assistant

FAST_POLL = PollPolicy(initial_interval_s=0.1, max_interval_s=0.5, deadline_s=60)


def lookup_order(order_id: str) -> str:
    """Where an order is (the user's own tool)."""
    return f"order {order_id}: shipped on Monday"


@workflow.defn(sandboxed=False)
class OrderQuestionWorkflow:
    """A user's business workflow that asks the model as a child run."""

    @workflow.run
    async def run(self, order_id: str) -> RunResult:
        """Ask about one order, letting the model call `lookup_order`."""
        plan = [[{"name": "lookup_order", "arguments": {"order_id": order_id}}]]
        request = RunRequest(
            messages=[f"Where is order {order_id}?"],
            tools=["lookup_order"],
            metadata={"emu_tool_plan": json.dumps(plan)},
            poll=FAST_POLL,
        )
        return await run_assistant(request, name="ask")


async def users_client(env: WorkflowEnvironment, *plugins: DurableRunsPlugin) -> Client:
    """A client built the way a user builds one: address, namespace, plugins; nothing of ours."""
    config = env.client.config()
    return await Client.connect(
        env.client.service_client.config.target_host,
        namespace=config["namespace"],
        plugins=list(plugins),
    )


async def test_a_worker_built_from_the_plugin_alone_runs_a_run_with_tools(
    temporal_env: WorkflowEnvironment, openai_client: AsyncOpenAI
) -> None:
    tools = ToolRegistry()
    tools.register(lookup_order)
    # This worker's runs use its own call timeout and priorities (a run's options would win).
    options = ActivityOptions(
        api_call_timeout=timedelta(seconds=7), priorities=CallPriorities(start=5)
    )
    plugin = DurableRunsPlugin(openai=openai_client, tools=tools, options=options)
    client = await users_client(temporal_env, plugin)
    queue = f"plugin-{uuid.uuid4()}"

    async with Worker(client, task_queue=queue, workflows=[OrderQuestionWorkflow]):
        handle = await client.start_workflow(
            OrderQuestionWorkflow.run,
            "A-17",
            id=f"order-{uuid.uuid4().hex[:8]}",
            task_queue=queue,
            execution_timeout=timedelta(seconds=60),
        )
        result = await handle.result()

    assert result.status == "completed", result
    assert result.backend == "responses"
    assert "shipped on Monday" in result.answer
    # The API calls ran on the companion queue, the tool on the user's queue.
    child = client.get_workflow_handle(f"{handle.id}/ask")
    history = await child.fetch_history()
    scheduled = [
        e.activity_task_scheduled_event_attributes
        for e in history.events
        if e.HasField("activity_task_scheduled_event_attributes")
    ]
    by_type = {a.activity_type.name: a for a in scheduled}
    assert by_type["responses.start"].task_queue.name == queue + "-openai"
    assert by_type["tools.run"].task_queue.name == queue
    assert by_type["responses.start"].start_to_close_timeout.seconds == 7
    assert by_type["responses.start"].priority.priority_key == 5
    described = await child.describe()
    assert described.typed_search_attributes.get(OPENAI_BACKEND) == "responses"

    # The same plugin gives a replayer what it needs to replay the user's histories.
    replayer = Replayer(workflows=[OrderQuestionWorkflow], plugins=[plugin])
    await replayer.replay_workflow(await handle.fetch_history())
    await replayer.replay_workflow(history)


async def test_a_worker_whose_client_lacks_pydantic_payloads_is_refused(
    temporal_env: WorkflowEnvironment, openai_client: AsyncOpenAI
) -> None:
    client = await users_client(temporal_env)
    plugin = DurableRunsPlugin(openai=openai_client)
    with pytest.raises(ConverterConflictError, match="Client.connect"):
        Worker(client, task_queue=f"plugin-{uuid.uuid4()}", plugins=[plugin])
