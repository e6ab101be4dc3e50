"""One trace from a webhook delivery to the workflow's activities, with an in-memory exporter.

The tracer provider is installed in this process as `OTEL_TRACES_EXPORTER` would install it
(`durable_runs.telemetry.tracing`), with an in-memory exporter added; then a bridge, a worker and
a webhook-sending emulator run here, built as the product builds them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

import pytest
from durable_runs_emulator.config import EmulatorConfig
from durable_runs_emulator.server import running_emulator
from openai import AsyncOpenAI
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from temporalio.testing import WorkflowEnvironment

from durable_runs.bridge.server import running_bridge
from durable_runs.bridge.tracing import DELIVERY_SPAN, LOOKUP_SPAN, SIGNAL_SPAN
from durable_runs.settings import Settings
from durable_runs.telemetry.tracing import install_tracing, tracing_plugins
from durable_runs.temporal import connect
from tests.conftest import TEST_API_KEY, WorkerFactory
from tests.webhooks.helpers import WEATHER, WEATHER_TOOLS, request, result_of, start


@pytest.fixture(scope="module")
def spans() -> InMemorySpanExporter:
    """The process's tracer provider, exporting to memory (installed once per process)."""
    exporter = InMemorySpanExporter()
    on = install_tracing(
        Settings(), service_name="durable-runs-test", processors=[SimpleSpanProcessor(exporter)]
    )
    assert on
    return exporter


def tree(spans: Sequence[ReadableSpan], root: ReadableSpan) -> list[str]:
    """The spans under `root`, one per line, indented by depth (children by start time)."""
    lines: list[str] = []

    def walk(span: ReadableSpan, depth: int) -> None:
        lines.append("  " * depth + span.name)
        children = [s for s in spans if s.parent is not None and s.parent.span_id == _id(span)]
        for child in sorted(children, key=lambda s: s.start_time or 0):
            walk(child, depth + 1)

    walk(root, 0)
    return lines


def _id(span: ReadableSpan) -> int:
    assert span.context is not None
    span_id: int = span.context.span_id
    return span_id


def parent_of(span: ReadableSpan, spans: Sequence[ReadableSpan]) -> ReadableSpan:
    """The span's parent among `spans`."""
    assert span.parent is not None, span.name
    return next(s for s in spans if _id(s) == span.parent.span_id)


@pytest.fixture
async def traced_stack(
    spans: InMemorySpanExporter, temporal_env: WorkflowEnvironment, worker_factory: WorkerFactory
) -> AsyncIterator[tuple[Settings, str]]:
    """Emulator, bridge and worker, each client with the tracing plugin; yields the queue."""
    secret = "whsec_" + "dHJhY2luZy10ZXN0LXNlY3JldC0wMTIzNDU2Nzg5YWI="
    address = temporal_env.client.service_client.config.target_host
    async with running_emulator(EmulatorConfig(webhook_secret=secret)) as emulator:
        settings = Settings(
            OPENAI_WEBHOOK_SECRET=secret,
            TEMPORAL_ADDRESS=address,
            OPENAI_API_KEY=TEST_API_KEY,
            OPENAI_BASE_URL=emulator.base_url,
        )
        async with running_bridge(settings) as bridge:
            await emulator.configure(webhook_url=bridge.url)
            client = await connect(settings, plugins=tracing_plugins())
            openai = AsyncOpenAI(base_url=emulator.base_url, api_key=TEST_API_KEY, max_retries=0)
            async with worker_factory(client, openai=openai) as queue:
                yield settings, queue
    spans.clear()


async def test_a_delivery_traces_through_signal_workflow_and_activities(
    spans: InMemorySpanExporter,
    traced_stack: tuple[Settings, str],
) -> None:
    settings, queue = traced_stack
    client = await connect(settings, plugins=tracing_plugins())
    handle = await start(client, queue, request(WEATHER, backend="responses", tools=WEATHER_TOOLS))
    result = await result_of(handle)
    assert result.status == "completed" and result.tool_rounds >= 1
    finished = spans.get_finished_spans()
    # The first delivery that led to a tool round: the event of the response with tool calls.
    tool_runs = [s for s in finished if s.name == "RunActivity:tools.run"]
    assert tool_runs
    tool_run = tool_runs[0]
    start_tool = parent_of(tool_run, finished)
    assert start_tool.name == "StartActivity:tools.run"
    handled = parent_of(start_tool, finished)
    assert handled.name == "HandleSignal:run_event"
    assert handled.attributes is not None
    assert handled.attributes["temporalWorkflowID"] == handle.id
    sent = parent_of(handled, finished)
    assert sent.name == "SignalWorkflow:run_event"
    bridge_signal = parent_of(sent, finished)
    assert bridge_signal.name == SIGNAL_SPAN
    delivery = parent_of(bridge_signal, finished)
    if delivery.name != DELIVERY_SPAN:  # FastAPI's own span of the endpoint, when it has one
        delivery = parent_of(delivery, finished)
    print("\n".join(tree(finished, delivery)))
    assert delivery.name == DELIVERY_SPAN and delivery.parent is None
    assert delivery.attributes is not None
    assert delivery.attributes["http.response.status_code"] == 200
    lookup = next(s for s in finished if s.name == LOOKUP_SPAN and s.parent == bridge_signal.parent)
    assert lookup.end_time is not None and bridge_signal.start_time is not None
    assert lookup.end_time <= bridge_signal.start_time
    chain = (tool_run, start_tool, handled, sent, bridge_signal, lookup, delivery)
    assert len({s.context.trace_id for s in chain if s.context is not None}) == 1
