"""Responses API routes: create (background or not), retrieve, cancel."""

from __future__ import annotations

import asyncio
import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from durable_runs_emulator import response_lifecycle
from durable_runs_emulator.errors import APIError, bad_request, rate_limited, server_error
from durable_runs_emulator.ids import new_hex_id
from durable_runs_emulator.responses import ResponseRecord
from durable_runs_emulator.scenario import parse_scenario
from durable_runs_emulator.state import EmulatorState, check_object_faults, get_state
from durable_runs_emulator.tagging import tag
from durable_runs_emulator.validation import check_metadata, check_model, read_json

router = APIRouter(prefix="/v1")
State = Annotated[EmulatorState, Depends(get_state)]

_OPTIONS = (
    "temperature",
    "top_p",
    "tool_choice",
    "parallel_tool_calls",
    "max_output_tokens",
    "max_tool_calls",
    "text",
)


def response_not_found(response_id: str) -> APIError:
    """404 for an unknown response id."""
    return APIError(404, f"Response with id '{response_id}' not found.", param="response_id")


def _tools(value: Any) -> list[dict[str, Any]]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise bad_request("Invalid type for 'tools': expected an array.", param="tools")
    tools: list[dict[str, Any]] = []
    for index, tool in enumerate(value):
        if not isinstance(tool, dict) or tool.get("type") != "function":
            tools.append(tool if isinstance(tool, dict) else {})
            continue
        if not isinstance(tool.get("name"), str) or not tool["name"]:
            raise bad_request(
                f"Missing required parameter: 'tools[{index}].name'.",
                param=f"tools[{index}].name",
                code="missing_required_parameter",
            )
        tools.append(
            {
                "type": "function",
                "name": tool["name"],
                "description": tool.get("description"),
                "parameters": tool.get("parameters") or {"type": "object", "properties": {}},
                "strict": tool.get("strict", True),
            }
        )
    return tools


def _input_items(value: Any) -> list[dict[str, Any]]:
    if value is None:
        return []
    if isinstance(value, str):
        return [{"type": "message", "role": "user", "content": value}]
    if not isinstance(value, list):
        raise bad_request("Invalid type for 'input': expected a string or an array.", param="input")
    items: list[dict[str, Any]] = []
    for index, item in enumerate(value):
        if not isinstance(item, dict):
            raise bad_request(f"Invalid type for 'input[{index}]'.", param=f"input[{index}]")
        kind = item.get("type", "message")
        if kind == "function_call_output" and not item.get("call_id"):
            raise bad_request(
                f"Missing required parameter: 'input[{index}].call_id'.",
                param=f"input[{index}].call_id",
                code="missing_required_parameter",
            )
        items.append({**item, "type": kind})
    return items


def _check_tool_outputs(
    state: EmulatorState, previous: ResponseRecord | None, items: list[dict[str, Any]]
) -> None:
    given = {str(i["call_id"]) for i in items if i["type"] == "function_call_output"}
    known = {str(i.get("call_id")) for i in items if i["type"] == "function_call"}
    current = previous
    while current is not None:
        known.update(call["call_id"] for call in current.function_calls)
        parent = current.previous_response_id
        current = state.responses.get(parent) if parent else None
    for call_id in sorted(given - known):
        raise bad_request(
            f"No tool call found for function call output with call_id {call_id}.",
            param="input",
        )
    if previous is not None:
        for call in previous.function_calls:
            if call["call_id"] not in given:
                raise bad_request(
                    f"No tool output found for function call {call['call_id']}.", param="input"
                )


@router.post("/responses")
async def create_response(request: Request, state: State) -> JSONResponse:
    """Create a response; background ones start `queued` and move on by their scenario."""
    tag(request, "create_response")
    body = await read_json(request)
    if body.get("stream"):
        raise bad_request("Streaming is not supported by the emulator.", param="stream")
    check_model(state.config, body.get("model"))
    metadata = check_metadata(body.get("metadata"))
    scenario = parse_scenario(metadata)
    if scenario.outcome == "expired":
        raise bad_request(
            "Invalid value for metadata emu_outcome: responses cannot expire.",
            param="metadata",
        )
    background = bool(body.get("background"))
    store = body.get("store", True) is not False
    if background and not store:
        raise bad_request("Background mode requires store=true.", param="store")
    previous_id = body.get("previous_response_id")
    previous = None
    if previous_id is not None:
        previous = state.responses.get(previous_id)
        if previous is None:
            raise APIError(
                400,
                f"Previous response with id '{previous_id}' not found.",
                param="previous_response_id",
                code="previous_response_not_found",
            )
    items = _input_items(body.get("input"))
    if not items and previous is None:
        raise bad_request(
            "Missing required parameter: 'input'.", param="input", code="missing_required_parameter"
        )
    _check_tool_outputs(state, previous, items)
    attempt = 0
    if scenario.create_rate_limit or scenario.create_lose_response:
        key = "|".join(
            (metadata.get("temporal_workflow_id", ""), metadata.get("durable_runs_step", ""))
        )
        attempt = state.response_create_attempts.get(key, 0) + 1
        state.response_create_attempts[key] = attempt
        if attempt <= scenario.create_rate_limit:
            raise rate_limited(scenario.retry_after_ms, model=body.get("model") or "gpt-4o-mini")
    record = ResponseRecord(
        id=new_hex_id("resp"),
        created_at=time.time(),
        model=body.get("model") or state.config.default_model,
        instructions=body.get("instructions"),
        input_items=items,
        tools=_tools(body.get("tools")),
        metadata=metadata,
        scenario=scenario,
        background=background,
        store=store,
        previous_response_id=previous_id,
        options={name: body[name] for name in _OPTIONS if body.get(name) is not None},
        rate_limit_left=scenario.rate_limit_next,
        server_error_left=scenario.server_error_next,
    )
    state.responses[record.id] = record
    state.stats.register(record.ref)
    tag(request, "create_response", record.ref)
    task = response_lifecycle.start(state, record)
    if not background:
        await asyncio.shield(task)
    if attempt and attempt <= scenario.create_rate_limit + scenario.create_lose_response:
        raise server_error(500)
    return JSONResponse(record.to_dict())


def _lookup(state: EmulatorState, response_id: str) -> ResponseRecord:
    record = state.responses.get(response_id)
    if record is None or not record.store:
        raise response_not_found(response_id)
    return record


@router.get("/responses/{response_id}")
async def retrieve_response(request: Request, state: State, response_id: str) -> JSONResponse:
    """Retrieve a response (with the `openai-poll-after-ms` hint when scripted)."""
    tag(request, "retrieve_response")
    record = _lookup(state, response_id)
    tag(request, "retrieve_response", record.ref)
    check_object_faults(record, model=record.model)
    headers = {}
    if record.scenario.poll_after_ms is not None:
        headers["openai-poll-after-ms"] = str(record.scenario.poll_after_ms)
    return JSONResponse(record.to_dict(), headers=headers)


@router.post("/responses/{response_id}/cancel")
async def cancel_response(request: Request, state: State, response_id: str) -> JSONResponse:
    """Cancel a background response."""
    tag(request, "cancel_response")
    record = _lookup(state, response_id)
    tag(request, "cancel_response", record.ref)
    check_object_faults(record, model=record.model)
    response_lifecycle.cancel(state, record)
    return JSONResponse(record.to_dict())
