"""The codec server: Temporal's remote codec protocol over our payload encryption.

The Temporal UI and the `temporal` CLI (`--codec-endpoint`) send the payloads they hold to
`POST /decode` (and `POST /encode`) as `{"payloads": [...]}`, Temporal's protobuf JSON, with the
namespace in `X-Namespace`, and show what comes back. So those who can reach this server (and
hold its token, when one is set) read prompts and answers in clear; Temporal itself never does.
The browser calls it directly from the UI's page: CORS admits the UI origins configured.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable, Sequence
from typing import Annotated

import uvicorn
from fastapi import Depends, FastAPI, Header, HTTPException, Request, Response
from fastapi.middleware.cors import CORSMiddleware
from google.protobuf import json_format
from temporalio.api.common.v1 import Payload, Payloads

from durable_runs.payloads.encryption import EncryptionCodec, PayloadDecryptionError
from durable_runs.settings import Settings

ENCODE_PATH = "/encode"
DECODE_PATH = "/decode"
DEFAULT_PORT = 8081
"""The port of Temporal's codec server samples."""
ALLOWED_HEADERS = ["content-type", "x-namespace", "authorization"]
"""What the UI sends with a codec request (authorization when it passes a token)."""

Transform = Callable[[Sequence[Payload]], Awaitable[list[Payload]]]


class CodecServerConfigError(ValueError):
    """The codec server cannot start: no encryption key is configured."""


def cors_origins(settings: Settings) -> list[str]:
    """The origins of `DURABLE_RUNS_CODEC_CORS_ORIGINS` (comma-separated, trailing `/` dropped)."""
    return [o.strip().rstrip("/") for o in settings.codec_cors_origins.split(",") if o.strip()]


def create_app(settings: Settings) -> FastAPI:
    """The codec server's app for the keys, token, namespace and UI origins of `settings`.

    Args:
        settings: `codec_keys` (required), `codec_token`, `codec_cors_origins` and the
            namespace the keys belong to (`temporal_namespace`).

    Raises:
        CodecServerConfigError: `DURABLE_RUNS_CODEC_KEYS` is not set.
    """
    if not settings.codec_keys:
        raise CodecServerConfigError(
            "DURABLE_RUNS_CODEC_KEYS is not set: the codec server needs the keys the workers use"
        )
    codec = EncryptionCodec(settings.codec_keys)
    token = settings.codec_token.get_secret_value() if settings.codec_token else None
    namespace = settings.temporal_namespace

    def authorized(authorization: Annotated[str | None, Header()] = None) -> None:
        if token is None:
            return
        scheme, _, given = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.encode(), token.encode()):
            raise HTTPException(
                status_code=401,
                detail="a bearer token is required",
                headers={"WWW-Authenticate": "Bearer"},
            )

    def same_namespace(x_namespace: Annotated[str | None, Header()] = None) -> None:
        if x_namespace is not None and x_namespace != namespace:
            raise HTTPException(
                status_code=403,
                detail=f"this codec server holds the keys of namespace {namespace!r}, "
                f"not {x_namespace!r}",
            )

    app = FastAPI(
        title="durable-runs codec server",
        dependencies=[Depends(authorized), Depends(same_namespace)],
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.add_middleware(
        CORSMiddleware,
        allow_origins=cors_origins(settings),
        allow_methods=["POST"],
        allow_headers=ALLOWED_HEADERS,
        allow_credentials=True,
    )

    async def apply(transform: Transform, request: Request) -> Response:
        try:
            payloads = json_format.Parse(await request.body(), Payloads())
        except json_format.ParseError as err:
            raise HTTPException(
                status_code=400, detail=f"expected {{'payloads': [...]}}: {err}"
            ) from err
        try:
            done = await transform(payloads.payloads)
        except PayloadDecryptionError as err:
            raise HTTPException(status_code=400, detail=str(err)) from err
        return Response(
            json_format.MessageToJson(Payloads(payloads=done)), media_type="application/json"
        )

    @app.post(ENCODE_PATH)
    async def encode(request: Request) -> Response:
        """Encrypt the payloads with the current key."""
        return await apply(codec.encode, request)

    @app.post(DECODE_PATH)
    async def decode(request: Request) -> Response:
        """Decrypt the payloads (unencrypted ones come back as they are)."""
        return await apply(codec.decode, request)

    return app


def serve(
    settings: Settings, host: str = "127.0.0.1", port: int = DEFAULT_PORT, log_level: str = "info"
) -> None:
    """Serve the codec server until interrupted (`durable-runs codec-server`).

    Raises:
        CodecServerConfigError: `DURABLE_RUNS_CODEC_KEYS` is not set.
    """
    uvicorn.run(create_app(settings), host=host, port=port, log_level=log_level)
