"""The public client API: start, wait for, query, cancel and list durable runs.

Plain client code (a web handler, a script, a notebook) needs only these functions and the
models of `durable_runs.models`:

```python
client = await durable_runs.client.connect_client(get_settings())
result = await durable_runs.client.run(client, RunRequest(messages=["What is 2+2?"]))
print(result.answer)
```

A request runs on the Responses backend unless it says `backend="assistants"`. `start_run` and
`run` check it before they start anything (and, given the worker's `ToolRegistry`, its tool
names): a request that cannot run raises `InvalidRequestError`, whose message names the field.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError
from temporalio.api.enums.v1 import TaskQueueKind, TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import (
    Client,
    WithStartWorkflowOperation,
    WorkflowExecutionStatus,
    WorkflowHandle,
    WorkflowUpdateFailedError,
)
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.service import RPCError, RPCStatusCode

from durable_runs import search_attributes as sa
from durable_runs.activities.tools import ToolRegistry, UnknownToolsError
from durable_runs.models import (
    AWAITING_APPROVAL,
    ApprovalDecision,
    Backend,
    ChatChain,
    ChatOptions,
    ChatReply,
    ChatSessionEnd,
    ChatSessionInput,
    ChatTurnView,
    PendingApproval,
    RunRequest,
    RunResult,
    RunStatusView,
)
from durable_runs.settings import OPENAI_QUEUE_SUFFIX, Settings, get_settings
from durable_runs.temporal import TemporalConfigError, connect, connect_config
from durable_runs.workflow_names import (
    CANCEL_TURN_SIGNAL,
    CHAT_WORKFLOW_TYPE,
    DECIDE_UPDATE,
    LEGACY_TYPE_NAME,
    RUN_WORKFLOW_TYPE,
    SEND_UPDATE,
    STATUS_QUERY,
    TURNS_QUERY,
    chat_workflow_id,
)

RunHandle = WorkflowHandle[Any, RunResult]
"""Handle of one run workflow execution, reached by type name (this module imports no workflow
code, so a client does not load the worker's activities and the OpenAI SDK)."""

SUMMARY_CHARS = 120
"""Longest question shown as the workflow's summary in the Temporal UI."""

POLLER_FRESH_S = 90.0
"""A poller seen more recently than this counts as a live worker (long polls last about 60 s)."""


class DurableRunsError(Exception):
    """An expected failure with a one-line, actionable message (the CLI prints it as is)."""


class TemporalUnreachableError(DurableRunsError):
    """The Temporal frontend cannot be reached."""


class NoWorkerError(DurableRunsError):
    """No worker polls the task queue, so a started run would never progress."""


class InvalidRequestError(DurableRunsError):
    """A request that cannot run; the message names the field (or the tool)."""


class ApprovalRejectedError(DurableRunsError):
    """A decision the run refused: unknown call, call already decided, or run finished."""


class RunRow(BaseModel):
    """One run in a `list_runs` answer.

    Attributes:
        workflow_id: The workflow's id.
        execution_status: Temporal's status of the execution (`RUNNING`, `COMPLETED`, ...).
        run_status: Search attribute `OpenAIRunStatus`: the API's status as last published.
        backend: Search attribute `OpenAIBackend`.
        openai_run_id: Search attribute `OpenAIRunId`: the run or response id.
        start_time: When the workflow started.
        close_time: When it closed (None while running).
    """

    model_config = ConfigDict(frozen=True)

    workflow_id: str
    execution_status: str
    run_status: str | None = None
    backend: str | None = None
    openai_run_id: str | None = None
    start_time: datetime
    close_time: datetime | None = None


async def connect_client(settings: Settings | None = None) -> Client:
    """Connect to Temporal, turning a connection failure into a clear error.

    Args:
        settings: Address and namespace; defaults to the environment's (a `temporal.toml`
            profile fills in what neither names, see `durable_runs.temporal.connect_config`).

    Returns:
        A connected client (pydantic data converter).

    Raises:
        TemporalUnreachableError: Nothing answers at the address (retrying later may work).
        DurableRunsError: Temporal's client config (file or profile) cannot be read.
    """
    settings = settings or get_settings()
    try:
        return await connect(settings)
    except TemporalConfigError as err:
        raise DurableRunsError(str(err)) from err
    except RuntimeError as err:
        address = connect_config(settings)["target_host"]
        raise TemporalUnreachableError(
            f"cannot reach Temporal at {address}: start it with "
            "`durable-runs dev` or set TEMPORAL_ADDRESS"
        ) from err


def new_workflow_id() -> str:
    """A short readable workflow id, e.g. `run-3f9a1c2b7d`."""
    return f"run-{uuid.uuid4().hex[:10]}"


def new_session_id() -> str:
    """A short readable chat session id, e.g. `3f9a1c2b7d` (workflow `chat-3f9a1c2b7d`)."""
    return uuid.uuid4().hex[:10]


def summary_of(request: RunRequest) -> str:
    """The one-line summary the Temporal UI shows for a run: its question, truncated."""
    text = " ".join(" ".join(request.messages).split()) or f"{request.backend} run"
    if len(text) > SUMMARY_CHARS:
        text = text[: SUMMARY_CHARS - 1] + "…"
    return text


def validation_message(err: ValidationError, labels: Mapping[str, str] | None = None) -> str:
    """One line naming each invalid field: `poll.deadline_s: Input should be greater than 0`.

    Args:
        err: What pydantic refused.
        labels: Names to show instead of field paths (e.g. a CLI option for `poll.deadline_s`).
    """
    parts: list[str] = []
    for error in err.errors():
        path = ".".join(str(part) for part in error["loc"])
        message = error["msg"].removeprefix("Value error, ")
        name = (labels or {}).get(path, path)
        parts.append(f"{name}: {message}" if name else message)
    return "; ".join(parts)


def validate_request(request: RunRequest, tools: ToolRegistry | None = None) -> RunRequest:
    """Check a request before anything starts.

    The model checks itself when built; it is checked again here because a `RunRequest` can be
    changed after it was built (its fields are assignable) or built unchecked.

    Args:
        request: What to ask.
        tools: The worker's registry; when given, every tool name must be registered in it.

    Returns:
        The request, checked.

    Raises:
        InvalidRequestError: A field is invalid or a tool is unknown.
    """
    try:
        # `warnings=False`: a request built unchecked may hold plain values where models belong;
        # they are validated here like everything else.
        checked = RunRequest.model_validate(request.model_dump(warnings=False))
    except ValidationError as err:
        raise InvalidRequestError(f"invalid request: {validation_message(err)}") from err
    if tools is not None:
        try:
            tools.check(checked.tools)
        except UnknownToolsError as err:
            raise InvalidRequestError(f"invalid request: {err}") from err
        return with_registry_approvals(checked, tools)
    return checked


def with_registry_approvals(request: RunRequest, tools: ToolRegistry) -> RunRequest:
    """The request with the registry's `requires_approval` tools added to its policy.

    The workflow decides from its request alone (recorded in history, so a replay decides
    the same whatever the worker's registry says now); the tool activity still refuses to run
    a tool that requires approval for a call no person approved.
    """
    policy = request.approval
    added = [n for n in tools.needing_approval(request.tools) if n not in policy.tools]
    if not added:
        return request
    approval = policy.model_copy(update={"tools": [*policy.tools, *added]})
    return request.model_copy(update={"approval": approval})


async def start_run(
    client: Client,
    request: RunRequest,
    *,
    workflow_id: str | None = None,
    task_queue: str | None = None,
    tools: ToolRegistry | None = None,
) -> RunHandle:
    """Check a request, then start one run workflow without waiting for it.

    Args:
        client: Temporal client.
        request: What to ask.
        workflow_id: Id of the workflow; a fresh `run-<short uuid>` when None.
        task_queue: Main task queue; `Settings.task_queue` when None.
        tools: The worker's tool registry; when given, unknown tool names are refused here
            (without it, the run's create fails at once, non-retryable, on the worker).

    Returns:
        The workflow's handle (`await handle.result()` gives the `RunResult`).

    Raises:
        InvalidRequestError: The request cannot run (nothing was started).
    """
    request = validate_request(request, tools)
    queue = task_queue or get_settings().task_queue
    handle: RunHandle = await client.start_workflow(
        RUN_WORKFLOW_TYPE,
        request,
        id=workflow_id or new_workflow_id(),
        task_queue=queue,
        result_type=RunResult,
        search_attributes=sa.at_start(request.backend),
        static_summary=summary_of(request),
        static_details=f"backend **{request.backend}** · tools {', '.join(request.tools) or '-'}"
        f" · webhooks {'on' if request.poll.webhooks else 'off'}",
    )
    return handle


async def run(
    client: Client,
    request: RunRequest,
    *,
    workflow_id: str | None = None,
    task_queue: str | None = None,
    tools: ToolRegistry | None = None,
) -> RunResult:
    """Check a request, start one run workflow and wait for its result.

    Args:
        client: Temporal client.
        request: What to ask.
        workflow_id: Id of the workflow; a fresh `run-<short uuid>` when None.
        task_queue: Main task queue; `Settings.task_queue` when None.
        tools: The worker's tool registry; when given, unknown tool names are refused here.

    Returns:
        The run's result (its `status` says whether it completed).

    Raises:
        InvalidRequestError: The request cannot run (nothing was started).
    """
    handle = await start_run(
        client, request, workflow_id=workflow_id, task_queue=task_queue, tools=tools
    )
    return await handle.result()


def get_handle(client: Client, workflow_id: str) -> RunHandle:
    """The handle of an existing run workflow (its latest execution)."""
    handle: RunHandle = client.get_workflow_handle(workflow_id, result_type=RunResult)
    return handle


async def query_status(handle: RunHandle, *, rpc_timeout: timedelta | None = None) -> RunStatusView:
    """Query `status` of a run workflow: what it knows about its run now.

    Args:
        handle: The run workflow's handle.
        rpc_timeout: How long to wait for the answer (the client's default when None).

    Raises:
        RPCError: No such workflow, or no worker answered in time.
    """
    view: RunStatusView = await handle.query(
        STATUS_QUERY, result_type=RunStatusView, rpc_timeout=rpc_timeout
    )
    return view


async def get_status(client: Client, workflow_id: str) -> RunStatusView:
    """Ask a run workflow what it knows now (query `status`; works after it closed, too).

    Raises:
        DurableRunsError: No such workflow.
    """
    try:
        return await query_status(get_handle(client, workflow_id))
    except RPCError as err:
        raise DurableRunsError(f"cannot query {workflow_id}: {err.message}") from err


async def cancel_run(client: Client, workflow_id: str) -> None:
    """Request cancellation: the workflow cancels the remote run, then ends as cancelled.

    Raises:
        DurableRunsError: No such workflow, or it already closed (the server would accept the
            request silently and nothing would happen).
    """
    handle = get_handle(client, workflow_id)
    try:
        description = await handle.describe()
        if is_closed(description.status):
            state = description.status.name if description.status else "closed"
            raise DurableRunsError(f"cannot cancel {workflow_id}: it already closed ({state})")
        await handle.cancel()
    except RPCError as err:
        raise DurableRunsError(f"cannot cancel {workflow_id}: {err.message}") from err


def _quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def runs_query(
    *, status: str | None = None, backend: str | None = None, task_queue: str | None = None
) -> str:
    """The visibility query `list_runs` sends (run workflows, filtered on our search attributes)."""
    # Runs started before the rename still run under the former type name.
    types = ", ".join(_quote(name) for name in (RUN_WORKFLOW_TYPE, LEGACY_TYPE_NAME))
    clauses = [f"WorkflowType IN ({types})"]
    if status:
        clauses.append(f"{sa.OPENAI_RUN_STATUS.name} = {_quote(status)}")
    if backend:
        clauses.append(f"{sa.OPENAI_BACKEND.name} = {_quote(backend)}")
    if task_queue:
        clauses.append(f"TaskQueue = {_quote(task_queue)}")
    # No ORDER BY: the dev server's SQL visibility rejects it; its default order is newest first.
    return " AND ".join(clauses)


async def list_runs(
    client: Client,
    *,
    status: str | None = None,
    backend: Backend | None = None,
    task_queue: str | None = None,
    limit: int = 50,
) -> list[RunRow]:
    """List run workflows, newest first (Temporal visibility: eventually consistent).

    Args:
        client: Temporal client.
        status: Only runs whose `OpenAIRunStatus` is this (e.g. `completed`, `in_progress`).
        backend: Only runs of this backend (`OpenAIBackend`).
        task_queue: Only runs started on this task queue.
        limit: At most this many rows.

    Returns:
        One row per workflow execution.
    """
    rows: list[RunRow] = []
    query = runs_query(status=status, backend=backend, task_queue=task_queue)
    try:
        async for execution in client.list_workflows(query, limit=limit):
            attrs = execution.typed_search_attributes
            state = execution.status
            rows.append(
                RunRow(
                    workflow_id=execution.id,
                    execution_status=state.name if state is not None else "UNKNOWN",
                    run_status=attrs.get(sa.OPENAI_RUN_STATUS),
                    backend=attrs.get(sa.OPENAI_BACKEND),
                    openai_run_id=attrs.get(sa.OPENAI_RUN_ID),
                    start_time=execution.start_time,
                    close_time=execution.close_time,
                )
            )
    except RPCError as err:
        raise DurableRunsError(f"cannot list runs ({query}): {err.message}") from err
    return rows


async def live_pollers(
    client: Client, task_queue: str, kind: Literal["workflow", "activity"]
) -> list[str]:
    """Identities of the workers that polled `task_queue` for `kind` tasks recently."""
    response = await client.workflow_service.describe_task_queue(
        DescribeTaskQueueRequest(
            namespace=client.namespace,
            task_queue=TaskQueue(name=task_queue, kind=TaskQueueKind.TASK_QUEUE_KIND_NORMAL),
            task_queue_type=(
                TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW
                if kind == "workflow"
                else TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY
            ),
        )
    )
    fresh_after = datetime.now(UTC) - timedelta(seconds=POLLER_FRESH_S)
    identities: list[str] = []
    for poller in response.pollers:
        seen = poller.last_access_time.ToDatetime(tzinfo=UTC)
        if not poller.HasField("last_access_time") or seen >= fresh_after:
            identities.append(poller.identity)
    return identities


async def ensure_worker(
    client: Client, task_queue: str | None = None, *, wait_s: float = 0.0
) -> None:
    """Check that a worker polls both queues of a run: `<queue>` and `<queue>-openai`.

    Args:
        client: Temporal client.
        task_queue: Main queue; `Settings.task_queue` when None.
        wait_s: Keep looking this long for a worker that is just starting.

    Raises:
        NoWorkerError: A queue has no live poller (after `wait_s`).
        TemporalUnreachableError: The server did not answer.
    """
    queue = task_queue or get_settings().task_queue
    checks: list[tuple[str, Literal["workflow", "activity"]]] = [
        (queue, "workflow"),
        (queue + OPENAI_QUEUE_SUFFIX, "activity"),
    ]
    deadline = time.monotonic() + wait_s
    for name, kind in checks:
        while True:
            try:
                pollers = await live_pollers(client, name, kind)
            except RPCError as err:
                raise TemporalUnreachableError(
                    f"cannot describe task queue {name}: {err.message}"
                ) from err
            if pollers:
                break
            if time.monotonic() >= deadline:
                raise NoWorkerError(
                    f"no worker is polling task queue {name}: start it with "
                    "`durable-runs worker` (or `durable-runs dev`)"
                )
            await asyncio.sleep(0.2)


def workflow_url(settings: Settings, client: Client, workflow_id: str) -> str:
    """The Temporal UI page of a workflow, in the namespace the client connected to (which a
    `temporal.toml` profile may have named)."""
    base = settings.temporal_ui_url.rstrip("/")
    return f"{base}/namespaces/{client.namespace}/workflows/{workflow_id}"


def is_closed(status: WorkflowExecutionStatus | None) -> bool:
    """True when an execution status is final (anything but running)."""
    return status is not None and status != WorkflowExecutionStatus.RUNNING


SEND_ATTEMPTS = 3
"""Tries of `send_message` when the session closes between its look and its Update."""


async def _chain_to_resume(handle: WorkflowHandle[Any, ChatSessionEnd]) -> tuple[bool, ChatChain]:
    """Whether the session runs now, and else the chain its last run closed with."""
    try:
        description = await handle.describe()
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            return False, ChatChain()
        raise
    if description.status == WorkflowExecutionStatus.RUNNING:
        return True, ChatChain()
    if description.status == WorkflowExecutionStatus.COMPLETED:
        end = await handle.result()
        return False, end.chain
    return False, ChatChain()  # failed, cancelled or terminated: a new chain


async def send_message(
    client: Client,
    session_id: str,
    message: str,
    *,
    request: ChatOptions | None = None,
    task_queue: str | None = None,
) -> ChatReply:
    """Send one message to chat session `session_id` and wait for the turn's answer.

    The `send` Update of `ChatSessionWorkflow` (id `chat-<session_id>`): a running session
    gets it directly (after any turn it is running); otherwise Update-with-Start starts the
    session with this message as its next turn, continuing the chain the session's last run
    closed with (an idle close), or a new chain.

    Args:
        client: A client with the pydantic data converter.
        session_id: The conversation id.
        message: The user's message (not empty).
        request: How turns run, used when this call starts the session run (a running
            session keeps its own options); defaults to `ChatOptions()`.
        task_queue: Main task queue; `Settings.task_queue` when None.

    Returns:
        The turn's reply (`status` says whether it completed, was cancelled or failed).

    Raises:
        InvalidRequestError: The session refused the message (empty).
        DurableRunsError: Temporal refused the call.
    """
    workflow_id = chat_workflow_id(session_id)
    handle: WorkflowHandle[Any, ChatSessionEnd] = client.get_workflow_handle(
        workflow_id, result_type=ChatSessionEnd
    )
    options = request or ChatOptions()
    queue = task_queue or get_settings().task_queue
    try:
        for _ in range(SEND_ATTEMPTS):
            running, chain = await _chain_to_resume(handle)
            if running:
                try:
                    reply: ChatReply = await handle.execute_update(
                        SEND_UPDATE, message, result_type=ChatReply
                    )
                    return reply
                except RPCError as err:
                    if err.status != RPCStatusCode.NOT_FOUND:
                        raise
                    continue  # it closed meanwhile: start the next run from its chain
            start: WithStartWorkflowOperation[Any, ChatSessionEnd] = WithStartWorkflowOperation(
                CHAT_WORKFLOW_TYPE,
                ChatSessionInput(session_id=session_id, options=options, chain=chain),
                id=workflow_id,
                task_queue=queue,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                result_type=ChatSessionEnd,
                static_summary=f"chat {session_id}",
            )
            started: ChatReply = await client.execute_update_with_start_workflow(
                SEND_UPDATE, message, start_workflow_operation=start, result_type=ChatReply
            )
            return started
    except WorkflowUpdateFailedError as err:
        raise InvalidRequestError(f"chat {session_id} refused the message: {err.cause}") from err
    except RPCError as err:
        raise DurableRunsError(f"cannot send to chat {session_id}: {err.message}") from err
    raise DurableRunsError(f"chat {session_id} kept closing while the message was sent")


async def chat_turns(client: Client, session_id: str) -> list[ChatTurnView]:
    """The recent turns of chat session `session_id` (query `turns`, current run only).

    Raises:
        DurableRunsError: No such session, or no worker answered.
    """
    handle = client.get_workflow_handle(chat_workflow_id(session_id))
    try:
        turns: list[ChatTurnView] = await handle.query(TURNS_QUERY, result_type=list[ChatTurnView])
    except RPCError as err:
        raise DurableRunsError(f"cannot query chat {session_id}: {err.message}") from err
    return turns


async def cancel_turn(client: Client, session_id: str) -> None:
    """Cancel the turn chat session `session_id` runs now (signal `cancel_turn`).

    The turn's `send` returns with status `cancelled`; the chain goes on from the last
    completed turn.

    Raises:
        DurableRunsError: No such session, or it closed.
    """
    handle = client.get_workflow_handle(chat_workflow_id(session_id))
    try:
        await handle.signal(CANCEL_TURN_SIGNAL)
    except RPCError as err:
        raise DurableRunsError(f"cannot cancel a turn of chat {session_id}: {err.message}") from err


async def pending_approvals(client: Client, *, limit: int = 100) -> list[PendingApproval]:
    """Tool calls that wait for a person, across runs (oldest wait first).

    Lists the runs whose `OpenAIRunStatus` is `awaiting_approval` (visibility lags a little),
    then asks each for its pending calls; a run decided meanwhile contributes none.

    Args:
        client: Temporal client.
        limit: At most this many runs are asked.
    """
    pending: list[PendingApproval] = []
    for row in await list_runs(client, status=AWAITING_APPROVAL, limit=limit):
        if row.execution_status != "RUNNING":
            continue
        try:
            view = await query_status(get_handle(client, row.workflow_id))
        except RPCError:
            continue  # it ended between the list and the query
        pending += view.pending_approvals
    return sorted(pending, key=lambda p: (p.waiting_since, p.workflow_id, p.call_id))


async def decide(
    client: Client,
    workflow_id: str,
    call_id: str,
    *,
    approve: bool,
    reason: str = "",
    edited_arguments: str | None = None,
) -> None:
    """Approve or reject a pending tool call (Workflow Update `decide`).

    Returns once the run recorded the decision; an approved call then runs as a tool
    activity (with `edited_arguments`, when given), a rejected one answers the model with
    `{"rejected": true, "reason": ...}`.

    Args:
        client: Temporal client.
        workflow_id: The run's workflow.
        call_id: The pending call's id (`pending_approvals`).
        approve: Run the tool, or reject the call.
        reason: Why; the model sees it with a rejection.
        edited_arguments: JSON object to run the tool with instead of the model's arguments.

    Raises:
        ApprovalRejectedError: The run refused it (unknown call, already decided, finished
            run, arguments not a JSON object); nothing was written to its history.
        DurableRunsError: No such workflow.
    """
    try:
        decision = ApprovalDecision(
            call_id=call_id, approve=approve, reason=reason, edited_arguments=edited_arguments
        )
    except ValidationError as err:
        raise ApprovalRejectedError(f"cannot decide {call_id}: {validation_message(err)}") from err
    handle = get_handle(client, workflow_id)
    try:
        await handle.execute_update(DECIDE_UPDATE, decision)
    except WorkflowUpdateFailedError as err:
        cause = err.cause
        message = getattr(cause, "message", None) or str(cause or err)
        raise ApprovalRejectedError(f"{workflow_id}: {message}") from err
    except RPCError as err:
        if "completed" in err.message or "closed" in err.message:
            raise ApprovalRejectedError(
                f"{workflow_id}: the run has finished; call {call_id} can no longer be decided"
            ) from err
        raise DurableRunsError(f"cannot decide {call_id} on {workflow_id}: {err.message}") from err
