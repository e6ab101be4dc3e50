"""Running the bridge with uvicorn: blocking for the CLI, in-loop for tests and `dev`."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import uvicorn
from fastapi import FastAPI

from durable_runs.bridge.app import HEALTH_PATH, WEBHOOK_PATH, create_app
from durable_runs.bridge.state import BridgeConfig, BridgeState
from durable_runs.serving import serving
from durable_runs.settings import Settings
from durable_runs.telemetry.logs import configure_logging


def serve(
    settings: Settings,
    host: str = "127.0.0.1",
    port: int = 8000,
    *,
    config: BridgeConfig | None = None,
    log_level: str = "info",
) -> None:
    """Serve the bridge until interrupted (`durable-runs bridge`).

    Args:
        settings: Webhook secrets and Temporal address.
        host: Interface to listen on.
        port: Port to listen on.
        config: Bridge limits; defaults when None.
        log_level: uvicorn's log level (ours: `DURABLE_RUNS_LOG_LEVEL`).
    """
    configure_logging(settings)
    # uvicorn's loggers propagate to the root logger configured above (one format for all).
    uvicorn.run(
        create_app(settings, config=config),
        host=host,
        port=port,
        log_level=log_level,
        log_config=None,
        # On SIGTERM uvicorn stops accepting and lets in-flight deliveries finish, this long.
        timeout_graceful_shutdown=math.ceil(settings.shutdown_grace_s),
    )


@dataclass(frozen=True)
class RunningBridge:
    """A bridge served in the current event loop.

    Attributes:
        app: The FastAPI app.
        host: Interface it listens on.
        port: Port it listens on (the real one when 0 was asked).
    """

    app: FastAPI
    host: str
    port: int

    @property
    def base_url(self) -> str:
        """`http://host:port`."""
        return f"http://{self.host}:{self.port}"

    @property
    def url(self) -> str:
        """The webhook endpoint, `http://host:port/webhooks/openai`."""
        return self.base_url + WEBHOOK_PATH

    @property
    def health_url(self) -> str:
        """`http://host:port/healthz`."""
        return self.base_url + HEALTH_PATH

    @property
    def state(self) -> BridgeState:
        """The app's live state (counters, client)."""
        state: BridgeState = self.app.state.bridge
        return state


@asynccontextmanager
async def running_bridge(
    settings: Settings,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    config: BridgeConfig | None = None,
    log_level: str = "warning",
) -> AsyncIterator[RunningBridge]:
    """Serve the bridge with real uvicorn as a task of the current loop.

    Returns once the server accepts connections; leaving the block shuts it down.

    Args:
        settings: Webhook secrets and Temporal address.
        host: Interface to listen on.
        port: Port to listen on; 0 picks a free one (see `RunningBridge.port`).
        config: Bridge limits; defaults when None.
        log_level: uvicorn's log level.

    Yields:
        The running bridge, with its `url`.

    Raises:
        OSError: When the port cannot be bound.
        RuntimeError: When the server stops during startup (e.g. its lifespan failed).
    """
    app = create_app(settings, config=config)
    async with serving(
        app, host=host, port=port, log_level=log_level, timeout_graceful_shutdown=5
    ) as served:
        yield RunningBridge(app=app, host=host, port=served.port)
