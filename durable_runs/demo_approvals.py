"""The approvals demo (`durable-runs demo --approvals`): a run stops at a tool a person approves.

On a fresh embedded stack, a Responses run is asked to refund an order; the model (the
emulator, scripted by `emu_tool_plan`) calls `refund_order`, a demo tool registered with
`requires_approval=True`. The run waits in `awaiting_approval`; the demo shows the pending call
and the `durable-runs approve` command for it. Interactive, it waits for the user (who approves
or rejects from another terminal, or presses Enter to approve here); otherwise it approves the
call itself. Then it shows the run finish with the refund's output in the answer.
"""

from __future__ import annotations

import asyncio
import json
import sys

from rich.console import Console
from rich.panel import Panel
from temporalio.client import Client

from durable_runs.activities.tools import load_registry
from durable_runs.client import (
    RunHandle,
    connect_client,
    decide,
    ensure_worker,
    query_status,
    start_run,
    workflow_url,
)
from durable_runs.models import PendingApproval, PollPolicy, RunRequest
from durable_runs.stack import StackConfig, running_stack

QUESTION = "Customer ada@example.com was charged twice for order A-17: refund 20 EUR."
REFUND = {"order_id": "A-17", "amount": 20.0}
WAIT_BOUND_S = 30.0
"""How long the demo waits for the run to reach the tool (it takes well under a second)."""


async def _pending(handle: RunHandle) -> PendingApproval:
    """Wait (bounded) until the run awaits approval; its pending call."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT_BOUND_S
    while True:
        view = await query_status(handle)
        if view.pending_approvals:
            return view.pending_approvals[0]
        if view.status in ("completed", "failed", "cancelled") or loop.time() > deadline:
            raise RuntimeError(f"the run never awaited approval (status {view.status})")
        await asyncio.sleep(0.1)


async def _decided_elsewhere(handle: RunHandle) -> None:
    """Return once nothing is pending any more (the user decided from another terminal)."""
    while True:
        if not (await query_status(handle)).pending_approvals:
            return
        await asyncio.sleep(0.25)


async def _wait_for_user(client: Client, handle: RunHandle, pending: PendingApproval) -> str:
    """Interactive: the user decides from another terminal, or presses Enter to approve here."""
    enter = asyncio.ensure_future(asyncio.to_thread(sys.stdin.readline))
    elsewhere = asyncio.ensure_future(_decided_elsewhere(handle))
    done, _ = await asyncio.wait({enter, elsewhere}, return_when=asyncio.FIRST_COMPLETED)
    elsewhere.cancel()
    if elsewhere in done:
        return "decided from another terminal"
    await decide(client, handle.id, pending.call_id, approve=True, reason="approved in the demo")
    return "approved here (Enter)"


async def run_approvals_demo(config: StackConfig, console: Console, *, interactive: bool) -> int:
    """Start the stack, run one refund that needs approval, decide it, show it finish.

    Args:
        config: Ports and data directory (the emulator is always used).
        console: Where to print.
        interactive: Wait for the user's decision instead of approving at once.

    Returns:
        0 when the run completed with the refund's output in its answer, else 1.
    """
    console.rule("durable-runs demo: approvals")
    console.print("starting Temporal (with UI), emulator, webhook bridge and worker ...")
    async with running_stack(config) as stack:
        settings = stack.settings()
        client = await connect_client(settings)
        await ensure_worker(client, config.task_queue)
        request = RunRequest(
            messages=[QUESTION],
            tools=["refund_order"],
            poll=PollPolicy(deadline_s=120),
            metadata={
                "emu_tool_plan": json.dumps([[{"name": "refund_order", "arguments": REFUND}]])
            },
        )
        # With the worker's registry, the client adds `refund_order` to the run's approval policy.
        handle = await start_run(
            client, request, task_queue=config.task_queue, tools=load_registry(settings.tools)
        )
        pending = await _pending(handle)
        command = f"durable-runs approve {handle.id} {pending.call_id} --reason 'checked'"
        console.print(
            Panel(
                f"[bold]question[/] {QUESTION}\n"
                f"[bold]status[/]   awaiting_approval (no activity, no status reads while it "
                f"waits)\n"
                f"[bold]tool[/]     {pending.tool}({pending.arguments})\n"
                f"[bold]call[/]     {pending.call_id}\n"
                f"[bold]approve[/]  TEMPORAL_ADDRESS={stack.temporal_address} {command}\n"
                f"[bold]reject[/]   TEMPORAL_ADDRESS={stack.temporal_address} durable-runs "
                f"reject {handle.id} {pending.call_id} --reason 'not eligible'\n"
                f"[bold]workflow[/] {workflow_url(settings, client, handle.id)}",
                title="a run waits for a person",
                title_align="left",
            )
        )
        if interactive:
            console.print("approve or reject it from another terminal, or press Enter to approve")
            how = await _wait_for_user(client, handle, pending)
        else:
            await decide(client, handle.id, pending.call_id, approve=True, reason="demo")
            how = "approved by the demo itself (not a terminal)"
        console.print(f"decision: {how}")
        result = await handle.result()
        console.print(
            Panel(
                f"[bold]answer[/]   {result.answer}\n"
                f"[bold]status[/]   {result.status} · tool rounds {result.tool_rounds} · "
                f"API calls {sum(result.api_calls.values())}",
                title="the run finished",
                title_align="left",
            )
        )
        console.print("stopping the stack ...")
    if result.status != "completed" or "refund_order=" not in result.answer:
        console.print(f"[red]the run did not complete as expected: {result.status}[/]")
        return 1
    console.print("[green]approvals demo passed; everything it started is stopped[/]")
    return 0
