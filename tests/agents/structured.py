"""A test agent with a structured output, model settings and a previous response to continue."""

from __future__ import annotations

from pydantic import BaseModel, Field
from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from agents import Agent, ModelSettings, RunConfig, Runner

    from durable_runs.workflows.agents_example import EXAMPLE_MODEL, get_weather


class Forecast(BaseModel):
    """The agent's structured output."""

    city: str
    summary: str
    temperature_c: int


class ForecastRequest(BaseModel):
    """Input: the question, metadata of every call, and the response to continue from."""

    question: str
    metadata: dict[str, str] = Field(default_factory=dict)
    previous_response_id: str | None = None


class ForecastResult(BaseModel):
    """Output: the parsed forecast and the id of every response the run waited for."""

    forecast: Forecast
    response_ids: list[str]


@workflow.defn
class ForecastWorkflow:
    """One agent: a required tool call first, then a `Forecast`."""

    @workflow.run
    async def run(self, request: ForecastRequest) -> ForecastResult:
        """Run the agent to its structured answer."""
        agent = Agent[None](
            name="Forecaster",
            instructions="Call get_weather, then answer with a forecast.",
            model=EXAMPLE_MODEL,
            tools=[get_weather],
            output_type=Forecast,
            model_settings=ModelSettings(
                tool_choice="required", parallel_tool_calls=False, temperature=0.2
            ),
        )
        result = await Runner.run(
            agent,
            request.question,
            previous_response_id=request.previous_response_id,
            run_config=RunConfig(model_settings=ModelSettings(metadata=request.metadata)),
        )
        return ForecastResult(
            forecast=result.final_output_as(Forecast),
            response_ids=[r.response_id for r in result.raw_responses if r.response_id],
        )
