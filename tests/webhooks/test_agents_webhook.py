"""An agent's model call wakes on its response's webhook, routed by the bridge to its workflow."""

from __future__ import annotations

import time
import uuid

from openai import AsyncOpenAI
from temporalio.client import WorkflowExecution
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from durable_runs.agents import DurableRunsAgentsPlugin
from durable_runs.bridge.server import RunningBridge
from durable_runs.models import PollPolicy
from durable_runs.workflow_names import RUN_EVENT_SIGNAL
from durable_runs.workflows.agents_example import (
    AgentAnswer,
    AgentQuestion,
    AgentsExampleWorkflow,
)
from tests.agents.conftest import client_with
from tests.crash import history
from tests.waiting import wait_for

SAFETY_POLL_S = 60.0
"""Far beyond the test's bound: only a webhook can end the wait in time."""


async def test_a_model_call_wakes_on_its_response_webhook(
    temporal_env: WorkflowEnvironment, webhook_openai: AsyncOpenAI, bridge: RunningBridge
) -> None:
    poll = PollPolicy(webhooks=True, safety_poll_s=SAFETY_POLL_S, deadline_s=120)
    client = client_with(temporal_env, DurableRunsAgentsPlugin(openai=webhook_openai, poll=poll))
    queue = f"agents-webhooks-{uuid.uuid4()}"
    workflow_id = f"agents-webhooks-{uuid.uuid4()}"
    started = time.monotonic()
    async with Worker(client, task_queue=queue, workflows=[AgentsExampleWorkflow]):
        result: AgentAnswer = await client.execute_workflow(
            AgentsExampleWorkflow.run,
            AgentQuestion(question="What is 2+2?", metadata={"emu_duration_ms": "500"}),
            id=workflow_id,
            task_queue=queue,
        )
    assert result.answer == "4"
    assert time.monotonic() - started < SAFETY_POLL_S / 2

    async def the_call() -> WorkflowExecution | None:
        calls = [c async for c in client.list_workflows(f"ParentWorkflowId = '{workflow_id}'")]
        return calls[0] if len(calls) == 1 else None

    call = await wait_for(the_call, what="the model call listed")
    events = await history.events(client.get_workflow_handle(call.id))
    signals = [
        e.workflow_execution_signaled_event_attributes.signal_name
        for e in events
        if e.HasField("workflow_execution_signaled_event_attributes")
    ]
    activities = [
        e.activity_task_scheduled_event_attributes.activity_type.name
        for e in events
        if e.HasField("activity_task_scheduled_event_attributes")
    ]
    assert RUN_EVENT_SIGNAL in signals
    # The bridge read the response for its event: the call makes no read of its own.
    assert activities == ["agents.create_response", "agents.model_response"]
