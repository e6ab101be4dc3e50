"""OpenAI errors to Temporal `ApplicationError`s: which ones retry, and after how long.

The errors are the ones the real openai SDK raises: a client whose HTTP transport answers (or
fails) in-process, so the exception class, message and headers are exactly the SDK's.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import httpx2
import openai
import pytest
from temporalio.exceptions import ApplicationError

from durable_runs.activities.errors import (
    AUTH_HINT,
    not_retryable,
    retry_after,
    to_application_error,
)
from durable_runs.activities.tools import UnknownToolsError

Handler = Callable[[httpx2.Request], httpx2.Response]


def raised_by_sdk(handler: Handler) -> openai.OpenAIError:
    """The error the SDK raises for one `responses.retrieve` whose HTTP exchange is `handler`."""
    transport = httpx2.MockTransport(handler)
    client = openai.OpenAI(
        api_key="sk-unit",
        base_url="http://api.invalid/v1",
        max_retries=0,
        http_client=httpx2.Client(transport=transport),
    )
    try:
        client.responses.retrieve("resp_unit")
    except openai.OpenAIError as err:
        return err
    finally:
        client.close()
    raise AssertionError("the SDK raised nothing")


def status_error(
    status: int,
    headers: dict[str, str] | None = None,
    *,
    message: str = "the API says no",
    code: str | None = None,
) -> openai.APIStatusError:
    """The SDK's error for an HTTP answer with this status, headers and error body."""
    body = {"error": {"message": message, "type": "test_error", "code": code}}

    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(status, headers=headers, json=body, request=request)

    err = raised_by_sdk(handler)
    assert isinstance(err, openai.APIStatusError)
    return err


def mapped(
    status: int, headers: dict[str, str] | None = None, *, code: str | None = None
) -> ApplicationError:
    """`to_application_error` of the SDK's error for this answer."""
    return to_application_error(status_error(status, headers, code=code), operation="read")


def assert_retryable(error: ApplicationError, delay: timedelta | None) -> None:
    """Retryable, after exactly `delay` (None: the retry policy's own backoff)."""
    assert not error.non_retryable
    assert error.next_retry_delay == delay


def assert_permanent(error: ApplicationError) -> None:
    """Fails the activity at once, with no retry delay to honour."""
    assert error.non_retryable
    assert error.next_retry_delay is None


# --- 429 ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "delay"),
    [
        ({"retry-after-ms": "1500"}, timedelta(milliseconds=1500)),
        ({"retry-after": "7"}, timedelta(seconds=7)),
        ({"retry-after": "2.5"}, timedelta(milliseconds=2500)),
        # Both sent: the finer one wins.
        ({"retry-after-ms": "250", "retry-after": "9"}, timedelta(milliseconds=250)),
        # A malformed `retry-after-ms` does not hide a good `retry-after`.
        ({"retry-after-ms": "soon", "retry-after": "3"}, timedelta(seconds=3)),
    ],
)
def test_429_retries_after_exactly_the_servers_wait(
    headers: dict[str, str], delay: timedelta
) -> None:
    """A rate limit is retried, after the wait the server asked for and not a moment less."""
    error = mapped(429, headers)
    assert_retryable(error, delay)
    assert error.type == "RateLimitError"


@pytest.mark.parametrize(
    ("headers", "delay"),
    [
        ({"retry-after-ms": "0.2"}, timedelta(milliseconds=1)),
        ({"retry-after-ms": "1500.1"}, timedelta(milliseconds=1501)),
        ({"retry-after": "1.0001"}, timedelta(milliseconds=1001)),
    ],
)
def test_429_wait_is_rounded_up_to_whole_milliseconds(
    headers: dict[str, str], delay: timedelta
) -> None:
    """Temporal counts whole milliseconds: a fractional wait rounds up, never down (early)."""
    assert_retryable(mapped(429, headers), delay)


def test_429_without_retry_after_uses_the_policy_backoff() -> None:
    """No header: retryable, and the retry policy's backoff decides the wait."""
    assert_retryable(mapped(429), None)


def test_429_with_http_date_retry_after_falls_back_to_the_policy_backoff() -> None:
    """An HTTP-date `retry-after` is not parsed: still retryable, on the policy's backoff."""
    error = mapped(429, {"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"})
    assert_retryable(error, None)


def test_429_insufficient_quota_is_permanent() -> None:
    """Out of quota is not a rate limit: waiting does not refill it."""
    error = mapped(429, {"retry-after": "1"}, code="insufficient_quota")
    assert_permanent(error)
    assert error.type == "RateLimitError"


# --- 5xx ---------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [500, 502, 503, 504])
@pytest.mark.parametrize(
    ("headers", "delay"),
    [
        ({"retry-after-ms": "1500"}, timedelta(milliseconds=1500)),
        ({"retry-after": "4"}, timedelta(seconds=4)),
        ({"retry-after-ms": "250", "retry-after": "9"}, timedelta(milliseconds=250)),
        ({"retry-after-ms": "soon", "retry-after": "3"}, timedelta(seconds=3)),
        ({}, None),
        ({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}, None),
    ],
)
def test_5xx_retries_after_the_servers_wait(
    status: int, headers: dict[str, str], delay: timedelta | None
) -> None:
    """A server error is retried, after the server's `retry-after(-ms)` when it sent one."""
    error = mapped(status, headers)
    assert_retryable(error, delay)
    assert error.type == "InternalServerError"


@pytest.mark.parametrize("status", [500, 503])
def test_5xx_with_x_should_retry_false_is_permanent(status: int) -> None:
    """The server's `x-should-retry: false` overrides the status."""
    assert_permanent(mapped(status, {"x-should-retry": "false", "retry-after": "1"}))


@pytest.mark.parametrize("status", [500, 503])
def test_5xx_with_x_should_retry_true_is_retryable(status: int) -> None:
    """`x-should-retry: true` on a status that retries anyway changes nothing."""
    error = mapped(status, {"x-should-retry": "true", "retry-after": "2"})
    assert_retryable(error, timedelta(seconds=2))


# --- 4xx ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "error_type"),
    [
        (400, "BadRequestError"),
        (403, "PermissionDeniedError"),
        (404, "NotFoundError"),
        (413, "APIStatusError"),
        (422, "UnprocessableEntityError"),
    ],
)
def test_4xx_is_permanent_and_keeps_the_apis_message(status: int, error_type: str) -> None:
    """A request the API refuses fails the same on every attempt: fail at once, say why."""
    error = to_application_error(
        status_error(status, {"retry-after": "1"}, message="model not found"), operation="create"
    )
    assert_permanent(error)
    assert error.type == error_type
    assert error.message.startswith(f"create: OpenAI API answered {status}: ")
    assert "model not found" in error.message


@pytest.mark.parametrize("status", [400, 404, 422])
def test_4xx_with_x_should_retry_true_is_retryable(status: int) -> None:
    """The server's `x-should-retry: true` overrides a status that would not retry."""
    error = mapped(status, {"x-should-retry": "true", "retry-after-ms": "300"})
    assert_retryable(error, timedelta(milliseconds=300))


@pytest.mark.parametrize(
    ("status", "error_type"), [(408, "APIStatusError"), (409, "ConflictError")]
)
def test_408_and_409_are_retryable(status: int, error_type: str) -> None:
    """A request timeout and a conflict can pass on a later attempt."""
    error = mapped(status, {"retry-after": "5"})
    assert_retryable(error, timedelta(seconds=5))
    assert error.type == error_type


@pytest.mark.parametrize("status", [408, 409])
def test_408_and_409_with_x_should_retry_false_are_permanent(status: int) -> None:
    """`x-should-retry: false` overrides these too."""
    assert_permanent(mapped(status, {"x-should-retry": "false"}))


@pytest.mark.parametrize("should_retry", [None, "true"])
def test_401_is_permanent_and_names_the_variable_to_set(should_retry: str | None) -> None:
    """A bad key never heals by waiting: fail at once, telling the operator what to set."""
    headers = {"x-should-retry": should_retry} if should_retry else {}
    error = mapped(401, headers)
    assert_permanent(error)
    assert error.type == "AuthenticationError"
    assert "OPENAI_API_KEY" in error.message
    assert error.message.endswith(AUTH_HINT)


# --- no HTTP answer ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("failure", "error_type"),
    [
        (httpx2.ConnectError("connection refused"), "APIConnectionError"),
        (httpx2.ReadTimeout("read timed out"), "APITimeoutError"),
    ],
)
def test_connection_errors_are_retryable(failure: Exception, error_type: str) -> None:
    """No answer at all (refused, timed out): retry on the policy's backoff."""

    def handler(request: httpx2.Request) -> httpx2.Response:
        raise failure

    err = raised_by_sdk(handler)
    error = to_application_error(err, operation="create run")
    assert_retryable(error, None)
    assert error.type == error_type
    assert error.message.startswith("create run: ")


def test_unreadable_answer_is_permanent() -> None:
    """An answer the SDK cannot read (not a status error, not a lost connection) fails."""
    request = httpx2.Request("GET", "http://api.invalid/v1/responses/resp_unit")
    response = httpx2.Response(200, text="<html>", request=request)
    err = openai.APIResponseValidationError(response, "<html>")
    error = to_application_error(err, operation="read")
    assert_permanent(error)
    assert error.type == "APIResponseValidationError"


# --- the helpers -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "delay"),
    [
        ({"retry-after-ms": "1500.5"}, timedelta(microseconds=1_500_500)),
        ({"retry-after": "0"}, timedelta(0)),
        ({"retry-after": "soon"}, None),
        ({"retry-after": "-3"}, None),
        ({"retry-after": "inf"}, None),
        ({"retry-after": "nan"}, None),
        ({"retry-after-ms": "-1", "retry-after": "2"}, timedelta(seconds=2)),
        ({"retry-after": "1e300"}, None),
        ({}, None),
    ],
)
def test_retry_after_reads_the_headers_exactly(
    headers: dict[str, str], delay: timedelta | None
) -> None:
    """`retry_after` itself does not round: only the 429 path does."""
    assert retry_after(status_error(503, headers)) == delay


def test_not_retryable_fails_at_once_with_the_errors_type_and_message() -> None:
    """A permanent error of ours (here an unknown tool) keeps its class name and its text."""
    err = UnknownToolsError(["nope"], ["get_weather"])
    error = not_retryable(err, operation="create response")
    assert_permanent(error)
    assert error.type == "UnknownToolsError"
    assert error.message == f"create response: {err}"
    assert "nope" in error.message
