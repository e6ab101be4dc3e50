"""`python -m bench.agents`: the plain Agents integration against ours, on the same agents.

One embedded stack (Temporal dev server, emulator, webhook bridge: each its own process); in
this process, one worker per mode runs `AGENTS` copies of the example agent ("What is 2+2?",
one model call of `--duration-ms` each): `OpenAIAgentsPlugin` (each call an activity holding a
slot and an HTTP request), then `DurableRunsAgentsPlugin` polling, then with webhooks. Per mode:

- slots held: the SDK's `temporal_worker_task_slots_used` gauge of the activity worker,
  sampled every 50 ms: its peak, and slot-seconds per call (the gauge integrated over time);
- API requests per model call: every request the emulator served about the call's response
  (the bridge's read in webhook mode included);
- completion → notice: from the response's completion at the emulator to the workflow acting
  on it (plain: the activity's completion event; ours: the scheduling of `model_response`);
- CPU per call: this process's CPU time (worker and client; the stack's processes not metered)
  over the mode, per model call.

Prints one table with the ratios to the plain integration.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
from agents import OpenAIProvider, set_tracing_disabled
from openai import AsyncOpenAI
from rich.console import Console
from rich.table import Table
from temporalio.client import Client, WorkflowHandle
from temporalio.openai_agents import ModelActivityParameters, OpenAIAgentsPlugin
from temporalio.plugin import SimplePlugin
from temporalio.runtime import MetricBuffer, Runtime, TelemetryConfig
from temporalio.worker import Worker

from durable_runs.agents import DurableRunsAgentsPlugin
from durable_runs.models import PollPolicy
from durable_runs.processes import free_port
from durable_runs.stack import EMULATOR_API_KEY, StackConfig, running_stack
from durable_runs.workflows.agents_example import AgentQuestion, AgentsExampleWorkflow

SLOTS_USED = "temporal_worker_task_slots_used"
MODE_TAG = "bench_agents_mode"
"""Metadata key naming the mode's queue on each response (the plain calls carry no owner)."""


@dataclass(frozen=True)
class ModeResult:
    """What one mode measured."""

    name: str
    calls: int
    peak_slots: int
    slot_s_per_call: float
    requests_per_call: float
    notice_p50_ms: float
    notice_p95_ms: float
    cpu_ms_per_call: float


class SlotGauge:
    """Used activity slots per task queue, from a metric buffer."""

    def __init__(self) -> None:
        """A runtime whose metrics go to the buffer."""
        self.buffer = MetricBuffer(1_000_000)
        self.runtime = Runtime(telemetry=TelemetryConfig(metrics=self.buffer))
        self._used: dict[str, int] = {}

    def used(self, task_queue: str) -> int:
        """The last reported used activity slots on `task_queue` (0 before any report)."""
        for update in self.buffer.retrieve_updates():
            attributes = update.attributes
            if update.metric.name == SLOTS_USED and attributes.get("worker_type") == (
                "ActivityWorker"
            ):
                self._used[str(attributes.get("task_queue"))] = int(update.value)
        return self._used.get(task_queue, 0)


async def run_mode(
    name: str,
    plugin: SimplePlugin,
    *,
    address: str,
    emulator_url: str,
    gauge: SlotGauge,
    agents: int,
    duration_ms: int,
) -> ModeResult:
    """Run `agents` agents with `plugin` and measure them."""
    client = await Client.connect(address, runtime=gauge.runtime, plugins=[plugin])
    queue = f"bench-agents-{name}-{uuid.uuid4().hex[:6]}"
    metadata = {"emu_duration_ms": str(duration_ms), MODE_TAG: queue}
    peak = 0
    slot_s = 0.0
    cpu_before = time.process_time()
    async with Worker(
        client,
        task_queue=queue,
        workflows=[AgentsExampleWorkflow],
        max_concurrent_activities=2 * agents,
    ):
        handles = await asyncio.gather(
            *(
                client.start_workflow(
                    AgentsExampleWorkflow.run,
                    AgentQuestion(question="What is 2+2?", metadata=metadata),
                    id=f"{queue}-{i}",
                    task_queue=queue,
                )
                for i in range(agents)
            )
        )
        results = asyncio.gather(*(h.result() for h in handles))
        sampled = time.monotonic()
        while not results.done():
            used = gauge.used(queue)
            now = time.monotonic()
            peak, slot_s, sampled = max(peak, used), slot_s + used * (now - sampled), now
            await asyncio.sleep(0.05)
        await results
    cpu_s = time.process_time() - cpu_before
    async with httpx.AsyncClient() as http:
        stats = (await http.get(f"{emulator_url}/_emulator/stats")).json()
    mine = {i: r for i, r in stats["responses"].items() if r["metadata"].get(MODE_TAG) == queue}
    requests = sum(sum(r["calls"].values()) for r in mine.values())
    notices = await _notices_ms(client, list(handles), mine, durable=name != "plain")
    return ModeResult(
        name=name,
        calls=len(mine),
        peak_slots=peak,
        slot_s_per_call=slot_s / max(len(mine), 1),
        requests_per_call=requests / max(len(mine), 1),
        notice_p50_ms=statistics.median(notices),
        notice_p95_ms=statistics.quantiles(notices, n=20)[-1] if len(notices) > 1 else notices[0],
        cpu_ms_per_call=cpu_s * 1000 / max(len(mine), 1),
    )


async def _notices_ms(
    client: Client,
    handles: list[WorkflowHandle[Any, Any]],
    responses: dict[str, dict[str, Any]],
    *,
    durable: bool,
) -> list[float]:
    """Completion → notice of each model call, in ms."""
    completed = sorted(r["status_times"]["completed"] for r in responses.values())
    noticed: list[float] = []
    for handle in handles:
        if durable:
            child = [c async for c in client.list_workflows(f"ParentWorkflowId = '{handle.id}'")]
            if not child:
                continue
            handle = client.get_workflow_handle(child[0].id)
        for event in (await handle.fetch_history()).events:
            at = event.event_time.ToDatetime().timestamp()
            if durable and event.HasField("activity_task_scheduled_event_attributes"):
                kind = event.activity_task_scheduled_event_attributes.activity_type.name
                if kind == "agents.model_response":
                    noticed.append(at)
            elif not durable and event.HasField("activity_task_completed_event_attributes"):
                noticed.append(at)
    # Each agent makes one call: pair the i-th completion with the i-th notice.
    return [(n - c) * 1000 for c, n in zip(completed, sorted(noticed), strict=False)]


def table(results: list[ModeResult], agents: int, duration_ms: int) -> Table:
    """The results with their ratios to the plain integration."""
    plain = results[0]
    out = Table(
        title=f"Agents SDK: {agents} agents, one {duration_ms / 1000:g} s model call each "
        "(ratio to the plain integration)"
    )
    for column in (
        "mode",
        "model calls",
        "peak activity slots",
        "slot-seconds / call",
        "API requests / call",
        "completion → notice p50 / p95",
        "worker CPU / call",
    ):
        out.add_column(column)

    def ratio(value: float, base: float) -> str:
        return f" ({value / base:.2f}x)" if base else ""

    for r in results:
        out.add_row(
            r.name,
            str(r.calls),
            f"{r.peak_slots}{ratio(r.peak_slots, plain.peak_slots)}",
            f"{r.slot_s_per_call:.3f}{ratio(r.slot_s_per_call, plain.slot_s_per_call)}",
            f"{r.requests_per_call:.1f}{ratio(r.requests_per_call, plain.requests_per_call)}",
            f"{r.notice_p50_ms:.0f} / {r.notice_p95_ms:.0f} ms",
            f"{r.cpu_ms_per_call:.1f} ms{ratio(r.cpu_ms_per_call, plain.cpu_ms_per_call)}",
        )
    return out


async def main(agents: int, duration_ms: int) -> int:
    """Start the stack, run the three modes, print the table."""
    set_tracing_disabled(True)
    console = Console(width=160)
    config = StackConfig(
        temporal_port=free_port(),
        ui_port=free_port(),
        emulator_port=free_port(),
        bridge_port=free_port(),
        data_dir=StackConfig().data_dir / f"bench-agents-{uuid.uuid4().hex[:6]}",
    )
    gauge = SlotGauge()
    results: list[ModeResult] = []
    async with running_stack(config) as stack:
        openai = AsyncOpenAI(
            base_url=f"{stack.emulator_url}/v1", api_key=EMULATOR_API_KEY, max_retries=0
        )
        modes: list[tuple[str, SimplePlugin]] = [
            (
                "plain",
                OpenAIAgentsPlugin(
                    model_params=ModelActivityParameters(
                        start_to_close_timeout=timedelta(milliseconds=duration_ms) * 3
                    ),
                    model_provider=OpenAIProvider(openai_client=openai),
                ),
            ),
            ("durable-runs polling", DurableRunsAgentsPlugin(openai=openai, poll=PollPolicy())),
            (
                "durable-runs webhooks",
                DurableRunsAgentsPlugin(openai=openai, poll=PollPolicy(webhooks=True)),
            ),
        ]
        for name, plugin in modes:
            console.print(f"running {name} ...")
            results.append(
                await run_mode(
                    name,
                    plugin,
                    address=stack.temporal_address,
                    emulator_url=stack.emulator_url,
                    gauge=gauge,
                    agents=agents,
                    duration_ms=duration_ms,
                )
            )
    console.print(table(results, agents, duration_ms))
    return 0 if all(r.calls == agents for r in results) else 1


def entry() -> None:
    """Command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--agents", type=int, default=20)
    parser.add_argument("--duration-ms", type=int, default=5000)
    args = parser.parse_args()
    raise SystemExit(asyncio.run(main(args.agents, args.duration_ms)))


if __name__ == "__main__":
    entry()
