"""The approvals page: tool calls waiting for a person, with Approve and Reject buttons."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from durable_runs.client import DurableRunsError, decide, pending_approvals, workflow_url
from durable_runs.console.dependencies import Form, State
from durable_runs.console.notices import redirect_with
from durable_runs.models import PendingApproval

router = APIRouter()


async def _approvals_context(state: State) -> dict[str, object]:
    calls: list[PendingApproval] = []
    error = None
    try:
        calls = await pending_approvals(state.client)
    except DurableRunsError as err:
        error = str(err)
    links = {
        c.workflow_id: workflow_url(state.settings, state.client, c.workflow_id) for c in calls
    }
    return {"calls": calls, "links": links, "error": error}


@router.get("/approvals", response_class=HTMLResponse)
async def approvals_page(request: Request, state: State) -> HTMLResponse:
    """Pending tool calls across runs, oldest wait first, refreshed every 2 s."""
    context = await _approvals_context(state)
    return state.templates.TemplateResponse(request, "approvals.html", context)


@router.get("/fragments/approvals", response_class=HTMLResponse)
async def approvals_fragment(request: Request, state: State) -> HTMLResponse:
    """The pending calls alone (what the refresh fetches)."""
    context = await _approvals_context(state)
    return state.templates.TemplateResponse(request, "approvals_table.html", context)


@router.post("/approvals/decide")
async def decide_call(form: Form, state: State) -> RedirectResponse:
    """Approve or reject one pending call (fields `workflow_id`, `call_id`, `decision`,
    `reason`), then show the approvals again with the outcome."""
    workflow_id, call_id = form.get("workflow_id", ""), form.get("call_id", "")
    decision = form.get("decision")
    if decision not in ("approve", "reject") or not workflow_id or not call_id:
        return redirect_with(
            "/approvals", error="a decision names a run, a call and approve/reject"
        )
    try:
        await decide(
            state.client,
            workflow_id,
            call_id,
            approve=decision == "approve",
            reason=form.get("reason", ""),
        )
    except DurableRunsError as err:
        return redirect_with("/approvals", error=str(err))
    done = "approved" if decision == "approve" else "rejected"
    return redirect_with("/approvals", notice=f"{done} call {call_id} of {workflow_id}")
