"""Map the openai SDK's errors to Temporal `ApplicationError`s: Temporal owns retries.

The SDK's own retries are off inside activities (`max_retries=0`), so every attempt is a
Temporal activity attempt, visible in the UI.
"""

from __future__ import annotations

import math
from datetime import timedelta

import openai
from temporalio import activity
from temporalio.exceptions import ApplicationError

AUTH_HINT = (
    "Set OPENAI_API_KEY to a valid key for the server in OPENAI_BASE_URL "
    "(unset OPENAI_BASE_URL to use api.openai.com)."
)
ASSISTANTS_GONE_HINT = (
    "This server does not serve the Assistants API (api.openai.com shut it down on 2026-08-26): "
    "set DURABLE_RUNS_BACKEND=responses to use the Responses background backend."
)


def not_retryable(err: Exception, *, operation: str) -> ApplicationError:
    """An error no retry can fix (an unknown tool, input the API cannot take): fail at once."""
    return ApplicationError(f"{operation}: {err}", type=type(err).__name__, non_retryable=True)


def retry_after(err: openai.APIStatusError) -> timedelta | None:
    """The server's requested wait: `retry-after-ms`, else `retry-after` in seconds.

    A value that is not a finite, non-negative number (an HTTP date included) is no request:
    the retry policy's backoff decides the wait then.
    """
    headers = err.response.headers
    for name, unit_s in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        wait_s = _seconds(headers.get(name), unit_s)
        if wait_s is not None:
            return timedelta(seconds=wait_s)
    return None


def _seconds(value: str | None, unit_s: float) -> float | None:
    try:
        number = float(value) if value is not None else math.nan
    except ValueError:
        return None
    wait_s = number * unit_s
    if not math.isfinite(wait_s) or wait_s < 0 or wait_s > timedelta.max.total_seconds():
        return None
    return wait_s


def to_application_error(err: openai.OpenAIError, *, operation: str) -> ApplicationError:
    """Translate one SDK error into an `ApplicationError` with the right retry behaviour.

    Args:
        err: The error the SDK raised.
        operation: What we were doing, for the message (e.g. "create run").

    Returns:
        Non-retryable for 4xx (with the API's message; a 401 names the variable to set);
        retryable after exactly the server's Retry-After for 429; retryable for 5xx and
        connection errors unless the server sent `x-should-retry: false`.
    """
    if isinstance(err, openai.APIConnectionError):
        return ApplicationError(f"{operation}: {err}", type=type(err).__name__)
    if not isinstance(err, openai.APIStatusError):
        return ApplicationError(f"{operation}: {err}", type=type(err).__name__, non_retryable=True)
    status = err.status_code
    message = f"{operation}: OpenAI API answered {status}: {err.message}"
    if err.request_id:
        message += f" (request id {err.request_id})"
    name = type(err).__name__
    activity.logger.warning(
        "%s: OpenAI API answered %s (request id %s)",
        operation,
        status,
        err.request_id,
        extra={
            "openai_request_id": err.request_id,
            "openai_status": status,
            "openai_path": err.request.url.path,
        },
    )
    if isinstance(err, openai.AuthenticationError):
        return ApplicationError(f"{message}. {AUTH_HINT}", type=name, non_retryable=True)
    if isinstance(err, openai.RateLimitError):
        if err.code == "insufficient_quota":
            return ApplicationError(message, type=name, non_retryable=True)
        delay = retry_after(err)
        if delay is not None:
            # Temporal's retry resolution is whole milliseconds; never retry early.
            delay = timedelta(milliseconds=math.ceil(delay.total_seconds() * 1000))
        return ApplicationError(message, type=name, next_retry_delay=delay)
    should_retry = err.response.headers.get("x-should-retry")
    if should_retry == "false":
        return ApplicationError(message, type=name, non_retryable=True)
    if status >= 500 or status in (408, 409) or should_retry == "true":
        return ApplicationError(message, type=name, next_retry_delay=retry_after(err))
    return ApplicationError(message, type=name, non_retryable=True)
