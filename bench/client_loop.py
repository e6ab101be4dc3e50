"""The loop modes in their own process, so the bench can meter the process doing the loop.

Mode `naive` reproduces the seed's polling loop: create, then `while status in (queued,
in_progress): sleep(delay); delay = min(delay * 1.5, 5); retrieve`, starting at 0.5 s, with
`AsyncOpenAI` so the N runs are concurrent. On the Assistants backend tools run and are submitted
on `requires_action`; on the Responses backend the loop creates background responses
(`background=True`) and each tool round is a follow-up background response carrying
`previous_response_id` and the `function_call_output` items, polled the same way. Mode `sdk`
(Assistants only) uses the SDK's `create_and_poll` / `submit_tool_outputs_and_poll`.

Protocol with the parent: print `ready`, wait for a `go` line on stdin, run everything, write the
results file, print `done`, and wait for stdin to close (so the parent can read final CPU and
peak RSS while the process is alive).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
import warnings
from pathlib import Path
from typing import Any, Literal

from openai import AsyncOpenAI, OpenAIError
from openai.types.beta.threads import Run
from openai.types.beta.threads.run_submit_tool_outputs_params import ToolOutput
from openai.types.responses import Response
from pydantic import BaseModel, TypeAdapter

from bench.workload import QUESTION, RunSpec, responses_tool_definition
from durable_runs.activities.demo_tools import demo_registry
from durable_runs.models import Backend

# The Assistants API is deprecated upstream; the baseline uses it on purpose.
warnings.filterwarnings("ignore", category=DeprecationWarning)

ClientMode = Literal["naive", "sdk"]

INITIAL_DELAY_S = 0.5
MAX_DELAY_S = 5.0
BACKOFF = 1.5
MODEL = "gpt-4o-mini"
"""The model of the Responses loop (the durable modes' default model)."""


class LoopResult(BaseModel):
    """What the caller saw for one run.

    Attributes:
        index: The spec's index.
        object_ids: The runs or responses created, in order (a Responses run has one per tool
            round after the first).
        status: Final status seen.
        noticed_at: Wall-clock time when the caller had the final result (answer fetched).
        error: The exception text, if the loop failed.
    """

    index: int
    object_ids: list[str] = []
    status: str = "error"
    noticed_at: float = 0.0
    error: str | None = None


def _call_tool(name: str, arguments: str | None) -> str:
    tool = demo_registry().get(name)
    value: Any = tool.function(**json.loads(arguments or "{}")) if tool else {"error": "unknown"}
    return json.dumps(value)


def _run_tools(run: Run) -> list[ToolOutput]:
    assert run.required_action is not None
    return [
        {"tool_call_id": call.id, "output": _call_tool(call.function.name, call.function.arguments)}
        for call in run.required_action.submit_tool_outputs.tool_calls
    ]


async def naive_run(client: AsyncOpenAI, assistant_id: str, spec: RunSpec) -> LoopResult:
    """The seed's loop for one Assistants run (asyncio instead of `time.sleep`)."""
    thread = await client.beta.threads.create(messages=[{"role": "user", "content": QUESTION}])
    run = await client.beta.threads.runs.create(
        thread_id=thread.id, assistant_id=assistant_id, metadata=spec.metadata
    )
    while True:
        delay = INITIAL_DELAY_S
        while run.status in ("queued", "in_progress"):
            await asyncio.sleep(delay)
            delay = min(delay * BACKOFF, MAX_DELAY_S)
            run = await client.beta.threads.runs.retrieve(run.id, thread_id=thread.id)
        if run.status != "requires_action":
            break
        run = await client.beta.threads.runs.submit_tool_outputs(
            run.id, thread_id=thread.id, tool_outputs=_run_tools(run)
        )
    return await _finish(client, spec, run)


async def sdk_run(client: AsyncOpenAI, assistant_id: str, spec: RunSpec) -> LoopResult:
    """The SDK's own helpers: `create_and_poll`, then `submit_tool_outputs_and_poll`."""
    thread = await client.beta.threads.create(messages=[{"role": "user", "content": QUESTION}])
    run = await client.beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=assistant_id, metadata=spec.metadata
    )
    while run.status == "requires_action":
        run = await client.beta.threads.runs.submit_tool_outputs_and_poll(
            run_id=run.id, thread_id=thread.id, tool_outputs=_run_tools(run)
        )
    return await _finish(client, spec, run)


async def _finish(client: AsyncOpenAI, spec: RunSpec, run: Run) -> LoopResult:
    if run.status == "completed":
        await client.beta.threads.messages.list(run.thread_id, run_id=run.id, order="asc")
    return LoopResult(
        index=spec.index, object_ids=[run.id], status=run.status, noticed_at=time.time()
    )


async def naive_responses_run(client: AsyncOpenAI, spec: RunSpec) -> LoopResult:
    """The seed's loop ported to Responses background mode, tool rounds as follow-ups.

    The terminal response carries its output, so the caller holds the answer once it reads a
    terminal status (no further call, unlike the Assistants loop's messages list).
    """
    tools: Any = [responses_tool_definition()] if spec.tool_rounds else []
    response: Response = await client.responses.create(
        model=MODEL,
        input=[{"role": "user", "content": QUESTION}],
        tools=tools,
        background=True,
        metadata=spec.metadata,
    )
    ids = [response.id]
    while True:
        delay = INITIAL_DELAY_S
        while response.status in ("queued", "in_progress"):
            await asyncio.sleep(delay)
            delay = min(delay * BACKOFF, MAX_DELAY_S)
            response = await client.responses.retrieve(response.id)
        calls = [item for item in response.output if item.type == "function_call"]
        if response.status != "completed" or not calls:
            break
        outputs: Any = [
            {
                "type": "function_call_output",
                "call_id": call.call_id,
                "output": _call_tool(call.name, call.arguments),
            }
            for call in calls
        ]
        response = await client.responses.create(
            model=MODEL,
            previous_response_id=response.id,
            input=outputs,
            tools=tools,
            background=True,
            metadata=spec.metadata,
        )
        ids.append(response.id)
    return LoopResult(
        index=spec.index, object_ids=ids, status=str(response.status), noticed_at=time.time()
    )


async def run_all(
    backend: Backend,
    mode: ClientMode,
    base_url: str,
    api_key: str,
    assistant_id: str | None,
    specs: list[RunSpec],
) -> list[LoopResult]:
    """Run every spec concurrently with one client; failures become results with `error`."""
    if mode == "sdk" and backend != "assistants":
        raise ValueError("the sdk mode exists on the Assistants backend only")
    client = AsyncOpenAI(base_url=base_url, api_key=api_key)

    async def one(spec: RunSpec) -> LoopResult:
        if backend == "responses":
            return await naive_responses_run(client, spec)
        assert assistant_id is not None
        run = naive_run if mode == "naive" else sdk_run
        return await run(client, assistant_id, spec)

    async def guarded(spec: RunSpec) -> LoopResult:
        try:
            return await one(spec)
        except OpenAIError as err:
            return LoopResult(index=spec.index, error=f"{type(err).__name__}: {err}")

    try:
        return list(await asyncio.gather(*(guarded(s) for s in specs)))
    finally:
        await client.close()


def main() -> None:
    """Command line of the child process (see the module docstring for the protocol)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backend", choices=["responses", "assistants"], required=True)
    parser.add_argument("--mode", choices=["naive", "sdk"], required=True)
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--api-key", required=True)
    parser.add_argument("--assistant-id")
    parser.add_argument("--specs", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    specs = TypeAdapter(list[RunSpec]).validate_json(args.specs.read_text())
    print("ready", flush=True)
    if sys.stdin.readline().strip() != "go":
        return
    results = asyncio.run(
        run_all(args.backend, args.mode, args.base_url, args.api_key, args.assistant_id, specs)
    )
    args.out.write_text(TypeAdapter(list[LoopResult]).dump_json(results).decode())
    print("done", flush=True)
    sys.stdin.read()


if __name__ == "__main__":
    main()
