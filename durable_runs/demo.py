"""The demo (`durable-runs demo`, what `make demo` runs): four runs on a fresh embedded stack.

On the Responses backend (background mode, what api.openai.com serves): (a) "What is 2+2?",
polling; (b) the weather in Paris and Tokyo in Fahrenheit, two tool rounds; (c) 2+2 again in
webhook mode, woken by `response.completed` events that carry only the response id, as OpenAI
sends them. Then (d) a question on the seed's Assistants backend in webhook mode, woken by
`thread.run.*` events with the run in the body: an emulator extension (`thread_run_webhooks`,
turned on for that run), since OpenAI sends no such events. Then a polling-vs-webhook table: API
calls per run and the latency from the emulator marking the run completed to this client
holding the result.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import httpx
from rich.console import Console
from rich.panel import Panel
from rich.table import Table
from temporalio.client import WorkflowFailureError

from durable_runs.client import connect_client, ensure_worker, start_run, workflow_url
from durable_runs.models import Backend, PollPolicy, RunRequest, RunResult
from durable_runs.stack import Stack, StackConfig, running_stack

DEMO_DEADLINE_S = 120.0


@dataclass(frozen=True)
class DemoCase:
    """One demo run and how to tell its answer is right.

    Attributes:
        key: Short label, (a) to (d).
        title: What it shows.
        question: The user message.
        backend: Which API.
        webhooks: Webhook mode (else polling).
        tools: Tools the model may call.
        expect: Substrings the answer must contain.
        exact: The answer must be exactly this (stripped), when set.
        model_ms: How long the emulated model works on it (scenario knob `emu_duration_ms`).
        thread_run_webhooks: The emulator sends `thread.run.*` events for it (an emulator
            extension, for the Assistants backend in webhook mode: OpenAI sends none).
    """

    key: str
    title: str
    question: str
    backend: Backend
    webhooks: bool
    tools: tuple[str, ...] = ()
    expect: tuple[str, ...] = ()
    exact: str | None = None
    model_ms: int | None = None
    thread_run_webhooks: bool = False

    @property
    def mode(self) -> str:
        """`webhooks` or `polling`."""
        return "webhooks" if self.webhooks else "polling"

    def check(self, result: RunResult) -> str | None:
        """Why the result is wrong, or None when it is right."""
        if result.status != "completed":
            return f"status {result.status}, expected completed"
        answer = result.answer.strip()
        if self.exact is not None and answer != self.exact:
            return f"answer {answer!r}, expected {self.exact!r}"
        missing = [part for part in self.expect if part not in answer]
        if missing:
            return f"answer {answer!r} lacks {', '.join(missing)}"
        return None


CASES: tuple[DemoCase, ...] = (
    DemoCase(
        "a", "Responses, polling", "What is 2+2?", "responses", False, exact="4", model_ms=3000
    ),
    DemoCase(
        "b",
        "Responses, two tool rounds",
        "What is the weather in Paris and Tokyo, in Fahrenheit?",
        "responses",
        False,
        tools=("get_weather", "celsius_to_fahrenheit"),
        expect=("Paris", "Tokyo", "°F"),
    ),
    DemoCase(
        "c", "Responses, webhooks", "What is 2+2?", "responses", True, exact="4", model_ms=3000
    ),
    DemoCase(
        "d",
        "Assistants (the seed's API), webhooks via the emulator's thread.run.* extension",
        "What is 6*7?",
        "assistants",
        True,
        exact="42",
        thread_run_webhooks=True,
    ),
)
"""The demo's runs, in order."""


@dataclass(frozen=True)
class Outcome:
    """What one demo run gave.

    Attributes:
        case: The run.
        workflow_id: Its workflow.
        result: The workflow's result (None when the workflow failed).
        noticed_at: Wall-clock time the client got the result.
        problem: Why it is wrong, or None.
    """

    case: DemoCase
    workflow_id: str
    result: RunResult | None
    noticed_at: float
    problem: str | None


def _metadata(case: DemoCase) -> dict[str, str]:
    # The stack's emulator sends every event to the bridge; a polling run asks it (scenario knob
    # `emu_webhook`) to drop its events, as if no webhook endpoint were configured, so the
    # comparison shows polling alone.
    extra = {} if case.webhooks else {"emu_webhook": "drop"}
    if case.model_ms is not None:
        extra["emu_duration_ms"] = str(case.model_ms)
    return {"demo_case": case.key, **extra}


async def run_case(stack: Stack, case: DemoCase, console: Console) -> Outcome:
    """Run one case against the stack and print its answer, status, API calls and UI link."""
    settings = stack.settings()
    client = await connect_client(settings)
    # OpenAI sends no thread.run.* events; the emulator sends them only when asked to.
    await configure_emulator(stack, thread_run_webhooks=case.thread_run_webhooks)
    request = RunRequest(
        backend=case.backend,
        messages=[case.question],
        tools=list(case.tools),
        poll=PollPolicy(webhooks=case.webhooks, deadline_s=DEMO_DEADLINE_S),
        metadata=_metadata(case),
    )
    handle = await start_run(client, request, task_queue=stack.config.task_queue)
    result: RunResult | None
    try:
        result = await handle.result()
        problem = case.check(result)
    except WorkflowFailureError as err:
        result, problem = None, f"workflow failed: {err.cause or err}"
    noticed_at = time.time()
    lines = [f"[bold]question[/] {case.question}"]
    if result is not None:
        style = "green" if problem is None else "red"
        lines += [
            f"[bold]answer[/]   [{style}]{result.answer}[/]",
            f"[bold]status[/]   {result.status} · checks {result.checks} · webhook events "
            f"{result.events_applied} · tool rounds {result.tool_rounds}",
            "[bold]API calls[/] "
            + ", ".join(f"{kind} {count}" for kind, count in result.api_calls.items()),
        ]
    if problem is not None:
        lines.append(f"[red bold]wrong:[/] {problem}")
    lines.append(f"[bold]workflow[/] {handle.id}  {workflow_url(settings, client, handle.id)}")
    console.print(Panel("\n".join(lines), title=f"({case.key}) {case.title}", title_align="left"))
    return Outcome(
        case=case, workflow_id=handle.id, result=result, noticed_at=noticed_at, problem=problem
    )


def _objects(stats: dict[str, Any], workflow_id: str) -> list[dict[str, Any]]:
    ids = [*stats.get("runs_by_workflow", {}).get(workflow_id, [])]
    ids += stats.get("responses_by_workflow", {}).get(workflow_id, [])
    objects = {**stats.get("runs", {}), **stats.get("responses", {})}
    return [objects[i] for i in ids if i in objects]


def emulator_calls(stats: dict[str, Any], workflow_id: str) -> int:
    """Requests the emulator served about the runs/responses of one workflow."""
    return sum(sum(obj.get("calls", {}).values()) for obj in _objects(stats, workflow_id))


def completed_at(stats: dict[str, Any], result: RunResult) -> float | None:
    """When the emulator marked the workflow's last run/response completed (unix seconds)."""
    objects = {**stats.get("runs", {}), **stats.get("responses", {})}
    record = objects.get(result.run_id or "")
    if record is None:
        return None
    value = record.get("status_times", {}).get("completed")
    return float(value) if value is not None else None


def comparison_table(outcomes: list[Outcome], stats: dict[str, Any]) -> Table:
    """Polling vs webhooks side by side: API calls per run and completion→notice latency."""
    table = Table(title="polling vs webhooks")
    for column in ("run", "backend", "mode", "checks", "API calls (workflow)"):
        table.add_column(column)
    table.add_column("emulator requests", justify="right")
    table.add_column("completed → client notices", justify="right")
    for outcome in outcomes:
        result = outcome.result
        if result is None:
            table.add_row(outcome.case.key, outcome.case.backend, outcome.case.mode, "-", "-")
            continue
        done = completed_at(stats, result)
        latency = f"{(outcome.noticed_at - done) * 1000:.0f} ms" if done is not None else "-"
        table.add_row(
            f"({outcome.case.key}) {outcome.case.question}",
            result.backend,
            outcome.case.mode,
            str(result.checks),
            str(sum(result.api_calls.values())),
            str(emulator_calls(stats, outcome.workflow_id)),
            latency,
        )
    return table


async def configure_emulator(stack: Stack, **changes: Any) -> None:
    """Change the emulator's configuration (`POST /_emulator/config`)."""
    async with httpx.AsyncClient(timeout=10) as http:
        response = await http.post(stack.emulator_url + "/_emulator/config", json=changes)
        response.raise_for_status()


async def fetch_stats(stack: Stack) -> dict[str, Any]:
    """The emulator's `GET /_emulator/stats`."""
    async with httpx.AsyncClient(timeout=10) as http:
        response = await http.get(stack.emulator_url + "/_emulator/stats")
        response.raise_for_status()
        stats: dict[str, Any] = response.json()
        return stats


async def run_demo(config: StackConfig, console: Console) -> int:
    """Start the stack, run every case, print the comparison, stop the stack.

    Args:
        config: Ports and data directory (the emulator is always used).
        console: Where to print.

    Returns:
        0 when every answer is right, else 1.
    """
    console.rule("durable-runs demo")
    console.print("starting Temporal (with UI), emulator, webhook bridge and worker ...")
    started = time.monotonic()
    async with running_stack(config) as stack:
        console.print(
            f"stack up in {time.monotonic() - started:.1f} s · Temporal {stack.temporal_address}"
            f" · UI {stack.ui_url} · emulator {stack.emulator_url}/v1 · bridge {stack.webhook_url}"
        )
        await ensure_worker(await connect_client(stack.settings()), config.task_queue)
        outcomes = [await run_case(stack, case, console) for case in CASES]
        stats = await fetch_stats(stack)
        console.print(comparison_table(outcomes, stats))
        console.print(
            "Polling reads the run on a backoff schedule (one poll activity, its attempts spaced "
            "by the Temporal server), so it pays reads and notices completion up to one interval "
            "late. In webhook mode the emulator's signed event reaches the bridge, which signals "
            "the workflow at once (a timer is only the slow safety poll): "
            "a response.completed event carries only the id, as OpenAI's do, so the bridge reads "
            "the response once and hands it over; (d)'s thread.run.* events carry the run itself, "
            "an emulator extension that OpenAI does not send."
        )
        console.print("stopping the stack ...")
    wrong = [o for o in outcomes if o.problem is not None]
    if wrong:
        for outcome in wrong:
            console.print(f"[red]({outcome.case.key}) wrong: {outcome.problem}[/]")
        return 1
    console.print("[green]demo passed: every answer is right; everything it started is stopped[/]")
    return 0
