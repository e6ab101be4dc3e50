"""`GET /readyz` follows Temporal: 200 while it answers, 503 with the reason while it is down.

A real Temporal dev server process, stopped and started again on the same port, under a bridge
served by uvicorn in this process. `/healthz` (liveness) stays 200 throughout.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from durable_runs.bridge.readiness import READY_PATH
from durable_runs.bridge.server import running_bridge
from durable_runs.bridge.state import BridgeConfig
from tests.bridge.recording import settings_for
from tests.crash.procs import DevServer
from tests.waiting import wait_for

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[DevServer]:
    """A Temporal dev server process of this test (restartable on its port)."""
    dev = DevServer(tmp_path)
    try:
        await dev.start()
        yield dev
    finally:
        await dev.stop()


async def test_readyz_follows_temporal(server: DevServer) -> None:
    """Ready with Temporal up, not ready (503, reason) once it stops, ready again after."""
    settings = settings_for(server.address)
    config = BridgeConfig(temporal_timeout_s=1.0)
    async with (
        running_bridge(settings, config=config) as bridge,
        httpx.AsyncClient(base_url=bridge.base_url, timeout=10) as http,
    ):

        async def readiness(code: int) -> dict[str, Any] | None:
            answer = await http.get(READY_PATH)
            return answer.json() if answer.status_code == code else None

        assert await wait_for(lambda: readiness(200), within=15, what="ready") == {
            "status": "ready",
            "reason": None,
        }
        await server.stop()
        down = await wait_for(lambda: readiness(503), within=15, what="not ready")
        assert down["status"] == "not_ready"
        assert "Temporal" in down["reason"]
        assert (await http.get(bridge.health_url)).status_code == 200  # still live

        await server.start()
        await wait_for(lambda: readiness(200), within=30, what="ready again")
