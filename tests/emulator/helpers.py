"""Helpers for the emulator tests: raw HTTP access and bounded waits."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, TypeVar

import httpx
from durable_runs_emulator.server import RunningEmulator
from openai import AsyncOpenAI
from openai.types.beta import Assistant, Thread
from openai.types.beta.threads import Run

from tests.waiting import wait_for

T = TypeVar("T")
API_KEY = "sk-test-emulator"
BETA = {"OpenAI-Beta": "assistants=v2"}
WEATHER_TOOLS: list[dict[str, Any]] = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Current weather in a city.",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "celsius_to_fahrenheit",
            "parameters": {
                "type": "object",
                "properties": {"celsius": {"type": "number"}},
                "required": ["celsius"],
            },
        },
    },
]
FAST = {"emu_queued_ms": "20", "emu_duration_ms": "30"}


def raw_client(emu: RunningEmulator, *, key: str | None = API_KEY) -> httpx.AsyncClient:
    """An httpx client on the emulator's root URL with auth and the Assistants beta header."""
    headers = dict(BETA)
    if key is not None:
        headers["Authorization"] = f"Bearer {key}"
    return httpx.AsyncClient(base_url=emu.root_url, headers=headers, timeout=10)


async def eventually(
    probe: Callable[[], Awaitable[T]], check: Callable[[T], bool], *, within: float = 5.0
) -> T:
    """Call `probe` until `check` holds for its result (bounded), returning that result."""

    async def holds() -> tuple[T] | None:
        value = await probe()
        return (value,) if check(value) else None

    return (await wait_for(holds, within=within, what="emulator condition"))[0]


async def wait_run(
    client: AsyncOpenAI, run: Run, statuses: Iterable[str], *, within: float = 5.0
) -> Run:
    """Poll the run until its status is one of `statuses`."""
    wanted = set(statuses)
    return await eventually(
        lambda: client.beta.threads.runs.retrieve(run.id, thread_id=run.thread_id),
        lambda r: r.status in wanted,
        within=within,
    )


async def setup_thread(
    client: AsyncOpenAI,
    question: str,
    *,
    tools: list[dict[str, Any]] | None = None,
    assistant_metadata: dict[str, str] | None = None,
) -> tuple[Assistant, Thread]:
    """Create an assistant and a thread holding one user message."""
    assistant = await client.beta.assistants.create(
        model="gpt-4o-mini",
        name="test",
        instructions="Be helpful.",
        tools=tools or [],  # type: ignore[arg-type]
        metadata=assistant_metadata or {},
    )
    thread = await client.beta.threads.create(messages=[{"role": "user", "content": question}])
    return assistant, thread


async def answer_text(client: AsyncOpenAI, run: Run) -> str:
    """The text of the assistant message the run added."""
    messages = await client.beta.threads.messages.list(thread_id=run.thread_id, run_id=run.id)
    assert len(messages.data) == 1
    block = messages.data[0].content[0]
    assert block.type == "text"
    return block.text.value


def tool_outputs(run: Run, output: Callable[[str, dict[str, Any]], Any]) -> list[dict[str, str]]:
    """Build tool outputs for a run in requires_action: `output(name, arguments)` each."""
    assert run.required_action is not None
    result = []
    for call in run.required_action.submit_tool_outputs.tool_calls:
        value = output(call.function.name, json.loads(call.function.arguments))
        result.append({"tool_call_id": call.id, "output": json.dumps(value)})
    return result
