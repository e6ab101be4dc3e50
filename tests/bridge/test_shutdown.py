"""SIGTERM to a bridge process while a delivery is in flight: the delivery is answered first.

The delivery's read of the response it names is held at the emulator until the bridge has been
told to stop; then the read is answered, the bridge answers the delivery and finishes its
shutdown. uvicorn then ends the process by the signal it received (as its own exit status, on
purpose), so the exit status is SIGTERM's, after a complete shutdown.
"""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import httpx
import pytest
from durable_runs_emulator.app import create_app
from openai import AsyncOpenAI
from starlette.types import ASGIApp, Receive, Scope, Send

from durable_runs.processes import bridge_part, child_env, free_port
from durable_runs.serving import serving
from tests.bridge.signing import new_secret
from tests.waiting import wait_for
from tests.webhooks.helpers import signed_delivery

pytestmark = pytest.mark.timeout(60)

API_KEY = "sk-bridge-shutdown"


class ReadGate:
    """ASGI wrapper of the emulator: holds every `GET /v1/responses/...` until opened."""

    def __init__(self, app: ASGIApp) -> None:
        """Args: app: the emulator app."""
        self.app = app
        self.opened = asyncio.Event()
        self.held = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the call through; a response read waits for the gate first."""
        if scope["type"] == "http" and scope["method"] == "GET":
            if scope["path"].startswith("/v1/responses/"):
                self.held += 1
                await self.opened.wait()
        await self.app(scope, receive, send)


async def test_sigterm_finishes_the_delivery_in_flight(tmp_path: Path) -> None:
    """The bridge, stopped mid-delivery, still answers it (200), then shuts down."""
    secret = new_secret()
    gate = ReadGate(create_app())
    async with serving(gate, access_log=False) as emulator:
        api = AsyncOpenAI(api_key=API_KEY, base_url=f"{emulator.root_url}/v1", max_retries=0)
        response = await api.responses.create(model="gpt-4o-mini", input="hi", background=True)
        port = free_port()
        bridge = bridge_part(
            tmp_path,
            port=port,
            env=child_env(
                {
                    "OPENAI_WEBHOOK_SECRET": secret,
                    "OPENAI_API_KEY": API_KEY,
                    "OPENAI_BASE_URL": f"{emulator.root_url}/v1",
                    "TEMPORAL_ADDRESS": f"127.0.0.1:{free_port()}",  # not needed: not ours
                }
            ),
        )
        try:
            await bridge.launch()
            body, headers = signed_delivery(secret, "response.completed", {"id": response.id})
            async with httpx.AsyncClient(timeout=30) as http:
                delivery = asyncio.create_task(
                    http.post(f"http://127.0.0.1:{port}/webhooks/openai", content=body,
                              headers=headers)
                )  # fmt: skip

                async def read_held() -> bool:
                    return gate.held >= 1

                await wait_for(read_held, within=10, what="the bridge's read is held")
                bridge.process.terminate()

                async def stopping() -> bool:
                    return "Shutting down" in bridge.log_path.read_text(errors="replace")

                await wait_for(stopping, within=10, what="uvicorn began its shutdown")
                gate.opened.set()
                answer = await delivery
            assert answer.status_code == 200, answer.text
            assert answer.json()["status"] == "not_ours"
            assert await bridge.wait_exit(within=15) == -signal.SIGTERM, bridge.log_tail()
            log = bridge.log_path.read_text(errors="replace")
            assert log.index('"POST /webhooks/openai HTTP/1.1" 200') > log.index("Shutting down")
            assert "Application shutdown complete" in log
        finally:
            gate.opened.set()
            await bridge.stop()
            await api.close()
