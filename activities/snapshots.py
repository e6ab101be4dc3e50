"""Turn the SDK's run and response objects into the backend-neutral `RunSnapshot`.

Used by the activities after each API call and by the webhook bridge for `thread.run.*` events,
whose payload is the run object itself (and for the reads it makes itself).
"""

from __future__ import annotations

from collections.abc import Mapping

from openai.types.beta.threads import Run
from openai.types.responses import Response, ResponseFunctionToolCall

from durable_runs.models import RunError, RunSnapshot, ToolCall, Usage

POLL_AFTER_HEADER = "openai-poll-after-ms"
"""The response header in which the API hints how long to wait before the next read."""


def poll_after_ms(headers: Mapping[str, str]) -> int | None:
    """The `openai-poll-after-ms` hint of an HTTP response, if present and numeric."""
    value = headers.get(POLL_AFTER_HEADER)
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def snapshot_from_run(run: Run, *, poll_after_ms: int | None = None) -> RunSnapshot:
    """Snapshot of an Assistants run.

    Args:
        run: The run as the API returned it (or as a `thread.run.*` event carried it).
        poll_after_ms: The `openai-poll-after-ms` header of the response, if any.

    Returns:
        The run's status, tool calls when it requires action, error, usage and expiry.
    """
    calls: list[ToolCall] = []
    if run.status == "requires_action" and run.required_action is not None:
        calls = [
            ToolCall(id=c.id, name=c.function.name, arguments=c.function.arguments)
            for c in run.required_action.submit_tool_outputs.tool_calls
        ]
    last_error = None
    if run.last_error is not None:
        last_error = RunError(code=run.last_error.code, message=run.last_error.message)
    elif run.status == "incomplete" and run.incomplete_details is not None:
        reason = run.incomplete_details.reason or "unknown"
        last_error = RunError(code=reason, message=f"run incomplete: {reason}")
    usage = None
    if run.usage is not None:
        usage = Usage(
            prompt_tokens=run.usage.prompt_tokens,
            completion_tokens=run.usage.completion_tokens,
            total_tokens=run.usage.total_tokens,
        )
    return RunSnapshot(
        object_id=run.id,
        thread_id=run.thread_id,
        assistant_id=run.assistant_id,
        status=run.status,
        needs_tool_outputs=bool(calls),
        tool_calls=calls,
        last_error=last_error,
        usage=usage,
        poll_after_ms=poll_after_ms,
        expires_at=run.expires_at,
        completed_at=run.completed_at,
    )


def snapshot_from_response(response: Response, *, poll_after_ms: int | None = None) -> RunSnapshot:
    """Snapshot of a Responses API (background) response.

    A completed response whose output holds function calls waits for tool outputs: the
    workflow answers them with a follow-up response.

    Args:
        response: The response as the API returned it.
        poll_after_ms: The `openai-poll-after-ms` header of the response, if any.

    Returns:
        The response's status, function calls, error and usage.
    """
    status = response.status or "queued"
    calls = [
        ToolCall(id=item.call_id, name=item.name, arguments=item.arguments)
        for item in response.output
        if isinstance(item, ResponseFunctionToolCall)
    ]
    needs_outputs = status == "completed" and bool(calls)
    last_error = None
    if response.error is not None:
        last_error = RunError(code=str(response.error.code), message=response.error.message)
    elif status == "incomplete" and response.incomplete_details is not None:
        reason = response.incomplete_details.reason or "unknown"
        last_error = RunError(code=reason, message=f"response incomplete: {reason}")
    usage = None
    if response.usage is not None:
        usage = Usage(
            prompt_tokens=response.usage.input_tokens,
            completion_tokens=response.usage.output_tokens,
            total_tokens=response.usage.total_tokens,
        )
    return RunSnapshot(
        object_id=response.id,
        status=status,
        needs_tool_outputs=needs_outputs,
        tool_calls=calls if needs_outputs else [],
        last_error=last_error,
        usage=usage,
        poll_after_ms=poll_after_ms,
        answer=response.output_text if status == "completed" and not needs_outputs else None,
        completed_at=response.completed_at,
    )
