"""A real webhook receiver (FastAPI on uvicorn) that records what the emulator sends."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request, Response

from durable_runs.serving import serving


@dataclass
class Received:
    """One delivery attempt that reached the receiver."""

    headers: dict[str, str]
    body: bytes
    at: float
    answered: int

    @property
    def event(self) -> dict[str, Any]:
        """The parsed body."""
        import json

        value: dict[str, Any] = json.loads(self.body)
        return value


@dataclass
class Receiver:
    """Records deliveries; answers `fail_first` attempts with `fail_status`, then 200."""

    url: str = ""
    fail_first: int = 0
    fail_status: int = 500
    received: list[Received] = field(default_factory=list)

    def events(self, *, ok_only: bool = True) -> list[dict[str, Any]]:
        """Bodies of the recorded deliveries (only those answered 2xx by default)."""
        return [r.event for r in self.received if not ok_only or r.answered < 300]

    def types(self) -> list[str]:
        """Event types of the successful deliveries, in arrival order."""
        return [str(event["type"]) for event in self.events()]


@asynccontextmanager
async def running_receiver(
    *, fail_first: int = 0, fail_status: int = 500
) -> AsyncIterator[Receiver]:
    """Serve a receiver on a free port at `/webhooks/openai`."""
    receiver = Receiver(fail_first=fail_first, fail_status=fail_status)
    app = FastAPI()

    @app.post("/webhooks/openai")
    async def receive(request: Request) -> Response:
        body = await request.body()
        status = receiver.fail_status if len(receiver.received) < receiver.fail_first else 200
        receiver.received.append(Received(dict(request.headers), body, time.time(), status))
        return Response(status_code=status)

    async with serving(app) as served:
        receiver.url = f"{served.root_url}/webhooks/openai"
        yield receiver
