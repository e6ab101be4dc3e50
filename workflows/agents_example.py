"""An Agents SDK workflow as written for Temporal's integration: a triage agent, a handoff, a tool.

Nothing here knows about background mode: the worker's plugin decides how model calls run
(`durable_runs.agents.DurableRunsAgentsPlugin`: each one a background response in a child
workflow; `temporalio.openai_agents.OpenAIAgentsPlugin`: each one an activity).

The triage agent hands the question to the weather agent, which calls `get_weather` (a plain
function tool: it runs in the workflow, so it must be deterministic) and answers.
"""

from __future__ import annotations

from pydantic import BaseModel, Field
from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from agents import Agent, ModelSettings, RunConfig, Runner, function_tool

AGENTS_EXAMPLE_WORKFLOW_TYPE = "AgentsExample"
"""Workflow type of the example."""

EXAMPLE_MODEL = "gpt-4o-mini"
"""The model both agents name."""


class AgentQuestion(BaseModel):
    """Input of the example.

    Attributes:
        question: What the user asks.
        metadata: Metadata for every model call (`ModelSettings.metadata`), e.g. the emulator's
            `emu_tool_plan` and `emu_duration_ms` knobs.
    """

    question: str
    metadata: dict[str, str] = Field(default_factory=dict)


class AgentAnswer(BaseModel):
    """What the example returns: the final answer, and which agent gave it."""

    answer: str
    last_agent: str


@function_tool
async def get_weather(city: str) -> str:
    """The weather in a city.

    Args:
        city: The city's name.
    """
    return f"The weather in {city} is sunny, 21 C."


def build_agents() -> Agent[None]:
    """The triage agent, which can hand off to the weather agent."""
    weather = Agent[None](
        name="Weather agent",
        instructions="Answer questions about the weather with the get_weather tool.",
        model=EXAMPLE_MODEL,
        tools=[get_weather],
    )
    return Agent[None](
        name="Triage agent",
        instructions="Hand weather questions to the weather agent.",
        model=EXAMPLE_MODEL,
        handoffs=[weather],
    )


@workflow.defn(name=AGENTS_EXAMPLE_WORKFLOW_TYPE)
class AgentsExampleWorkflow:
    """Run the triage agent on one question."""

    @workflow.run
    async def run(self, question: AgentQuestion) -> AgentAnswer:
        """Run the agents to their final answer."""
        result = await Runner.run(
            build_agents(),
            question.question,
            run_config=RunConfig(model_settings=ModelSettings(metadata=question.metadata)),
        )
        return AgentAnswer(answer=str(result.final_output), last_agent=result.last_agent.name)
