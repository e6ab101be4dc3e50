"""A round-robin TCP load balancer for tests: each connection goes to the next live backend.

Like a TCP (layer 4) balancer in front of bridge replicas: a backend that refuses the
connection (a dead replica) is skipped for that connection, and a connection that breaks is
closed on both sides, so the client's retry lands on a live replica.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

CHUNK = 65536


@dataclass
class Balancer:
    """The running balancer.

    Attributes:
        port: Where it listens (127.0.0.1).
        backends: `(host, port)` of each replica.
        connections: Connections handed to each backend, by its index.
    """

    port: int
    backends: Sequence[tuple[str, int]]
    connections: list[int] = field(default_factory=list)

    @property
    def root_url(self) -> str:
        """`http://127.0.0.1:port`."""
        return f"http://127.0.0.1:{self.port}"


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError, OSError):
        while data := await reader.read(CHUNK):
            writer.write(data)
            await writer.drain()
    with contextlib.suppress(ConnectionError, OSError):
        writer.close()


@asynccontextmanager
async def round_robin(backends: Sequence[tuple[str, int]]) -> AsyncIterator[Balancer]:
    """Serve a round-robin balancer over `backends` on a free port until the block ends."""
    turns = itertools.cycle(range(len(backends)))
    balancer = Balancer(port=0, backends=backends, connections=[0] * len(backends))

    async def handle(
        client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter
    ) -> None:
        for _ in backends:
            index = next(turns)
            host, port = backends[index]
            try:
                upstream_reader, upstream_writer = await asyncio.open_connection(host, port)
            except OSError:
                continue  # a dead replica: try the next one
            balancer.connections[index] += 1
            await asyncio.gather(
                _pipe(client_reader, upstream_writer), _pipe(upstream_reader, client_writer)
            )
            return
        client_writer.close()  # no replica alive: the client sees the connection closed

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    balancer.port = server.sockets[0].getsockname()[1]
    async with server:
        yield balancer
