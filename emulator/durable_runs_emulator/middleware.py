"""ASGI middleware: auth, the Assistants shutdown switch, standard headers and request stats."""

from __future__ import annotations

import logging
import secrets
import time
from typing import Any

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from durable_runs_emulator.errors import (
    APIError,
    assistants_removed,
    bad_request,
    invalid_key,
    missing_key,
    server_error,
)
from durable_runs_emulator.state import EmulatorState
from durable_runs_emulator.tagging import KIND_KEY, REF_KEY

logger = logging.getLogger(__name__)

_ASSISTANTS_PREFIXES = ("/v1/assistants", "/v1/threads")


def _is_assistants_path(path: str) -> bool:
    return any(path == p or path.startswith(p + "/") for p in _ASSISTANTS_PREFIXES)


def check_auth(state: EmulatorState, headers: Headers) -> APIError | None:
    """The 401 for a missing or refused bearer key, or None when the key is accepted."""
    authorization = headers.get("authorization", "")
    scheme, _, key = authorization.partition(" ")
    key = key.strip()
    if scheme.lower() != "bearer" or not key:
        return missing_key()
    allowed = state.config.api_keys
    if allowed is None:
        return invalid_key(key) if key.startswith("sk-bad") else None
    return None if key in allowed else invalid_key(key)


class EmulatorMiddleware:
    """Wraps every request: checks `/v1` access, adds OpenAI's headers, counts the request.

    Args:
        app: The wrapped ASGI app.
        state: The emulator state (config, stats).
    """

    def __init__(self, app: ASGIApp, state: EmulatorState) -> None:
        self.app = app
        self.state = state

    def _precheck(self, scope: Scope) -> APIError | None:
        path: str = scope["path"]
        if not path.startswith("/v1"):
            return None
        headers = Headers(scope=scope)
        error = check_auth(self.state, headers)
        if error is not None:
            return error
        if _is_assistants_path(path):
            if self.state.config.assistants_removed:
                return assistants_removed()
            if headers.get("openai-beta", "") != "assistants=v2":
                return bad_request(
                    "You must provide the 'OpenAI-Beta' header to access the Assistants API. "
                    "Please try again by setting the header 'OpenAI-Beta: assistants=v2'.",
                    code="invalid_beta",
                )
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one ASGI call."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = "req_" + secrets.token_hex(16)
        status: dict[str, int] = {"code": 500, "started": 0}
        organization = self.state.config.organization

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                status["started"] = 1
                headers = MutableHeaders(scope=message)
                headers["x-request-id"] = request_id
                headers["openai-version"] = "2020-10-01"
                headers["openai-organization"] = organization
                elapsed = int((time.perf_counter() - started) * 1000)
                headers["openai-processing-ms"] = str(elapsed)
            await send(message)

        error = self._precheck(scope)
        if error is not None:
            await error.response()(scope, receive, send_with_headers)
        else:
            try:
                await self.app(scope, receive, send_with_headers)
            except Exception:
                # A bug in the emulator still answers in OpenAI's format (and is logged).
                logger.exception("emulator error on %s %s", scope["method"], scope["path"])
                if status["started"]:
                    raise
                await server_error(500).response()(scope, receive, send_with_headers)
        if scope["path"].startswith("/v1"):
            self._record(scope, status["code"])

    def _record(self, scope: Scope, status_code: int) -> None:
        route: Any = scope.get("route")
        path = getattr(route, "path", None) or scope["path"]
        self.state.stats.record_request(
            template=f"{scope['method']} {path}",
            kind=scope.get(KIND_KEY),
            ref=scope.get(REF_KEY),
            status_code=status_code,
            at=time.time(),
        )
