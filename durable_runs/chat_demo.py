"""The chat demo (`durable-runs demo --chat`, `make demo-chat`): a three-turn conversation.

On a fresh embedded stack, one chat session (`ChatSessionWorkflow`, workflow `chat-<session>`)
gets three messages through the `send` Update: "My name is Ada", "What is 2+2?", then "What is
my name?". Each turn is a child run on the Responses backend whose first response continues
the previous turn's (`previous_response_id`); the third answer comes from the first turn.

The emulator answers "What is my name?" from the earlier user messages of the
`previous_response_id` chain: a behaviour of its deterministic brain (see the emulator's
`brain.recall_name`), standing in for what a real model does with the same chain.
"""

from __future__ import annotations

import time
import uuid

from rich.console import Console

from durable_runs.client import connect_client, ensure_worker, send_message, workflow_url
from durable_runs.models import ChatOptions, ChatReply, PollPolicy
from durable_runs.stack import StackConfig, running_stack
from durable_runs.workflow_names import chat_workflow_id

CHAT: tuple[tuple[str, str | None], ...] = (
    ("My name is Ada", "Nice to meet you, Ada."),
    ("What is 2+2?", "4"),
    ("What is my name?", "Your name is Ada."),
)
"""The demo's messages, each with the answer it must get (None: any)."""


async def run_chat_demo(config: StackConfig, console: Console) -> int:
    """Start the stack, hold the three-turn chat, stop the stack.

    Args:
        config: Ports and data directory (the emulator is always used).
        console: Where to print.

    Returns:
        0 when every checked answer is right, else 1.
    """
    console.rule("durable-runs chat demo")
    console.print("starting Temporal (with UI), emulator, webhook bridge and worker ...")
    started = time.monotonic()
    session = f"demo-{uuid.uuid4().hex[:8]}"
    wrong: list[str] = []
    async with running_stack(config) as stack:
        settings = stack.settings()
        client = await connect_client(settings)
        console.print(f"stack up in {time.monotonic() - started:.1f} s · UI {stack.ui_url}")
        await ensure_worker(client, config.task_queue)
        options = ChatOptions(poll=PollPolicy(webhooks=True), metadata={"emu_duration_ms": "500"})
        workflow_id = chat_workflow_id(session)
        console.print(
            f"[bold]chat session[/] {session} · {workflow_url(settings, client, workflow_id)}"
        )
        for message, expected in CHAT:
            console.print(f"[bold]you>[/] {message}", highlight=False)
            reply = await send_message(
                client, session, message, request=options, task_queue=config.task_queue
            )
            console.print(f"[bold]assistant>[/] {reply.answer}", highlight=False)
            console.print(_turn_line(reply), style="dim", highlight=False)
            if expected is not None and reply.answer != expected:
                wrong.append(f"turn {reply.turn}: {reply.answer!r}, expected {expected!r}")
        console.print(
            "Each turn is a child RunWorkflow (chat-<session>/turn-<n>) whose response continues "
            "the previous turn's (previous_response_id): the session's history holds ids, not "
            "the transcript. The emulator remembers the name from that chain (a behaviour of "
            "its deterministic brain, as a model would)."
        )
        console.print("stopping the stack ...")
    for problem in wrong:
        console.print(f"[red]wrong: {problem}[/]")
    if wrong:
        return 1
    console.print("[green]chat demo passed: turn 3 answered from turn 1[/]")
    return 0


def _turn_line(reply: ChatReply) -> str:
    return f"   turn {reply.turn} · {reply.status} · response {reply.response_id}"
