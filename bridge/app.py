"""The webhook bridge: verify OpenAI's webhook deliveries and signal the run workflows.

Answers (a 5xx only where the sender's retry can succeed):

| case | answer |
|---|---|
| signature missing, bad, stale, or body changed | 401, nothing signalled |
| body not UTF-8 / JSON / an event | 400 |
| body over the size limit | 413 |
| event signalled to its workflow | 200 |
| event type not routed (`batch.*`, ...) | 200, ignored |
| no workflow for the run, or it is closed | 202, counted (the workflow's safety poll covers it) |
| Temporal unreachable or failing | 503 with `Retry-After`: the retry delivers it |
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Literal

from fastapi import APIRouter, FastAPI, HTTPException, Response, status
from pydantic import BaseModel
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from bridge.dependencies import State, TemporalClient, Verified
from bridge.routing import EventDataError, Ignored, Target, route
from bridge.state import BridgeConfig, BridgeState
from bridge.verify import WebhookVerifier
from durable_runs.settings import Settings, get_settings
from durable_runs.temporal import connect
from workflows.run import AssistantRunWorkflow

logger = logging.getLogger(__name__)

WEBHOOK_PATH = "/webhooks/openai"
HEALTH_PATH = "/healthz"
RETRY_AFTER_S = 5


class DeliveryResult(BaseModel):
    """What the bridge did with a verified delivery (the 2xx body).

    Attributes:
        status: `signalled`, `unknown_run` or `ignored`.
        event_type: The event's type.
        workflow_id: The workflow signalled.
    """

    status: Literal["signalled", "unknown_run", "ignored"]
    event_type: str
    workflow_id: str | None = None


class TemporalUnavailable(Exception):
    """Temporal could not take the signal now; the sender should retry (503)."""


router = APIRouter()


@router.get(HEALTH_PATH)
async def healthz(state: State) -> dict[str, int | str]:
    """Liveness plus this process's counters (`received`, `signalled`, `unknown_run`, ...)."""
    return {"status": "ok", **state.stats.as_dict()}


@router.post(WEBHOOK_PATH)
async def receive_webhook(
    delivery: Verified, state: State, client: TemporalClient, response: Response
) -> DeliveryResult:
    """Route one verified event to its workflow as a `run_event` signal.

    Raises:
        HTTPException: 400 when a routed event's data is malformed; 503 when Temporal is
            unavailable.
    """
    event = delivery.event
    try:
        target = route(
            event, webhook_id=delivery.webhook_id, signal_progress=state.config.signal_progress
        )
    except EventDataError as exc:
        state.stats.bad_request += 1
        logger.warning("webhook %s rejected (400): %s", delivery.webhook_id, exc)
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "event data is malformed") from None
    if isinstance(target, Ignored):
        state.stats.ignored += 1
        logger.info("webhook %s ignored: %s", delivery.webhook_id, target.reason)
        return DeliveryResult(status="ignored", event_type=event.type)
    try:
        workflow_id = await _deliver(client, target, state.config)
    except TemporalUnavailable as exc:
        state.stats.temporal_unavailable += 1
        logger.error("webhook %s not delivered (503): %s", delivery.webhook_id, exc)
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            "Temporal is unavailable; retry later",
            headers={"Retry-After": str(RETRY_AFTER_S)},
        ) from None
    if workflow_id is None:
        state.stats.unknown_run += 1
        logger.warning(
            "webhook %s (%s) is for no running workflow: %s",
            delivery.webhook_id,
            event.type,
            target.run_event.object_id,
        )
        response.status_code = status.HTTP_202_ACCEPTED
        return DeliveryResult(status="unknown_run", event_type=event.type)
    state.note_signalled(delivery.webhook_id)
    logger.info("webhook %s (%s) signalled to %s", delivery.webhook_id, event.type, workflow_id)
    return DeliveryResult(status="signalled", event_type=event.type, workflow_id=workflow_id)


async def _deliver(client: Client, target: Target, config: BridgeConfig) -> str | None:
    """Signal the target's workflow; the workflow id, or None when there is none (or closed).

    Raises:
        TemporalUnavailable: Temporal is unreachable, failing, or slower than the bound.
    """
    rpc_timeout = timedelta(seconds=config.temporal_timeout_s)
    try:
        workflow_id = target.workflow_id
        if workflow_id is None:
            # The client retries an unavailable server on its own: bound the whole call.
            async with asyncio.timeout(config.lookup_timeout_s + config.temporal_timeout_s):
                workflow_id = await find_workflow_id(
                    client,
                    target.visibility_query,
                    timeout_s=config.lookup_timeout_s,
                    rpc_timeout=rpc_timeout,
                )
            if workflow_id is None:
                return None
        async with asyncio.timeout(config.temporal_timeout_s):
            await client.get_workflow_handle(workflow_id).signal(
                AssistantRunWorkflow.run_event, target.run_event, rpc_timeout=rpc_timeout
            )
        return workflow_id
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:  # no such workflow, or it already closed
            return None
        raise TemporalUnavailable(f"{exc.status.name}: {exc.message}") from exc
    except TimeoutError as exc:
        raise TemporalUnavailable("Temporal did not answer in time") from exc
    except RuntimeError as exc:
        # A lazy client that cannot connect raises a plain RuntimeError from its core.
        if str(exc).startswith("Failed client connect"):
            raise TemporalUnavailable(str(exc)) from exc
        raise


async def find_workflow_id(
    client: Client, query: str, *, timeout_s: float, rpc_timeout: timedelta
) -> str | None:
    """Find a workflow by visibility query, retrying briefly (visibility lags behind upserts).

    Args:
        client: Temporal client.
        query: A list filter, e.g. `OpenAIRunId = "resp_123"`.
        timeout_s: How long to keep looking before answering None.
        rpc_timeout: Bound on each list call.

    Returns:
        The id of the most recently started match, or None.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    delay = 0.1
    while True:
        async for execution in client.list_workflows(query, limit=1, rpc_timeout=rpc_timeout):
            return execution.id
        remaining = deadline - loop.time()
        if remaining <= 0:
            return None
        await asyncio.sleep(min(delay, remaining))
        delay = min(delay * 2, 0.5)


def create_app(settings: Settings | None = None, *, config: BridgeConfig | None = None) -> FastAPI:
    """Build the bridge app.

    The lifespan opens one lazy Temporal client (so the bridge starts, and answers 503, while
    Temporal is down) and the signature verifier.

    Args:
        settings: Webhook secrets (`webhook_secrets`: current first, then previous ones) and
            the Temporal address; `get_settings()` when None.
        config: Limits; defaults when None.

    Returns:
        The FastAPI app serving `POST /webhooks/openai` and `GET /healthz`.

    Raises:
        ValueError: When no webhook secret is configured.
    """
    settings = settings if settings is not None else get_settings()
    if config is None:
        config = BridgeConfig(
            max_body_bytes=settings.webhook_max_bytes, signal_progress=settings.webhook_progress
        )
    secrets = settings.webhook_secrets
    if not secrets:
        raise ValueError("the bridge needs OPENAI_WEBHOOK_SECRET (whsec_...) to verify webhooks")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        verifier = WebhookVerifier(secrets, tolerance_s=config.tolerance_s)
        client = await connect(settings, lazy=True)
        app.state.bridge = BridgeState(config=config, verifier=verifier, client=client)
        try:
            yield
        finally:
            await verifier.aclose()

    app = FastAPI(title="durable-runs webhook bridge", lifespan=lifespan)
    app.include_router(router)
    return app
