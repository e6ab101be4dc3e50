"""FastAPI dependencies: the bridge state, the Temporal client, and the verified event.

`Verified` reads the raw body first and checks its signature before anything parses it, so a
route that takes a `Verified` parameter only ever sees a verified, typed event.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from pydantic import ValidationError
from temporalio.client import Client

from durable_runs.bridge.state import BridgeState, bridge_state
from durable_runs.bridge.verify import REQUIRED_HEADERS, SignatureError, WebhookEvent

logger = logging.getLogger(__name__)

State = Annotated[BridgeState, Depends(bridge_state)]
"""The app's state, opened by its lifespan."""


async def temporal_client(state: State) -> Client:
    """FastAPI dependency: the Temporal client the lifespan opened."""
    return state.client


TemporalClient = Annotated[Client, Depends(temporal_client)]
"""The app's Temporal client."""


@dataclass(frozen=True)
class VerifiedEvent:
    """A delivery whose signature checked out, with its parsed event.

    Attributes:
        webhook_id: The `webhook-id` header: the same on every retry of one delivery.
        event: The parsed event.
    """

    webhook_id: str
    event: WebhookEvent


async def read_body(request: Request, *, max_bytes: int) -> bytes:
    """Read the raw body, refusing it as soon as it exceeds `max_bytes`.

    Args:
        request: The incoming request.
        max_bytes: Size limit.

    Returns:
        The body, byte for byte.

    Raises:
        HTTPException: 413 when the declared or the actual size exceeds the limit.
    """
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, "body too large")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, "body too large")
        chunks.append(chunk)
    return b"".join(chunks)


async def verified_event(request: Request, state: State) -> VerifiedEvent:
    """FastAPI dependency: read the raw body, verify its signature, then parse the event.

    Order matters: size (413), then the signature over the exact bytes (401), then parsing
    (400), so nothing parses or acts on input not proven to come from the sender.

    Args:
        request: The incoming request.
        state: The bridge state (limits, verifier, counters).

    Returns:
        The verified delivery.

    Raises:
        HTTPException: 413, 401 or 400; the matching counter is incremented.
    """
    state.stats.received += 1
    try:
        body = await read_body(request, max_bytes=state.config.max_body_bytes)
    except HTTPException:
        state.stats.too_large += 1
        raise
    try:
        payload = body.decode("utf-8")
    except UnicodeDecodeError:
        state.stats.bad_request += 1
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "body is not UTF-8") from None
    headers = {name: request.headers.get(name, "") for name in REQUIRED_HEADERS}
    # A signature header sent twice counts as one list of entries.
    headers["webhook-signature"] = " ".join(request.headers.getlist("webhook-signature"))
    try:
        webhook_id = state.verifier.verify(payload, headers)
    except SignatureError as exc:
        state.stats.rejected_signature += 1
        logger.warning("webhook rejected (401): %s", exc)
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "invalid webhook signature") from None
    try:
        event = WebhookEvent.model_validate_json(payload)
    except ValidationError:  # bad JSON and a non-event alike
        state.stats.bad_request += 1
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "body is not a webhook event") from None
    return VerifiedEvent(webhook_id=webhook_id, event=event)


Verified = Annotated[VerifiedEvent, Depends(verified_event)]
"""A route parameter that exists only when the delivery verified and parsed."""
