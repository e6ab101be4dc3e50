"""The agents demo (`durable-runs demo --agents`, `make demo-agents`): agents in background mode.

On a fresh embedded stack, a worker of this process with `DurableRunsAgentsPlugin` runs the
example agents (`workflows.agents_example`: a triage agent hands off to a weather agent, which
calls its `get_weather` tool and answers). Each model call is a child workflow
(`<agent workflow>/model-<hex>`) that created one background response and waited for its
`response.completed` webhook (through the stack's bridge) with no worker slot held; the demo
lists them with their response ids (search attribute `OpenAIRunId`) and Temporal UI links.

The emulator decides the model's turns from the `emu_tool_plan` metadata the demo sends with
every call (hand off, call the tool), standing in for what a real model decides.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable

from agents import set_tracing_disabled
from openai import AsyncOpenAI
from rich.console import Console
from rich.table import Table
from temporalio.client import Client, WorkflowExecution
from temporalio.worker import Worker

from durable_runs import search_attributes as sa
from durable_runs.agents import DurableRunsAgentsPlugin
from durable_runs.client import workflow_url
from durable_runs.models import PollPolicy
from durable_runs.stack import EMULATOR_API_KEY, StackConfig, running_stack
from durable_runs.workflows.agents_example import (
    AgentAnswer,
    AgentQuestion,
    AgentsExampleWorkflow,
)

QUESTION = "What is the weather in Paris?"

PLAN = json.dumps(
    [
        [{"name": "transfer_to_weather_agent", "arguments": {}}],
        [{"name": "get_weather", "arguments": {"city": "Paris"}}],
    ]
)
"""The emulator's script of the model's turns: hand off, then call the tool."""

EXPECTED_CALLS = 3
"""Model calls of the scripted run: triage (hands off), weather (calls the tool), weather."""

LISTING_BOUND_S = 10.0
"""How long the demo waits for visibility to list the closed model calls."""

THINKING = {"emu_tool_plan": PLAN, "emu_duration_ms": "1500"}
"""Metadata of every model call: the script, and 1.5 s of thinking per call."""


async def run_agents_demo(config: StackConfig, console: Console) -> int:
    """Start the stack, run the example agents on background responses, stop the stack.

    Args:
        config: Ports and data directory (the emulator is always used).
        console: Where to print.

    Returns:
        0 when the weather agent answered from its tool after one response per model call,
        else 1.
    """
    # The SDK would export its traces to OpenAI's platform; the demo has no key for it.
    set_tracing_disabled(True)
    console.rule("durable-runs agents demo")
    console.print("starting Temporal (with UI), emulator, webhook bridge and worker ...")
    started = time.monotonic()
    async with running_stack(config) as stack:
        settings = stack.settings()
        console.print(f"stack up in {time.monotonic() - started:.1f} s · UI {stack.ui_url}")
        openai = AsyncOpenAI(
            base_url=f"{stack.emulator_url}/v1", api_key=EMULATOR_API_KEY, max_retries=0
        )
        plugin = DurableRunsAgentsPlugin(openai=openai, poll=PollPolicy(webhooks=True))
        client = await Client.connect(stack.temporal_address, plugins=[plugin])
        queue = f"{config.task_queue}-agents"
        workflow_id = f"agents-demo-{uuid.uuid4().hex[:8]}"
        async with Worker(client, task_queue=queue, workflows=[AgentsExampleWorkflow]):
            console.print(f"[bold]you>[/] {QUESTION}", highlight=False)
            console.print(
                f"agent workflow {workflow_id} · {workflow_url(settings, client, workflow_id)}",
                highlight=False,
            )
            answer: AgentAnswer = await client.execute_workflow(
                AgentsExampleWorkflow.run,
                AgentQuestion(question=QUESTION, metadata=THINKING),
                id=workflow_id,
                task_queue=queue,
            )
        console.print(f"[bold]{answer.last_agent}>[/] {answer.answer}", highlight=False)
        calls = await _model_calls(client, workflow_id)
        console.print(_calls_table(calls, lambda c: workflow_url(settings, client, c.id)))
        console.print(
            "Each model call ran as a child workflow that created a background response and "
            "waited for its webhook with no worker slot held; the Agents SDK's runner in the "
            "agent workflow ran the handoff and the get_weather tool."
        )
        console.print("stopping the stack ...")
    ok = (
        answer.last_agent == "Weather agent"
        and "sunny" in answer.answer
        and len(calls) == EXPECTED_CALLS
    )
    if not ok:
        console.print("[red]agents demo failed: expected 3 model calls and the tool's answer[/]")
        return 1
    console.print("[green]agents demo passed: 3 model calls, 3 background responses[/]")
    return 0


async def _model_calls(client: Client, workflow_id: str) -> list[WorkflowExecution]:
    """The agent's model-call workflows, once visibility lists them all closed (a few s)."""
    query = f"ParentWorkflowId = '{workflow_id}' AND ExecutionStatus != 'Running'"
    calls: list[WorkflowExecution] = []
    deadline = time.monotonic() + LISTING_BOUND_S
    while time.monotonic() < deadline:
        calls = [c async for c in client.list_workflows(query)]
        if len(calls) >= EXPECTED_CALLS:
            break
        await asyncio.sleep(0.2)
    return sorted(calls, key=lambda c: c.start_time)


def _calls_table(calls: list[WorkflowExecution], url: Callable[[WorkflowExecution], str]) -> Table:
    table = Table(title="model calls (each a background response)")
    for column in ("model call workflow", "OpenAIRunId", "status", "Temporal UI"):
        table.add_column(column)
    for call in calls:
        attributes = call.typed_search_attributes
        table.add_row(
            call.id.rsplit("/", 1)[-1],
            attributes.get(sa.OPENAI_RUN_ID) or "",
            attributes.get(sa.OPENAI_RUN_STATUS) or "",
            url(call),
        )
    return table
