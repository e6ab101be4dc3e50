"""OpenAI error bodies: `{"error": {"message", "type", "param", "code"}}` with real statuses."""

from __future__ import annotations

import math
from typing import Any

from fastapi.responses import JSONResponse

MISSING_KEY_MESSAGE = (
    "You didn't provide an API key. You need to provide your API key in an Authorization header "
    "using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the password field (with blank "
    "username) if you're accessing the API from your browser and are prompted for a username and "
    "password. You can obtain an API key from https://platform.openai.com/account/api-keys."
)
ASSISTANTS_REMOVED_MESSAGE = (
    "The Assistants API was shut down on 2026-08-26. "
    "Please use the Responses API instead: https://platform.openai.com/docs/api-reference/responses"
)


class APIError(Exception):
    """An error answered to the client in OpenAI's format.

    Args:
        status_code: HTTP status.
        message: Human-readable message.
        type: Error type (`invalid_request_error`, `server_error`, `requests`...).
        param: The offending parameter, if any.
        code: Machine code (`invalid_api_key`, `rate_limit_exceeded`...), if any.
        headers: Extra response headers (e.g. `retry-after`).
    """

    def __init__(
        self,
        status_code: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message
        self.type = type
        self.param = param
        self.code = code
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        """The JSON body, exactly as the API shapes it."""
        return {
            "error": {
                "message": self.message,
                "type": self.type,
                "param": self.param,
                "code": self.code,
            }
        }

    def response(self) -> JSONResponse:
        """This error as a response."""
        return JSONResponse(self.body(), status_code=self.status_code, headers=self.headers)


def mask_key(key: str) -> str:
    """Mask an API key the way the API echoes it in `invalid_api_key` errors."""
    if len(key) <= 10:
        return key[:3] + "*" * max(len(key) - 3, 0)
    return key[:6] + "*" * (len(key) - 10) + key[-4:]


def missing_key() -> APIError:
    """401 for a request without a bearer key."""
    return APIError(401, MISSING_KEY_MESSAGE)


def invalid_key(key: str) -> APIError:
    """401 for a key the emulator does not accept."""
    return APIError(
        401,
        f"Incorrect API key provided: {mask_key(key)}. You can find your API key at "
        "https://platform.openai.com/account/api-keys.",
        code="invalid_api_key",
    )


def not_found(kind: str, object_id: str) -> APIError:
    """404 for an unknown id (`No run found with id 'run_x'.`)."""
    return APIError(404, f"No {kind} found with id '{object_id}'.")


def bad_request(message: str, *, param: str | None = None, code: str | None = None) -> APIError:
    """400 invalid_request_error."""
    return APIError(400, message, param=param, code=code)


def model_not_found(model: str) -> APIError:
    """400 for a model that does not exist, as the Responses and Assistants APIs answer it."""
    return APIError(
        400,
        f"The requested model '{model}' does not exist.",
        param="model",
        code="model_not_found",
    )


def rate_limited(
    retry_after_ms: float, *, limit: int = 500, model: str = "gpt-4o-mini"
) -> APIError:
    """429 with the real headers (`retry-after` in whole seconds, rounded up)."""
    seconds = retry_after_ms / 1000.0
    return APIError(
        429,
        f"Rate limit reached for {model} in organization org-emulator on requests per min (RPM): "
        f"Limit {limit}, Used {limit}, Requested 1. Please try again in {seconds:g}s. "
        "Visit https://platform.openai.com/account/rate-limits to learn more.",
        type="requests",
        code="rate_limit_exceeded",
        headers={
            "retry-after": str(max(1, math.ceil(seconds))),
            "retry-after-ms": str(int(retry_after_ms)),
            "x-ratelimit-limit-requests": str(limit),
            "x-ratelimit-remaining-requests": "0",
            "x-ratelimit-reset-requests": f"{seconds:g}s",
        },
    )


def server_error(status_code: int = 500) -> APIError:
    """500 (or 503) server_error."""
    if status_code == 503:
        return APIError(
            503,
            "The engine is currently overloaded, please try again later.",
            type="server_error",
        )
    return APIError(
        status_code,
        "The server had an error while processing your request. Sorry about that!",
        type="server_error",
    )


def assistants_removed() -> APIError:
    """404 for Assistants paths once the API is shut down."""
    return APIError(404, ASSISTANTS_REMOVED_MESSAGE, code="not_found")
