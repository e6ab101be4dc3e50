"""The chat page: a session's recent turns and a message box (each message is one turn)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request, status
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from temporalio.service import RPCError, RPCStatusCode

from durable_runs.client import DurableRunsError, chat_turns, send_message
from durable_runs.console.dependencies import Form, State
from durable_runs.console.notices import redirect_with
from durable_runs.models import ChatTurnView

router = APIRouter()

BACKGROUND_HEADER = "x-console-background"
"""Sent by the page script when it posts a form itself: it wants the outcome as text."""


@router.get("/chat", response_model=None)
async def chat_start(request: Request, state: State) -> Response:
    """Open a session: `?session=ID` goes to its page; without it, a form to name one."""
    session = request.query_params.get("session", "").strip()
    if session:
        return redirect_with(f"/chat/{session}")
    context = {"session_id": None, "new_session": uuid.uuid4().hex[:8]}
    return state.templates.TemplateResponse(request, "chat.html", context)


async def _turns_context(session_id: str, state: State) -> dict[str, object]:
    turns: list[ChatTurnView] = []
    error = None
    try:
        turns = await chat_turns(state.client, session_id)
    except DurableRunsError as err:
        cause = err.__cause__
        # A session that has no run yet (or closed when idle) simply shows no turns.
        if not (isinstance(cause, RPCError) and cause.status == RPCStatusCode.NOT_FOUND):
            error = str(err)
    return {"session_id": session_id, "turns": turns, "error": error}


@router.get("/chat/{session_id}", response_class=HTMLResponse)
async def chat_page(request: Request, session_id: str, state: State) -> HTMLResponse:
    """A session's recent turns (refreshed every second) and the message box."""
    context = await _turns_context(session_id, state)
    return state.templates.TemplateResponse(request, "chat.html", context)


@router.get("/fragments/chat/{session_id}", response_class=HTMLResponse)
async def chat_fragment(request: Request, session_id: str, state: State) -> HTMLResponse:
    """The turns alone (what the refresh fetches)."""
    context = await _turns_context(session_id, state)
    return state.templates.TemplateResponse(request, "chat_turns.html", context)


@router.post("/chat/{session_id}", response_model=None)
async def chat_send(request: Request, session_id: str, form: Form, state: State) -> Response:
    """Send one message and wait for its turn to end.

    The page script posts in the background and shows the running turn meanwhile; a browser
    without the script waits on the form and lands back on the session's page.
    """
    background = BACKGROUND_HEADER in request.headers
    message = form.get("message", "").strip()
    try:
        if not message:
            raise DurableRunsError("the message is empty")
        await send_message(state.client, session_id, message, task_queue=state.settings.task_queue)
    except DurableRunsError as err:
        if background:
            return PlainTextResponse(str(err), status_code=status.HTTP_409_CONFLICT)
        return redirect_with(f"/chat/{session_id}", error=str(err))
    if background:
        return PlainTextResponse("sent")
    return RedirectResponse(f"/chat/{session_id}", status_code=status.HTTP_303_SEE_OTHER)
