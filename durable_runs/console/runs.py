"""The runs pages: the list with live status, one run's detail, and its cancel button."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from durable_runs.client import (
    DurableRunsError,
    RunRow,
    cancel_run,
    get_status,
    list_runs,
    workflow_url,
)
from durable_runs.console.dependencies import State
from durable_runs.console.notices import redirect_with

router = APIRouter()

RUNS_SHOWN = 50
"""Rows of the runs table (newest first)."""


def _filters(request: Request) -> dict[str, str]:
    """The table's filters from the query string (`status`, `backend`, `task_queue`)."""
    names = ("status", "backend", "task_queue")
    return {name: request.query_params[name] for name in names if request.query_params.get(name)}


async def _runs_context(request: Request, state: State) -> dict[str, object]:
    filters = _filters(request)
    rows: list[RunRow] = []
    error = None
    try:
        rows = await list_runs(
            state.client,
            status=filters.get("status"),
            backend=filters.get("backend"),  # type: ignore[arg-type]
            task_queue=filters.get("task_queue"),
            limit=RUNS_SHOWN,
        )
    except DurableRunsError as err:
        error = str(err)
    links = {
        row.workflow_id: workflow_url(state.settings, state.client, row.workflow_id) for row in rows
    }
    return {"rows": rows, "links": links, "error": error, "query": urlencode(filters)}


@router.get("/", response_class=HTMLResponse)
async def runs_page(request: Request, state: State) -> HTMLResponse:
    """The runs table, refreshed every 2 s by the page's script."""
    context = await _runs_context(request, state)
    return state.templates.TemplateResponse(request, "runs.html", context)


@router.get("/fragments/runs", response_class=HTMLResponse)
async def runs_fragment(request: Request, state: State) -> HTMLResponse:
    """The runs table alone (what the refresh fetches)."""
    context = await _runs_context(request, state)
    return state.templates.TemplateResponse(request, "runs_table.html", context)


async def _run_context(workflow_id: str, state: State) -> dict[str, object]:
    try:
        view = await get_status(state.client, workflow_id)
    except DurableRunsError as err:
        return {"workflow_id": workflow_id, "view": None, "error": str(err)}
    description = await state.client.get_workflow_handle(workflow_id).describe()
    execution = description.status.name if description.status is not None else "UNKNOWN"
    return {
        "workflow_id": workflow_id,
        "view": view,
        "execution_status": execution,
        "closed": execution != "RUNNING",
        "url": workflow_url(state.settings, state.client, workflow_id),
        "error": None,
    }


@router.get("/runs/{workflow_id}", response_class=HTMLResponse)
async def run_page(request: Request, workflow_id: str, state: State) -> HTMLResponse:
    """One run: what its `status` query says now, a link to the Temporal UI, a cancel button."""
    context = await _run_context(workflow_id, state)
    return state.templates.TemplateResponse(request, "run.html", context)


@router.get("/fragments/runs/{workflow_id}", response_class=HTMLResponse)
async def run_fragment(request: Request, workflow_id: str, state: State) -> HTMLResponse:
    """One run's detail alone (what the refresh fetches)."""
    context = await _run_context(workflow_id, state)
    return state.templates.TemplateResponse(request, "run_detail.html", context)


@router.post("/runs/{workflow_id}/cancel")
async def cancel(workflow_id: str, state: State) -> RedirectResponse:
    """Request the run's cancellation, then show the run again."""
    try:
        await cancel_run(state.client, workflow_id)
    except DurableRunsError as err:
        return redirect_with(f"/runs/{workflow_id}", error=str(err))
    return redirect_with(f"/runs/{workflow_id}", notice=f"cancellation of {workflow_id} requested")
