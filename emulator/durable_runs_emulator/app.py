"""The FastAPI application: routes, error handlers, middleware and lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from durable_runs_emulator import admin_api, assistants_api, responses_api
from durable_runs_emulator.config import EmulatorConfig
from durable_runs_emulator.errors import APIError
from durable_runs_emulator.middleware import EmulatorMiddleware
from durable_runs_emulator.state import EmulatorState


async def _api_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, APIError)
    return exc.response()


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    first = exc.errors()[0] if exc.errors() else {}
    location = [str(part) for part in first.get("loc", ()) if part not in ("body", "query", "path")]
    param = ".".join(location) or None
    return APIError(
        400, f"Invalid value for '{param}': {first.get('msg', 'invalid')}.", param=param
    ).response()


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 404:
        message = f"Invalid URL ({request.method} {request.url.path})"
    elif exc.status_code == 405:
        message = f"Invalid method for URL ({request.method} {request.url.path})"
    else:
        message = str(exc.detail)
    return APIError(exc.status_code, message).response()


def create_app(config: EmulatorConfig | None = None) -> FastAPI:
    """Build the emulator app.

    Args:
        config: Initial configuration (defaults to `EmulatorConfig()`).

    Returns:
        The app; its state lives on `app.state.emulator` (an `EmulatorState`).
    """
    state = EmulatorState(config or EmulatorConfig())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        await state.close()

    app = FastAPI(title="durable-runs OpenAI emulator", lifespan=lifespan, openapi_url=None)
    app.state.emulator = state
    app.add_exception_handler(APIError, _api_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.include_router(assistants_api.router)
    app.include_router(responses_api.router)
    app.include_router(admin_api.router)
    app.add_middleware(EmulatorMiddleware, state=state)
    return app
