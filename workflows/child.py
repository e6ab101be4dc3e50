"""Run an assistant from your own workflow: `RunWorkflow` as a child workflow.

Call these from inside a workflow (they use `temporalio.workflow` and do nothing at import time,
so business workflows may import this module freely)::

    result = await run_assistant(RunRequest(messages=["..."]), name="classify")

The request's backend defaults to Responses (background mode, what api.openai.com serves); set
`backend="assistants"` for the seed's API on an Assistants-compatible server or the emulator.
The request is validated when it is built, in the parent: a bad one raises
`pydantic.ValidationError` there, before any child starts.

The child's id is `<parent workflow id>/<name>`: readable in the UI, and stable across replays
and retries, so a restarted parent finds its child instead of starting a second run. Cancelling
the parent cancels the child, and the parent waits until the child has cancelled the run at the
API (`WAIT_CANCELLATION_COMPLETED`), so no run is left spending tokens after the parent ends.
"""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from durable_runs import search_attributes as sa
    from durable_runs.models import RunRequest, RunResult

from durable_runs.workflows.run import RunWorkflow

SUMMARY_PREVIEW_CHARS = 60
"""How much of the first message the default child summary shows."""


def child_id(name: str) -> str:
    """The child workflow id for `name`: `<current workflow id>/<name>`."""
    return f"{workflow.info().workflow_id}/{name}"


def default_summary(request: RunRequest, name: str) -> str:
    """A one-line summary for the UI: name, backend and the start of the first message."""
    first = request.messages[0] if request.messages else ""
    preview = " ".join(first.split())
    if len(preview) > SUMMARY_PREVIEW_CHARS:
        preview = preview[: SUMMARY_PREVIEW_CHARS - 1] + "…"
    return f"{name} · {request.backend}" + (f" · {preview}" if preview else "")


async def start_assistant(
    request: RunRequest,
    *,
    name: str,
    summary: str | None = None,
    task_queue: str | None = None,
) -> workflow.ChildWorkflowHandle[RunWorkflow, RunResult]:
    """Start an assistant run as a child workflow and return its handle.

    Use this form to run several assistants in parallel or to signal the child; `await` the
    handle for its `RunResult`.

    Args:
        request: What to ask, with which tools and policies.
        name: Unique among this workflow's children; the child id is `<workflow id>/<name>`.
        summary: Static summary shown in the UI (defaults to name, backend and message preview).
        task_queue: Queue of the child (defaults to the parent's).

    Returns:
        The started child's handle.
    """
    return await workflow.start_child_workflow(
        RunWorkflow.run,
        request,
        id=child_id(name),
        task_queue=task_queue,
        parent_close_policy=workflow.ParentClosePolicy.REQUEST_CANCEL,
        cancellation_type=workflow.ChildWorkflowCancellationType.WAIT_CANCELLATION_COMPLETED,
        search_attributes=sa.at_start(request.backend),
        static_summary=summary or default_summary(request, name),
    )


async def run_assistant(
    request: RunRequest,
    *,
    name: str,
    summary: str | None = None,
    task_queue: str | None = None,
) -> RunResult:
    """Run an assistant as a child workflow and return its result.

    Args:
        request: What to ask, with which tools and policies.
        name: Unique among this workflow's children; the child id is `<workflow id>/<name>`.
        summary: Static summary shown in the UI (defaults to name, backend and message preview).
        task_queue: Queue of the child (defaults to the parent's).

    Returns:
        The child's `RunResult` (any final status: check `result.status`).

    Raises:
        temporalio.exceptions.ChildWorkflowError: The child workflow failed (e.g. a fatal tool).
        asyncio.CancelledError: This workflow was cancelled (the child's run is cancelled first).
    """
    handle = await start_assistant(request, name=name, summary=summary, task_queue=task_queue)
    return await handle
