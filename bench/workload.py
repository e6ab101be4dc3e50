"""The benchmark workload: N runs with a spread of durations, a third of them with tool rounds."""

from __future__ import annotations

import json
import random
from typing import Any

from pydantic import BaseModel

DURATION_RANGE_MS = (200, 5000)
"""`emu_duration_ms` (time spent `in_progress`) of runs without tools: spread evenly over this
by default (`python -m bench.run --durations LOW-HIGH` for runs like yours)."""

TOOL_DURATION_RANGE_MS = (300, 1500)
"""The same for runs with tool rounds (each round re-enters `in_progress` for this long)."""

GOLDEN_RATIO_FRACTION = 0.6180339887498949
"""Step of the low-discrepancy sequence that spreads the durations (any N covers the range
evenly, and the same index always gets the same duration)."""

CITIES = ("Paris", "Tokyo", "Lima", "Oslo", "Cairo", "Quito")

TOOL_NAME = "get_weather"
"""The tool the workload's plans call (the demo tool, registered in every worker)."""

QUESTION = "What is 6*7?"


NO_WEBHOOK_DELAY_MS = (0, 0)
"""Default `--webhook-delay-ms`: the emulator delivers each event as soon as the object ends."""


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


def spread(index: int, bounds: tuple[int, int]) -> int:
    """The index-th value of an even, deterministic spread over `bounds` (milliseconds).

    Durations are spread, not picked from a few fixed values: a fixed value that ends just
    before or after one of the backoff schedule's checks would decide a mode's notice latency
    by a few milliseconds of drift.
    """
    low, high = bounds
    return low + round((high - low) * ((index * GOLDEN_RATIO_FRACTION) % 1.0))


def webhook_delay(index: int, bounds: tuple[int, int]) -> int:
    """The delivery delay (ms) of the index-th run's events: uniform over `bounds`.

    Drawn from a generator seeded by the index, so every mode and backend gets the same delay
    for the same run, and the delays are not correlated with the durations.
    """
    low, high = bounds
    if low == high:
        return low
    return round(random.Random(index).uniform(low, high))


def workload(
    size: int,
    durations: tuple[int, int] = DURATION_RANGE_MS,
    webhook_delay_ms: tuple[int, int] = NO_WEBHOOK_DELAY_MS,
) -> list[RunSpec]:
    """The same deterministic workload for every mode.

    Every third run has tool rounds (one round, every sixth two); the others' durations are
    spread over `durations` (runs with tools: `TOOL_DURATION_RANGE_MS`). With a delivery delay,
    each run's objects carry the emulator knob `emu_webhook: delay_ms:N` (N drawn by
    `webhook_delay`), which holds each of their webhook events N ms before the first attempt.
    """
    specs: list[RunSpec] = []
    for i in range(size):
        if i % 3 == 2:
            rounds = 2 if i % 6 == 5 else 1
            metadata = {
                "emu_duration_ms": str(spread(i, TOOL_DURATION_RANGE_MS)),
                "emu_tool_plan": json.dumps(tool_plan(i, rounds)),
            }
            specs.append(RunSpec(index=i, metadata=metadata, tool_rounds=rounds))
        else:
            metadata = {"emu_duration_ms": str(spread(i, durations))}
            specs.append(RunSpec(index=i, metadata=metadata))
    if webhook_delay_ms[1] > 0:
        for spec in specs:
            spec.metadata["emu_webhook"] = f"delay_ms:{webhook_delay(spec.index, webhook_delay_ms)}"
    return specs


def _weather_function() -> dict[str, Any]:
    from durable_runs.activities.demo_tools import demo_registry

    tool = demo_registry().get(TOOL_NAME)
    assert tool is not None
    return tool.function_definition()


def weather_tool_definition() -> dict[str, Any]:
    """The function tool definition of `get_weather`, for the shared assistant."""
    return {"type": "function", "function": _weather_function()}


def responses_tool_definition() -> dict[str, Any]:
    """`get_weather` as a Responses tool, sent as the worker sends it (`strict` off)."""
    return {"type": "function", **_weather_function(), "strict": False}
