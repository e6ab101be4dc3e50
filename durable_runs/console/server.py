"""Serving the console with uvicorn: blocking for the CLI, in-loop for tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import uvicorn
from temporalio.client import Client

from durable_runs.client import connect_client
from durable_runs.console.app import create_app
from durable_runs.serving import Served, serving
from durable_runs.settings import Settings
from durable_runs.telemetry.logs import configure_logging

DEFAULT_PORT = 8090
"""Beside the Temporal UI's 8233, the bridge's 8000 and the codec server's 8081."""


async def serve(
    settings: Settings,
    *,
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
    log_level: str = "info",
) -> None:
    """Connect to Temporal, then serve the console until interrupted (`durable-runs console`).

    Args:
        settings: Temporal address and namespace, the Temporal UI's URL.
        host: Interface to listen on (loopback by default: the console has no accounts).
        port: Port to listen on.
        log_level: uvicorn's log level.

    Raises:
        DurableRunsError: Temporal cannot be reached (before anything listens).
    """
    configure_logging(settings)
    client = await connect_client(settings)
    config = uvicorn.Config(
        create_app(settings, client), host=host, port=port, log_level=log_level, log_config=None
    )
    await uvicorn.Server(config).serve()


@asynccontextmanager
async def running_console(
    settings: Settings, client: Client, *, host: str = "127.0.0.1", port: int = 0
) -> AsyncIterator[Served]:
    """Serve the console with real uvicorn as a task of the current loop.

    Args:
        settings: The Temporal UI's URL.
        client: Connected Temporal client.
        host: Interface to listen on.
        port: Port; 0 picks a free one.

    Yields:
        The served console (`root_url`), once it accepts connections.
    """
    async with serving(create_app(settings, client), host=host, port=port) as served:
        yield served
