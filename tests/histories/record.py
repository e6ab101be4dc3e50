"""Record `RunWorkflow` and `ChatSessionWorkflow` histories for the replay tests (by hand).

    .venv/bin/python -m tests.histories.record

Starts its own Temporal dev server (the `temporal` CLI), the emulator and a worker in this
process, runs one workflow per scenario and writes `tests/histories/RunWorkflow/<scenario>.json`
(the JSON of `WorkflowHistory.to_json()`). A scenario with continue-as-new writes one file per
run, `<scenario>.run<N>.json`. The workflow id of every file is `replay-<scenario>`, so the replay
test derives it from the file name. Each scenario checks its own outcome before its file is
written. Chat scenarios (`CHAT_SCENARIOS`) write `tests/histories/ChatSessionWorkflow/` (session
`replay-<scenario>`, workflow id `chat-replay-<scenario>`), one file per session run.

Re-record when the workflow changes on purpose (a versioned change, with `workflow.patched`, keeps
the old files replaying; an unversioned one must make the old files fail). After a versioned
change, keep the files of the earlier version (they stand for its runs in flight) and record the
new version's scenarios by name: `python -m tests.histories.record NAME ...`. The files in
`tests/histories/AssistantRunWorkflow/` were recorded by the code before the workflow's rename
and are kept as they are: they stand for the runs in flight at that upgrade.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from durable_runs_emulator.config import EmulatorConfig
from durable_runs_emulator.server import RunningEmulator, running_emulator
from openai import AsyncOpenAI
from temporalio.client import Client, WorkflowFailureError, WorkflowHandle, WorkflowHistory
from temporalio.exceptions import CancelledError
from temporalio.service import RPCError

from durable_runs.activities.demo_tools import demo_registry
from durable_runs.bridge.server import running_bridge
from durable_runs.client import cancel_turn, send_message
from durable_runs.devserver import start_dev_environment
from durable_runs.models import (
    ApprovalDecision,
    ApprovalPolicy,
    ChatOptions,
    PollPolicy,
    RunRequest,
    RunResult,
    RunStatusView,
)
from durable_runs.settings import Settings
from durable_runs.worker import build_worker
from durable_runs.workflow_names import DECIDE_UPDATE, STATUS_QUERY, chat_workflow_id
from durable_runs.workflows.run import RunWorkflow
from tests.bridge.signing import new_secret

HISTORIES = Path(__file__).parent
"""The histories, one folder per workflow type."""
CHAT_HISTORIES = HISTORIES / "ChatSessionWorkflow"
"""Where the chat scenarios are written (workflow id `chat-replay-<scenario>`)."""
RUN_HISTORIES = HISTORIES / "RunWorkflow"
"""Where this script writes: the histories of today's type."""
WORKFLOW_ID_PREFIX = "replay-"
QUEUE = "record-histories"
API_KEY = "sk-record-histories"
FAST = PollPolicy(initial_interval_s=0.1, backoff=1.5, max_interval_s=0.5, deadline_s=60)
WEATHER = "What is the weather in Paris and Tokyo, in Fahrenheit?"
TOOLS = ["get_weather", "celsius_to_fahrenheit"]

Handle = WorkflowHandle[RunWorkflow, RunResult]


def workflow_id_for(path: Path) -> str:
    """The workflow id a history file was recorded under (`replay-<scenario>`)."""
    return WORKFLOW_ID_PREFIX + path.name.split(".")[0]


def load_history(path: Path) -> WorkflowHistory:
    """A recorded history, under the workflow id it was recorded with."""
    return WorkflowHistory.from_json(workflow_id_for(path), path.read_text())


@dataclass(frozen=True)
class Scenario:
    """One recorded run: its request and how to drive and check it.

    Attributes:
        name: File stem.
        request: The workflow input.
        check: Asserts the outcome from the handle (and may drive the run, e.g. cancel it).
        webhooks: Run against an emulator that sends events through a bridge.
        openai_rpm: The worker's API budget (under one, `answer` is an activity of its own;
            without, the read that sees completion brings the answer).
    """

    name: str
    request: RunRequest
    check: Callable[[Handle, RunningEmulator], Awaitable[None]]
    webhooks: bool = False
    openai_rpm: int = 0


def req(question: str = "What is 2+2?", **fields: Any) -> RunRequest:
    """A fast-polling request on the seed's Assistants backend (the `assistants_*` files)."""
    return RunRequest(**{"backend": "assistants", "messages": [question], "poll": FAST, **fields})


async def _expect(handle: Handle, **expected: Any) -> RunResult:
    result = await handle.result()
    for name, value in expected.items():
        actual = getattr(result, name)
        if actual != value:
            raise AssertionError(f"{handle.id}: {name} = {actual!r}, expected {value!r}")
    return result


async def completed(handle: Handle, _: RunningEmulator) -> None:
    """Completed with the seed answer."""
    await _expect(handle, status="completed", answer="4")


async def two_tool_rounds(handle: Handle, _: RunningEmulator) -> None:
    """Completed after two tool rounds."""
    await _expect(handle, status="completed", tool_rounds=2)


async def failed(handle: Handle, _: RunningEmulator) -> None:
    """Failed with the API's error."""
    await _expect(handle, status="failed")


async def expired_restarted(handle: Handle, _: RunningEmulator) -> None:
    """Expired, restarted once, expired again."""
    await _expect(handle, status="expired", restarts=1)


async def timed_out(handle: Handle, _: RunningEmulator) -> None:
    """Our deadline passed and the run was cancelled."""
    await _expect(handle, status="timed_out")


async def cancelled(handle: Handle, emulator: RunningEmulator) -> None:
    """The workflow was cancelled once its run existed; it cancelled the run."""
    for _ in range(200):
        stats = await emulator.stats()
        if stats["runs_by_workflow"].get(handle.id) or stats.get("responses_by_workflow", {}).get(
            handle.id
        ):
            break
        await asyncio.sleep(0.05)
    else:
        raise AssertionError("the run was never created")
    await handle.cancel()
    try:
        await handle.result()
    except WorkflowFailureError as err:
        if not isinstance(err.cause, CancelledError):
            raise
    else:
        raise AssertionError("the workflow was not cancelled")


async def webhook_applied(handle: Handle, _: RunningEmulator) -> None:
    """Completed through webhook events (no safety poll within the run)."""
    result = await _expect(handle, status="completed", answer="4")
    if result.events_applied < 1:
        raise AssertionError(f"no event applied: {result}")


async def continued_as_new(handle: Handle, _: RunningEmulator) -> None:
    """Completed after continuing as new at least once."""
    await _expect(handle, status="completed", answer="4")


REFUND_PLAN = json.dumps(
    [[{"name": "refund_order", "arguments": {"order_id": "A-17", "amount": 20.0}}]]
)
"""`emu_tool_plan` of the approval scenarios: the model asks `refund_order` once."""


def refund(**fields: Any) -> RunRequest:
    """A run whose one tool call (`refund_order`) waits for a person's decision."""
    return req(
        "Refund order A-17",
        tools=["refund_order"],
        approval=ApprovalPolicy(tools=["refund_order"]),
        metadata={"emu_tool_plan": REFUND_PLAN},
        **fields,
    )


def decided(approve: bool, **edits: str) -> Callable[[Handle, RunningEmulator], Awaitable[None]]:
    """Wait for the pending call, decide it, and check the run completed after one round."""

    async def check(handle: Handle, _: RunningEmulator) -> None:
        for _attempt in range(200):
            view = await handle.query(STATUS_QUERY, result_type=RunStatusView)
            if view.pending_approvals:
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError("the run never awaited approval")
        call_id = view.pending_approvals[0].call_id
        decision = ApprovalDecision(call_id=call_id, approve=approve, reason="recorded", **edits)
        await handle.execute_update(DECIDE_UPDATE, decision)
        result = await _expect(handle, status="completed", tool_rounds=1)
        wanted = '"refunded": true' if approve else '"rejected": true'
        if wanted not in result.answer:
            raise AssertionError(f"{handle.id}: answer {result.answer!r} lacks {wanted}")

    return check


SCENARIOS = [
    Scenario("assistants_completed", req(), completed),
    Scenario("assistants_completed_under_budget", req(), completed, openai_rpm=6000),
    Scenario("assistants_two_tool_rounds", req(WEATHER, tools=TOOLS), two_tool_rounds),
    Scenario("assistants_failed", req(metadata={"emu_outcome": "failed"}), failed),
    Scenario(
        "assistants_expired_restart",
        req(metadata={"emu_outcome": "expired"}, on_expired="restart", max_restarts=1),
        expired_restarted,
    ),
    Scenario(
        "assistants_deadline_timed_out",
        req(
            poll=PollPolicy(initial_interval_s=0.2, max_interval_s=0.5, deadline_s=2),
            metadata={"emu_outcome": "stay_queued"},
        ),
        timed_out,
    ),
    Scenario("assistants_cancelled", req(metadata={"emu_outcome": "stay_queued"}), cancelled),
    Scenario(
        "assistants_webhook_event",
        req(poll=PollPolicy(webhooks=True, safety_poll_s=120, deadline_s=300)),
        webhook_applied,
        webhooks=True,
    ),
    Scenario(
        "assistants_continue_as_new",
        req(
            poll=FAST.model_copy(update={"checks_per_history": 3, "max_interval_s": 0.2}),
            metadata={"emu_duration_ms": "1500"},
        ),
        continued_as_new,
    ),
    Scenario(
        "responses_tool_chain",
        req(WEATHER, backend="responses", tools=TOOLS),
        two_tool_rounds,
    ),
    # Recorded by the version with the `poll-on-retries` patch (one `poll` activity per
    # change, no `prepare` for Responses, a growing safety poll): `POLLS_ON_RETRIES`.
    Scenario("polls_on_retries_responses_completed", req(backend="responses"), completed),
    Scenario("polls_on_retries_assistants_completed", req(), completed),
    Scenario(
        "polls_on_retries_responses_tool_chain",
        req(WEATHER, backend="responses", tools=TOOLS),
        two_tool_rounds,
    ),
    Scenario(
        "polls_on_retries_responses_timed_out",
        req(
            backend="responses",
            poll=PollPolicy(initial_interval_s=0.2, max_interval_s=0.5, deadline_s=2),
            metadata={"emu_outcome": "stay_queued"},
        ),
        timed_out,
    ),
    Scenario(
        "polls_on_retries_responses_cancelled",
        req(backend="responses", metadata={"emu_outcome": "stay_queued"}),
        cancelled,
    ),
    Scenario(
        "polls_on_retries_responses_webhook_event",
        req(
            backend="responses",
            poll=PollPolicy(webhooks=True, deadline_s=300),
            metadata={"emu_duration_ms": "1500"},
        ),
        webhook_applied,
        webhooks=True,
    ),
    # Recorded by the version with approvals (Workflow Update `decide`): `APPROVALS`.
    Scenario(
        "approvals_responses_approved_edited",
        refund(backend="responses"),
        decided(True, edited_arguments='{"order_id": "A-17", "amount": 5.0}'),
    ),
    Scenario("approvals_assistants_rejected", refund(), decided(False)),
]
"""Every scenario the replay test expects a file for."""

APPROVALS = "approvals_"
"""Name prefix of the scenarios recorded by the version with approvals."""

POLLS_ON_RETRIES = "polls_on_retries_"
"""Name prefix of the scenarios recorded by the version with the `poll-on-retries` patch;
the former type name (`AssistantRunWorkflow`) has files for the others only."""


@dataclass(frozen=True)
class ChatScenario:
    """One recorded chat session: turns sent through the client, then an idle close.

    Attributes:
        name: File stem; the session id is `replay-<name>`.
        options: The session's options (a short `idle_close_s`, so the session closes).
        drive: Sends the turns and checks their replies.
    """

    name: str
    options: ChatOptions
    drive: Callable[[Client, str], Awaitable[None]]


CHAT_FAST = PollPolicy(initial_interval_s=0.05, backoff=1.5, max_interval_s=0.2, deadline_s=60)


def chat_options(**fields: Any) -> ChatOptions:
    """Quick chat options that close the session one second after its last turn."""
    base: dict[str, Any] = {"poll": CHAT_FAST, "idle_close_s": 1.0, "metadata": {}}
    return ChatOptions.model_validate({**base, **fields})


async def _say(client: Client, session: str, message: str, options: ChatOptions) -> str:
    reply = await send_message(client, session, message, request=options, task_queue=QUEUE)
    return reply.answer


def name_chat(options: ChatOptions) -> Callable[[Client, str], Awaitable[None]]:
    """Three turns; the third answers from the first."""

    async def drive(client: Client, session: str) -> None:
        answers = [
            await _say(client, session, m, options)
            for m in ("My name is Ada", "What is 2+2?", "What is my name?")
        ]
        if answers[1:] != ["4", "Your name is Ada."]:
            raise AssertionError(f"{session}: answers {answers}")

    return drive


async def queued_turns(client: Client, session: str) -> None:
    """Two messages sent at once: the second waits for the first."""
    options = chat_options(metadata={"emu_duration_ms": "300"})
    replies = await asyncio.gather(
        send_message(client, session, "My name is Ada", request=options, task_queue=QUEUE),
        send_message(client, session, "What is 2+2?", request=options, task_queue=QUEUE),
    )
    if sorted(r.turn for r in replies) != [1, 2]:
        raise AssertionError(f"{session}: {replies}")


async def cancelled_turn(client: Client, session: str) -> None:
    """A turn that never ends by itself, cancelled by `cancel_turn`."""
    options = chat_options(metadata={"emu_outcome": "stay_queued"})
    sending = asyncio.ensure_future(
        send_message(client, session, "Wait", request=options, task_queue=QUEUE)
    )
    child = client.get_workflow_handle(f"{chat_workflow_id(session)}/turn-1")
    for _ in range(200):
        history = await _history_or_none(child)
        if history is not None and any(
            e.HasField("activity_task_completed_event_attributes") for e in history.events
        ):
            break
        await asyncio.sleep(0.05)
    else:
        raise AssertionError("turn 1's response was never created")
    await cancel_turn(client, session)
    reply = await sending
    if reply.status != "cancelled":
        raise AssertionError(f"{session}: {reply}")


async def _history_or_none(handle: WorkflowHandle[Any, Any]) -> WorkflowHistory | None:
    try:
        return await handle.fetch_history()
    except RPCError:
        return None


CHAT_SCENARIOS = [
    ChatScenario("chat_three_turns", chat_options(), name_chat(chat_options())),
    ChatScenario(
        "chat_assistants",
        chat_options(backend="assistants"),
        name_chat(chat_options(backend="assistants")),
    ),
    ChatScenario(
        "chat_continue_as_new",
        chat_options(turns_per_run=2),
        name_chat(chat_options(turns_per_run=2)),
    ),
    ChatScenario("chat_queued_turns", chat_options(), queued_turns),
    ChatScenario("chat_cancelled_turn", chat_options(), cancelled_turn),
]
"""Every chat scenario the chat replay test expects a file for."""


async def record_chat(client: Client, scenario: ChatScenario) -> list[Path]:
    """Drive one chat scenario until the session closed idle, and write its run(s)."""
    session = WORKFLOW_ID_PREFIX + scenario.name
    await scenario.drive(client, session)
    handle = client.get_workflow_handle(chat_workflow_id(session))
    await handle.result()  # the idle close
    histories = await run_histories(client, await _first_run(client, handle.id))
    CHAT_HISTORIES.mkdir(exist_ok=True)
    for old in CHAT_HISTORIES.glob(f"{scenario.name}.*json"):
        old.unlink()
    paths = []
    for index, text in enumerate(histories, start=1):
        suffix = f".run{index}" if len(histories) > 1 else ""
        path = CHAT_HISTORIES / f"{scenario.name}{suffix}.json"
        path.write_text(json.dumps(json.loads(text), indent=1) + "\n")
        paths.append(path)
    return paths


async def _first_run(client: Client, workflow_id: str) -> WorkflowHandle[Any, Any]:
    runs = [e async for e in client.list_workflows(f"WorkflowId = '{workflow_id}'")]
    first = min(runs, key=lambda e: e.start_time)
    return client.get_workflow_handle(
        workflow_id, run_id=first.run_id, first_execution_run_id=first.run_id
    )


@asynccontextmanager
async def worker(client: Client, emulator: RunningEmulator, openai_rpm: int) -> AsyncIterator[None]:
    """An in-process worker on `QUEUE` talking to `emulator`."""
    openai = AsyncOpenAI(base_url=emulator.base_url, api_key=API_KEY, max_retries=0)
    async with build_worker(
        client, task_queue=QUEUE, openai=openai, tools=demo_registry(), openai_rpm=openai_rpm
    ):
        yield


async def run_histories(client: Client, handle: WorkflowHandle[Any, Any]) -> list[str]:
    """The JSON history of every run of the workflow, first to last (continue-as-new chain)."""
    run_id: str | None = handle.first_execution_run_id
    out = []
    while run_id:
        history = await client.get_workflow_handle(handle.id, run_id=run_id).fetch_history()
        out.append(history.to_json())
        last = history.events[-1]
        attrs = last.workflow_execution_continued_as_new_event_attributes
        run_id = (
            attrs.new_execution_run_id
            if last.HasField("workflow_execution_continued_as_new_event_attributes")
            else None
        )
    return out


async def record(client: Client, emulator: RunningEmulator, scenario: Scenario) -> list[Path]:
    """Run one scenario and write its file(s)."""
    workflow_id = WORKFLOW_ID_PREFIX + scenario.name
    handle = await client.start_workflow(
        RunWorkflow.run, scenario.request, id=workflow_id, task_queue=QUEUE
    )
    await scenario.check(handle, emulator)
    histories = await run_histories(client, handle)
    if scenario.name.endswith("continue_as_new") and len(histories) < 2:
        raise AssertionError("the run did not continue as new")
    RUN_HISTORIES.mkdir(exist_ok=True)
    for old in RUN_HISTORIES.glob(f"{scenario.name}.*json"):
        old.unlink()
    paths = []
    for index, text in enumerate(histories, start=1):
        suffix = f".run{index}" if len(histories) > 1 else ""
        path = RUN_HISTORIES / f"{scenario.name}{suffix}.json"
        path.write_text(json.dumps(json.loads(text), indent=1) + "\n")
        paths.append(path)
    return paths


async def main(names: list[str]) -> None:
    """Record the named scenarios (all when none are named)."""
    chosen = [s for s in SCENARIOS if not names or s.name in names]
    chats = [s for s in CHAT_SCENARIOS if not names or s.name in names]
    async with await start_dev_environment() as env:
        client = env.client
        async with running_emulator() as emulator:
            if chats:
                async with worker(client, emulator, 0):
                    for chat in chats:
                        for path in await record_chat(client, chat):
                            print("wrote", path.relative_to(HISTORIES.parents[1]))
            for scenario in (s for s in chosen if not s.webhooks):
                async with worker(client, emulator, scenario.openai_rpm):
                    for path in await record(client, emulator, scenario):
                        print("wrote", path.relative_to(HISTORIES.parents[1]))
        secret = new_secret()
        # The Assistants scenario's events are `thread.run.*`: an emulator extension. The
        # bridge reads responses from this emulator, so it starts first, then gets the URL.
        config = EmulatorConfig(webhook_secret=secret, thread_run_webhooks=True)
        async with running_emulator(config) as emulator:
            settings = Settings(
                OPENAI_WEBHOOK_SECRET=secret,
                OPENAI_API_KEY=API_KEY,
                OPENAI_BASE_URL=emulator.base_url,
                TEMPORAL_ADDRESS=client.service_client.config.target_host,
            )
            async with running_bridge(settings) as bridge:
                await emulator.configure(webhook_url=bridge.url)
                for scenario in (s for s in chosen if s.webhooks):
                    async with worker(client, emulator, scenario.openai_rpm):
                        for path in await record(client, emulator, scenario):
                            print("wrote", path.relative_to(HISTORIES.parents[1]))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
