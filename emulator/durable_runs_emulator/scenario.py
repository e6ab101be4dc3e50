"""Scenario knobs: timing, outcome, tool plan and faults, read from object metadata.

Every knob is a metadata key starting with `emu_` whose value is a string (metadata values are
strings in the API). A run reads its own metadata first and falls back to its assistant's
metadata; a response reads only its own.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from durable_runs_emulator.errors import bad_request

Outcome = Literal["completed", "failed", "incomplete", "expired", "stay_queued"]
OUTCOMES: tuple[Outcome, ...] = ("completed", "failed", "incomplete", "expired", "stay_queued")


@dataclass(frozen=True)
class PlannedCall:
    """One function call the scenario makes the model ask for."""

    name: str
    arguments: dict[str, Any]


@dataclass(frozen=True)
class Scenario:
    """The knobs of one run or response (the README section "Scenario knobs" has the table)."""

    queued_ms: float = 100.0
    duration_ms: float = 400.0
    outcome: Outcome = "completed"
    error_code: str = "server_error"
    error_message: str = "Sorry, something went wrong."
    expires_after_ms: float = 600_000.0
    cancel_ms: float | None = None
    rate_limit_next: int = 0
    retry_after_ms: float = 1000.0
    server_error_next: int = 0
    server_error_status: int = 500
    create_rate_limit: int = 0
    create_lose_response: int = 0
    poll_after_ms: int | None = None
    tool_plan: tuple[tuple[PlannedCall, ...], ...] | None = None
    answer_chars: int | None = None
    webhook_faults: tuple[str, ...] = field(default_factory=tuple)


def _number(values: Mapping[str, str], key: str, default: float) -> float:
    raw = values.get(key)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise bad_request(f"Invalid value for metadata {key}: {raw!r} is not a number.") from None
    if value < 0:
        raise bad_request(f"Invalid value for metadata {key}: must not be negative.")
    return value


def _int(values: Mapping[str, str], key: str, default: int) -> int:
    return int(_number(values, key, default))


def parse_tool_plan(raw: str) -> tuple[tuple[PlannedCall, ...], ...]:
    """Parse `emu_tool_plan`: a JSON list of rounds, each a list of `{"name", "arguments"}`.

    Raises:
        APIError: 400 when the plan is not of that shape.
    """
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        raise bad_request("Invalid value for metadata emu_tool_plan: not JSON.") from None
    if not isinstance(value, list):
        raise bad_request("Invalid value for metadata emu_tool_plan: expected a list of rounds.")
    rounds: list[tuple[PlannedCall, ...]] = []
    for round_ in value:
        calls = round_ if isinstance(round_, list) else [round_]
        parsed: list[PlannedCall] = []
        for call in calls:
            if not isinstance(call, dict) or not isinstance(call.get("name"), str):
                raise bad_request(
                    "Invalid value for metadata emu_tool_plan: each call needs a string 'name'."
                )
            arguments = call.get("arguments", {})
            if not isinstance(arguments, dict):
                raise bad_request(
                    "Invalid value for metadata emu_tool_plan: 'arguments' must be an object."
                )
            parsed.append(PlannedCall(name=call["name"], arguments=arguments))
        if parsed:
            rounds.append(tuple(parsed))
    return tuple(rounds)


def parse_scenario(
    metadata: Mapping[str, str] | None, defaults: Mapping[str, str] | None = None
) -> Scenario:
    """Build the scenario of an object from its metadata, falling back to `defaults`.

    Args:
        metadata: The object's own metadata (run or response).
        defaults: Fallback metadata (the assistant's, for a run).

    Returns:
        The parsed knobs.

    Raises:
        APIError: 400 when a knob has an invalid value.
    """
    values: dict[str, str] = {**(defaults or {}), **(metadata or {})}
    outcome = values.get("emu_outcome", "completed") or "completed"
    if outcome not in OUTCOMES:
        raise bad_request(
            f"Invalid value for metadata emu_outcome: {outcome!r}; expected one of "
            + ", ".join(OUTCOMES)
            + "."
        )
    status = _int(values, "emu_server_error_status", 500)
    if status < 500 or status > 599:
        raise bad_request("Invalid value for metadata emu_server_error_status: expected 5xx.")
    plan_raw = values.get("emu_tool_plan")
    poll_raw = values.get("emu_poll_after_ms")
    cancel_raw = values.get("emu_cancel_ms")
    answer_raw = values.get("emu_answer_chars")
    faults = tuple(
        part.strip() for part in values.get("emu_webhook", "").split(",") if part.strip()
    )
    return Scenario(
        queued_ms=_number(values, "emu_queued_ms", 100.0),
        duration_ms=_number(values, "emu_duration_ms", 400.0),
        outcome=outcome,
        error_code=values.get("emu_error_code") or "server_error",
        error_message=values.get("emu_error_message") or "Sorry, something went wrong.",
        expires_after_ms=_number(values, "emu_expires_after_ms", 600_000.0),
        cancel_ms=_number(values, "emu_cancel_ms", 0.0) if cancel_raw else None,
        rate_limit_next=_int(values, "emu_rate_limit_next", 0),
        retry_after_ms=_number(values, "emu_retry_after_ms", 1000.0),
        server_error_next=_int(values, "emu_server_error_next", 0),
        server_error_status=status,
        create_rate_limit=_int(values, "emu_create_rate_limit", 0),
        create_lose_response=_int(values, "emu_create_lose_response", 0),
        poll_after_ms=_int(values, "emu_poll_after_ms", 0) if poll_raw else None,
        tool_plan=parse_tool_plan(plan_raw) if plan_raw else None,
        answer_chars=_int(values, "emu_answer_chars", 0) if answer_raw else None,
        webhook_faults=faults,
    )
