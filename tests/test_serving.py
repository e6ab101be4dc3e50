"""In-loop serving (emulator, bridge, test receivers): connections answer without Nagle's delay."""

from __future__ import annotations

import socket

import httpx
import pytest
from fastapi import FastAPI

from durable_runs.serving import listening_socket, serving


async def test_served_connections_have_nagle_off() -> None:
    app = FastAPI()

    @app.get("/ping")
    async def ping() -> dict[str, str]:
        return {"pong": "yes"}

    async with serving(app) as served, httpx.AsyncClient() as http:
        for _ in range(3):  # one keep-alive connection, several requests
            response = await http.get(f"{served.root_url}/ping")
            assert response.json() == {"pong": "yes"}
        connections = served.server.server_state.connections
        assert connections
        for connection in connections:
            sock = connection.transport.get_extra_info("socket")
            # Off, a response's head and body (two writes) wait on the client's delayed ACK.
            assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0


async def test_port_zero_picks_a_free_port_and_a_taken_port_is_an_os_error() -> None:
    async with serving(FastAPI()) as served:
        assert served.port != 0
        with pytest.raises(OSError):
            listening_socket("127.0.0.1", served.port).close()
