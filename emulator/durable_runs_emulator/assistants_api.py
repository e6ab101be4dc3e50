"""Assistants API routes: assistants, threads, messages and runs (all under `/v1`)."""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse

from durable_runs_emulator import runs
from durable_runs_emulator.errors import bad_request, not_found, rate_limited, server_error
from durable_runs_emulator.ids import new_id
from durable_runs_emulator.pagination import paginate
from durable_runs_emulator.scenario import parse_scenario
from durable_runs_emulator.state import EmulatorState, check_object_faults, get_state
from durable_runs_emulator.store import AssistantRecord, MessageRecord, RunRecord, ThreadRecord
from durable_runs_emulator.tagging import tag
from durable_runs_emulator.validation import (
    check_metadata,
    check_model,
    message_content,
    normalize_tools,
    read_json,
    required_string,
)

router = APIRouter(prefix="/v1")
State = Annotated[EmulatorState, Depends(get_state)]
Limit = Annotated[int, Query()]
Cursor = Annotated[str | None, Query()]

_RUN_OPTIONS = (
    "temperature",
    "top_p",
    "max_prompt_tokens",
    "max_completion_tokens",
    "truncation_strategy",
    "tool_choice",
    "parallel_tool_calls",
    "response_format",
)


# --- assistants -------------------------------------------------------------------------------


@router.post("/assistants")
async def create_assistant(request: Request, state: State) -> dict[str, Any]:
    """Create an assistant."""
    tag(request, "create_assistant")
    body = await read_json(request)
    model = required_string(body, "model")
    check_model(state.config, model)
    metadata = check_metadata(body.get("metadata"))
    parse_scenario(metadata)  # reject invalid knob defaults up front
    assistant = AssistantRecord(
        id=new_id("asst"),
        created_at=time.time(),
        model=model,
        name=body.get("name"),
        description=body.get("description"),
        instructions=body.get("instructions"),
        tools=normalize_tools(body.get("tools")),
        metadata=metadata,
        temperature=body.get("temperature", 1.0),
        top_p=body.get("top_p", 1.0),
        response_format=body.get("response_format", "auto"),
        tool_resources=body.get("tool_resources") or {},
    )
    state.store.assistants[assistant.id] = assistant
    return assistant.to_dict()


@router.get("/assistants")
async def list_assistants(
    request: Request,
    state: State,
    limit: Limit = 20,
    order: str = "desc",
    after: Cursor = None,
    before: Cursor = None,
) -> dict[str, Any]:
    """List assistants."""
    tag(request, "list_assistants")
    return paginate(
        list(state.store.assistants.values()),
        to_dict=AssistantRecord.to_dict,
        key=lambda a: a.id,
        limit=limit,
        order=order,
        after=after,
        before=before,
    )


@router.get("/assistants/{assistant_id}")
async def retrieve_assistant(request: Request, state: State, assistant_id: str) -> dict[str, Any]:
    """Retrieve an assistant."""
    tag(request, "retrieve_assistant")
    return state.store.assistant(assistant_id).to_dict()


@router.delete("/assistants/{assistant_id}")
async def delete_assistant(request: Request, state: State, assistant_id: str) -> dict[str, Any]:
    """Delete an assistant."""
    tag(request, "delete_assistant")
    state.store.assistant(assistant_id)
    del state.store.assistants[assistant_id]
    return {"id": assistant_id, "object": "assistant.deleted", "deleted": True}


# --- threads and messages ---------------------------------------------------------------------


def _add_messages(state: EmulatorState, thread: ThreadRecord, messages: Any, param: str) -> None:
    if messages is None:
        return
    if not isinstance(messages, list):
        raise bad_request(f"Invalid type for '{param}': expected an array.", param=param)
    for index, message in enumerate(messages):
        where = f"{param}[{index}]"
        if not isinstance(message, dict):
            raise bad_request(f"Invalid type for '{where}': expected an object.", param=where)
        role = message.get("role")
        if role not in ("user", "assistant"):
            raise bad_request(
                f"Invalid value: '{role}'. Supported values are: 'user' and 'assistant'.",
                param=f"{where}.role",
                code="invalid_value",
            )
        state.store.add_message(
            thread,
            role=role,
            content=message_content(message.get("content"), param=f"{where}.content"),
            attachments=message.get("attachments") or [],
            metadata=check_metadata(message.get("metadata"), param=f"{where}.metadata"),
        )


@router.post("/threads")
async def create_thread(request: Request, state: State) -> dict[str, Any]:
    """Create a thread, optionally with messages."""
    tag(request, "create_thread")
    body = await read_json(request)
    thread = ThreadRecord(
        id=new_id("thread"),
        created_at=time.time(),
        metadata=check_metadata(body.get("metadata")),
        tool_resources=body.get("tool_resources") or {},
    )
    _add_messages(state, thread, body.get("messages"), "messages")
    state.store.threads[thread.id] = thread
    return thread.to_dict()


@router.get("/threads/{thread_id}")
async def retrieve_thread(request: Request, state: State, thread_id: str) -> dict[str, Any]:
    """Retrieve a thread."""
    tag(request, "retrieve_thread")
    return state.store.thread(thread_id).to_dict()


@router.delete("/threads/{thread_id}")
async def delete_thread(request: Request, state: State, thread_id: str) -> dict[str, Any]:
    """Delete a thread."""
    tag(request, "delete_thread")
    state.store.thread(thread_id)
    del state.store.threads[thread_id]
    return {"id": thread_id, "object": "thread.deleted", "deleted": True}


@router.post("/threads/{thread_id}/messages")
async def create_message(request: Request, state: State, thread_id: str) -> dict[str, Any]:
    """Add a message to a thread (refused while a run is active)."""
    tag(request, "create_message")
    thread = state.store.thread(thread_id)
    body = await read_json(request)
    active = state.store.active_run(thread)
    if active is not None:
        raise bad_request(f"Can't add messages to {thread.id} while a run {active.id} is active.")
    role = body.get("role")
    if role not in ("user", "assistant"):
        raise bad_request(
            f"Invalid value: '{role}'. Supported values are: 'user' and 'assistant'.",
            param="role",
            code="invalid_value",
        )
    message = state.store.add_message(
        thread,
        role=role,
        content=message_content(body.get("content")),
        attachments=body.get("attachments") or [],
        metadata=check_metadata(body.get("metadata")),
    )
    return message.to_dict()


@router.get("/threads/{thread_id}/messages")
async def list_messages(
    request: Request,
    state: State,
    thread_id: str,
    limit: Limit = 20,
    order: str = "desc",
    after: Cursor = None,
    before: Cursor = None,
    run_id: Cursor = None,
) -> dict[str, Any]:
    """List a thread's messages (optionally only those a run created)."""
    tag(request, "list_messages")
    thread = state.store.thread(thread_id)
    messages = thread.messages
    if run_id is not None:
        run = state.store.runs.get(run_id)
        if run is not None and run.thread_id == thread.id:
            tag(request, "list_messages", run.ref)
            check_object_faults(run, model=run.model)
        messages = [m for m in messages if m.run_id == run_id]
    return paginate(
        messages,
        to_dict=MessageRecord.to_dict,
        key=lambda m: m.id,
        limit=limit,
        order=order,
        after=after,
        before=before,
    )


@router.get("/threads/{thread_id}/messages/{message_id}")
async def retrieve_message(
    request: Request, state: State, thread_id: str, message_id: str
) -> dict[str, Any]:
    """Retrieve one message."""
    tag(request, "retrieve_message")
    thread = state.store.thread(thread_id)
    for message in thread.messages:
        if message.id == message_id:
            return message.to_dict()
    raise not_found("message", message_id)


# --- runs -------------------------------------------------------------------------------------


def _create_faults(
    state: EmulatorState, thread_id: str, metadata: dict[str, str]
) -> tuple[str, int]:
    """Count create attempts per (thread, workflow, step); returns the key and attempt number."""
    key = "|".join(
        (thread_id, metadata.get("temporal_workflow_id", ""), metadata.get("durable_runs_step", ""))
    )
    attempts = state.store.create_attempts.get(key, 0) + 1
    state.store.create_attempts[key] = attempts
    return key, attempts


@router.post("/threads/{thread_id}/runs")
async def create_run(request: Request, state: State, thread_id: str) -> JSONResponse:
    """Create a run: it starts `queued` and moves on by its scenario."""
    tag(request, "create_run")
    thread = state.store.thread(thread_id)
    body = await read_json(request)
    assistant = state.store.assistant(required_string(body, "assistant_id"))
    if body.get("stream"):
        raise bad_request("Streaming is not supported by the emulator.", param="stream")
    check_model(state.config, body.get("model"))
    metadata = check_metadata(body.get("metadata"))
    scenario = parse_scenario(metadata, assistant.metadata)
    attempt = 0
    if scenario.create_rate_limit or scenario.create_lose_response:
        _, attempt = _create_faults(state, thread.id, metadata)
        if attempt <= scenario.create_rate_limit:
            raise rate_limited(scenario.retry_after_ms, model=body.get("model") or assistant.model)
    active = state.store.active_run(thread)
    if active is not None:
        raise bad_request(f"Thread {thread.id} already has an active run {active.id}.")
    _add_messages(state, thread, body.get("additional_messages"), "additional_messages")
    instructions = body.get("instructions")
    if instructions is None:
        instructions = assistant.instructions or ""
    if body.get("additional_instructions"):
        instructions = f"{instructions}\n{body['additional_instructions']}".strip()
    now = time.time()
    options = {name: body[name] for name in _RUN_OPTIONS if body.get(name) is not None}
    options.setdefault("temperature", assistant.temperature)
    options.setdefault("top_p", assistant.top_p)
    options.setdefault("response_format", assistant.response_format)
    run = RunRecord(
        id=new_id("run"),
        thread_id=thread.id,
        assistant_id=assistant.id,
        created_at=now,
        model=body.get("model") or assistant.model,
        instructions=instructions,
        tools=normalize_tools(body["tools"]) if body.get("tools") is not None else assistant.tools,
        metadata=metadata,
        scenario=scenario,
        options=options,
        expires_at=now + scenario.expires_after_ms / 1000.0,
        rate_limit_left=scenario.rate_limit_next,
        server_error_left=scenario.server_error_next,
    )
    state.store.runs[run.id] = run
    thread.runs.append(run.id)
    state.stats.register(run.ref)
    tag(request, "create_run", run.ref)
    runs.start_run(state, run)
    if attempt and attempt <= scenario.create_rate_limit + scenario.create_lose_response:
        raise server_error(500)
    return JSONResponse(run.to_dict())


@router.get("/threads/{thread_id}/runs")
async def list_runs(
    request: Request,
    state: State,
    thread_id: str,
    limit: Limit = 20,
    order: str = "desc",
    after: Cursor = None,
    before: Cursor = None,
) -> dict[str, Any]:
    """List a thread's runs."""
    tag(request, "list_runs")
    thread = state.store.thread(thread_id)
    return paginate(
        [state.store.runs[run_id] for run_id in thread.runs],
        to_dict=RunRecord.to_dict,
        key=lambda r: r.id,
        limit=limit,
        order=order,
        after=after,
        before=before,
    )


def _run_response(run: RunRecord) -> JSONResponse:
    headers = {}
    if run.scenario.poll_after_ms is not None:
        headers["openai-poll-after-ms"] = str(run.scenario.poll_after_ms)
    return JSONResponse(run.to_dict(), headers=headers)


@router.get("/threads/{thread_id}/runs/{run_id}")
async def retrieve_run(request: Request, state: State, thread_id: str, run_id: str) -> JSONResponse:
    """Retrieve a run (with the `openai-poll-after-ms` hint when scripted)."""
    tag(request, "retrieve_run")
    run = state.store.run(thread_id, run_id)
    tag(request, "retrieve_run", run.ref)
    check_object_faults(run, model=run.model)
    return _run_response(run)


@router.post("/threads/{thread_id}/runs/{run_id}/cancel")
async def cancel_run(request: Request, state: State, thread_id: str, run_id: str) -> JSONResponse:
    """Cancel a run (answers `cancelling`)."""
    tag(request, "cancel_run")
    run = state.store.run(thread_id, run_id)
    tag(request, "cancel_run", run.ref)
    check_object_faults(run, model=run.model)
    runs.request_cancel(state, run)
    return JSONResponse(run.to_dict())


@router.post("/threads/{thread_id}/runs/{run_id}/submit_tool_outputs")
async def submit_tool_outputs(
    request: Request, state: State, thread_id: str, run_id: str
) -> JSONResponse:
    """Submit the outputs of a run's pending tool calls."""
    tag(request, "submit_tool_outputs")
    run = state.store.run(thread_id, run_id)
    tag(request, "submit_tool_outputs", run.ref)
    body = await read_json(request)
    check_object_faults(run, model=run.model)
    if body.get("stream"):
        raise bad_request("Streaming is not supported by the emulator.", param="stream")
    outputs = body.get("tool_outputs")
    if not isinstance(outputs, list):
        raise bad_request(
            "Missing required parameter: 'tool_outputs'.",
            param="tool_outputs",
            code="missing_required_parameter",
        )
    checked: list[dict[str, str]] = []
    for index, output in enumerate(outputs):
        if not isinstance(output, dict):
            raise bad_request(
                f"Invalid type for 'tool_outputs[{index}]': expected an object.",
                param=f"tool_outputs[{index}]",
            )
        checked.append(output)
    runs.submit_outputs(state, run, checked)
    return JSONResponse(run.to_dict())
