"""Run the emulator: in the current loop for tests (`running_emulator`) or as a CLI (`serve`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import uvicorn

from durable_runs.serving import serving
from durable_runs_emulator.app import create_app
from durable_runs_emulator.config import EmulatorConfig
from durable_runs_emulator.state import EmulatorState

DEFAULT_PORT = 4010
"""The emulator's default port."""


@dataclass
class RunningEmulator:
    """A live emulator.

    Attributes:
        root_url: `http://host:port`.
        base_url: `root_url + "/v1"`: give it to `AsyncOpenAI(base_url=...)`.
        app_state: The in-process state (objects, stats, config), for white-box checks.
    """

    root_url: str
    base_url: str
    app_state: EmulatorState

    @property
    def port(self) -> int:
        """The bound port."""
        return int(self.root_url.rsplit(":", 1)[1])

    async def stats(self) -> dict[str, Any]:
        """`GET /_emulator/stats` over HTTP."""
        async with httpx.AsyncClient() as client:
            response = await client.get(f"{self.root_url}/_emulator/stats")
            response.raise_for_status()
            result: dict[str, Any] = response.json()
            return result

    async def configure(self, **changes: Any) -> dict[str, Any]:
        """`POST /_emulator/config` over HTTP; returns the new configuration."""
        async with httpx.AsyncClient() as client:
            response = await client.post(f"{self.root_url}/_emulator/config", json=changes)
            response.raise_for_status()
            result: dict[str, Any] = response.json()
            return result

    async def reset_stats(self) -> None:
        """`POST /_emulator/reset` over HTTP."""
        async with httpx.AsyncClient() as client:
            response = await client.post(f"{self.root_url}/_emulator/reset")
            response.raise_for_status()


@asynccontextmanager
async def running_emulator(
    config: EmulatorConfig | None = None, *, host: str = "127.0.0.1", port: int = 0
) -> AsyncIterator[RunningEmulator]:
    """Serve the emulator with uvicorn as a task of the current loop.

    Args:
        config: Initial configuration.
        host: Interface to bind.
        port: Port to bind; 0 picks a free one.

    Yields:
        The running emulator, once it accepts connections.
    """
    app = create_app(config)
    async with serving(app, host=host, port=port, access_log=False) as served:
        root = served.root_url
        yield RunningEmulator(root_url=root, base_url=f"{root}/v1", app_state=app.state.emulator)


def serve(
    config: EmulatorConfig | None = None,
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
    *,
    quiet: bool = False,
) -> None:
    """Serve the emulator until interrupted (the `durable-runs-emulator` command).

    Args:
        config: Initial configuration.
        host: Interface to bind.
        port: Port to bind.
        quiet: No access log and warnings only (the benchmark's emulator: logging costs CPU).
    """
    uvicorn.run(
        create_app(config),
        host=host,
        port=port,
        log_level="warning" if quiet else "info",
        access_log=not quiet,
        backlog=4096,
    )
