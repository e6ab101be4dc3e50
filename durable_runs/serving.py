"""Serving an ASGI app with real uvicorn as a task of the current event loop.

The emulator and the bridge run this way in tests, in the benchmark and in history recording.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import uvicorn
from starlette.types import ASGIApp

LISTEN_BACKLOG = 2048
"""Pending connections the listening socket queues (a burst of webhook deliveries)."""


def listening_socket(host: str, port: int) -> socket.socket:
    """A bound, listening TCP socket; port 0 picks a free one.

    The socket is made with `IPPROTO_TCP` as its protocol: asyncio turns Nagle's algorithm off
    (`TCP_NODELAY`) only on connections of such sockets. Without it, uvicorn's two writes of one
    response (head, then body) meet the client's delayed ACK, and every request on a busy
    keep-alive connection waits about 40 ms.

    Raises:
        OSError: The address cannot be bound.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(LISTEN_BACKLOG)
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    return sock


@dataclass(frozen=True)
class Served:
    """An app being served.

    Attributes:
        host: Interface it listens on.
        port: Port it listens on (the real one when 0 was asked).
        server: The uvicorn server.
    """

    host: str
    port: int
    server: uvicorn.Server

    @property
    def root_url(self) -> str:
        """`http://host:port`."""
        return f"http://{self.host}:{self.port}"


@asynccontextmanager
async def serving(
    app: ASGIApp, *, host: str = "127.0.0.1", port: int = 0, **options: Any
) -> AsyncIterator[Served]:
    """Serve `app` with uvicorn in the current loop until the block ends.

    The socket is bound here, not in uvicorn: a bind failure is then an `OSError` for the
    caller, not a `SystemExit` inside a task, and port 0 resolves before the server starts.

    Args:
        app: The ASGI app.
        host: Interface to bind.
        port: Port to bind; 0 picks a free one.
        **options: More `uvicorn.Config` arguments (`log_level` defaults to "warning").

    Yields:
        The app's address and server, once it accepts connections.

    Raises:
        OSError: The address cannot be bound.
        RuntimeError: The server stopped during startup (e.g. its lifespan failed).
    """
    sock = listening_socket(host, port)
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, **{"log_level": "warning", "lifespan": "on", **options})
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]), name=f"uvicorn {host}:{port}")
    try:
        while not server.started:
            if task.done():
                task.result()  # re-raise what stopped it
                raise RuntimeError("the server stopped during startup")
            await asyncio.sleep(0.01)
        yield Served(host=host, port=port, server=server)
    finally:
        server.should_exit = True
        await task
        sock.close()
