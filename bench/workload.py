"""The benchmark workload: N runs with a spread of durations, a third of them with tool rounds."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel

DURATIONS_MS = (200, 600, 1200, 2500, 5000)
"""`emu_duration_ms` values, cycled over the runs (time spent `in_progress`)."""

TOOL_DURATIONS_MS = (300, 800, 1500)
"""Durations of runs with tool rounds (each round re-enters `in_progress` for this long)."""

CITIES = ("Paris", "Tokyo", "Lima", "Oslo", "Cairo", "Quito")

TOOL_NAME = "get_weather"
"""The tool the workload's plans call (the demo tool, registered in every worker)."""

QUESTION = "What is 6*7?"


class RunSpec(BaseModel):
    """One run of the workload.

    Attributes:
        index: Position in the workload.
        metadata: Scenario knobs for the emulator (run metadata).
        tool_rounds: Rounds of tool calls the plan asks for.
    """

    index: int
    metadata: dict[str, str]
    tool_rounds: int = 0


def tool_plan(index: int, rounds: int) -> list[list[dict[str, Any]]]:
    """A plan of `rounds` rounds; the second round (if any) asks for two calls at once."""
    plan: list[list[dict[str, Any]]] = []
    for r in range(rounds):
        width = 1 if r == 0 else 2
        plan.append(
            [
                {"name": TOOL_NAME, "arguments": {"city": CITIES[(index + r + k) % len(CITIES)]}}
                for k in range(width)
            ]
        )
    return plan


def workload(size: int) -> list[RunSpec]:
    """The same deterministic workload for every mode.

    Every third run has tool rounds (one round, every sixth two); the others cycle through
    `DURATIONS_MS`.
    """
    specs: list[RunSpec] = []
    for i in range(size):
        if i % 3 == 2:
            rounds = 2 if i % 6 == 5 else 1
            metadata = {
                "emu_duration_ms": str(TOOL_DURATIONS_MS[i % len(TOOL_DURATIONS_MS)]),
                "emu_tool_plan": json.dumps(tool_plan(i, rounds)),
            }
            specs.append(RunSpec(index=i, metadata=metadata, tool_rounds=rounds))
        else:
            metadata = {"emu_duration_ms": str(DURATIONS_MS[i % len(DURATIONS_MS)])}
            specs.append(RunSpec(index=i, metadata=metadata))
    return specs


def weather_tool_definition() -> dict[str, Any]:
    """The function tool definition of `get_weather`, for the shared assistant."""
    from activities.demo_tools import demo_registry

    tool = demo_registry().get(TOOL_NAME)
    assert tool is not None
    return {"type": "function", "function": tool.function_definition()}
