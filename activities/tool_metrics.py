"""Tool metrics, recorded through Temporal's metric meter from inside the tool activity.

- `durable_runs_tool_calls{tool,outcome}`: one per tool call.
- `durable_runs_tool_duration_seconds{tool}`: how long each tool that ran took.

Apart from the API call metrics (`activities.metrics`), which classify the OpenAI SDK's errors:
the tool registry, and the client and command line that load it, stay free of the SDK.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Final

from temporalio import activity

TOOL_CALLS: Final = "durable_runs_tool_calls"
TOOL_DURATION: Final = "durable_runs_tool_duration_seconds"


def record_tool_call(tool: str, outcome: str, duration: timedelta) -> None:
    """Count one tool call and its duration (call inside the tool activity).

    Args:
        tool: The tool's name.
        outcome: `ok`, `error` (the tool raised; the model is told), `failed` (a fatal tool
            raised; the run fails), `unknown` (no such tool allowed) or `bad_arguments`.
        duration: How long the tool ran (zero when it never ran).
    """
    meter = activity.metric_meter()
    meter.create_counter(TOOL_CALLS, "Tool calls by tool and outcome.").add(
        1, {"tool": tool, "outcome": outcome}
    )
    if outcome in ("ok", "error", "failed"):
        meter.create_histogram_timedelta(TOOL_DURATION, "How long each tool call ran.", "s").record(
            duration, {"tool": tool}
        )
