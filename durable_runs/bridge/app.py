"""The webhook bridge: verify OpenAI's webhook deliveries and signal the run workflows.

Answers (a 5xx only where the sender's retry can succeed):

| case | answer |
|---|---|
| signature missing, bad, stale, or body changed | 401, nothing signalled |
| body not UTF-8 / JSON / an event | 400 |
| body over the size limit | 413 |
| event signalled to its workflow | 200 |
| event type not routed (`batch.*`, progress-only run events) | 200, `ignored` |
| object names no workflow of ours (a stranger in the same OpenAI project) | 200, `not_ours` |
| response the API does not know (404 on retrieve) | 200, `unknown_response` |
| the named workflow is closed or absent (or not in the visibility index) | 202, `unknown_run` |
| the OpenAI read rate limited, failing or unreachable | 503 with `Retry-After` |
| Temporal unreachable or failing | 503 with `Retry-After` |
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Literal

from fastapi import APIRouter, FastAPI, HTTPException, Response, status
from openai import AsyncOpenAI, DefaultAioHttpClient
from prometheus_client import CONTENT_TYPE_LATEST
from pydantic import BaseModel
from temporalio.client import Client
from temporalio.service import RPCError

from durable_runs.bridge.delivery import (
    REGISTER_COMMAND,
    Unavailable,
    retrieve_owner,
    signal,
    visibility_owner,
)
from durable_runs.bridge.dependencies import State, TemporalClient, Verified
from durable_runs.bridge.metrics import BridgeMetrics, Metrics
from durable_runs.bridge.readiness import router as readiness_router
from durable_runs.bridge.routing import EventDataError, Lookup, Target, Unrouted, route
from durable_runs.bridge.state import BridgeConfig, BridgeState
from durable_runs.bridge.tracing import LOOKUP_SPAN, SIGNAL_SPAN, DeliverySpans, tracer
from durable_runs.bridge.verify import WebhookVerifier
from durable_runs.search_attributes import SearchAttributesMissingError, ensure_registered
from durable_runs.settings import Settings, get_settings
from durable_runs.telemetry.tracing import install_tracing, tracing_plugins
from durable_runs.temporal import connect

logger = logging.getLogger(__name__)

WEBHOOK_PATH = "/webhooks/openai"
HEALTH_PATH = "/healthz"
METRICS_PATH = "/metrics"
BRIDGE_SERVICE = "durable-runs-bridge"
"""The bridge's OpenTelemetry service name when `OTEL_SERVICE_NAME` is unset."""
RETRY_AFTER_S = 5

MISSING_KEY = (
    "OPENAI_API_KEY is not set: the bridge reads each response an event names to find its run "
    "(DURABLE_RUNS_BRIDGE_ROUTING=retrieve). Set OPENAI_API_KEY (and OPENAI_BASE_URL for the "
    "emulator or another compatible server), the same values the worker uses."
)


class DeliveryResult(BaseModel):
    """What the bridge did with a verified delivery (the 2xx body).

    Attributes:
        status: `signalled`, or an `Unrouted` outcome (`ignored`, `not_ours`,
            `unknown_response`, `unknown_run`).
        event_type: The event's type.
        workflow_id: The workflow signalled.
    """

    status: Literal["signalled", "ignored", "not_ours", "unknown_response", "unknown_run"]
    event_type: str
    workflow_id: str | None = None


router = APIRouter()


@router.get(HEALTH_PATH)
async def healthz(state: State) -> dict[str, int | str]:
    """Liveness, the routing, and this process's counters (`received`, `signalled`, ...)."""
    return {"status": "ok", "routing": state.routing, **state.stats.as_dict()}


@router.get(METRICS_PATH)
async def metrics(metrics: Metrics) -> Response:
    """Prometheus metrics: deliveries by outcome (the `/healthz` counters), lookup and signal
    latency."""
    return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST)


@router.post(WEBHOOK_PATH)
async def receive_webhook(
    delivery: Verified,
    state: State,
    client: TemporalClient,
    response: Response,
    metrics: Metrics,
) -> DeliveryResult:
    """Route one verified event to its workflow as a `run_event` signal.

    Raises:
        HTTPException: 400 when a routed event's data is malformed; 503 when OpenAI or
            Temporal cannot answer now.
    """
    event = delivery.event
    try:
        routed = route(
            event, webhook_id=delivery.webhook_id, signal_progress=state.config.signal_progress
        )
    except EventDataError as exc:
        state.stats.bad_request += 1
        logger.warning("webhook %s rejected (400): %s", delivery.webhook_id, exc)
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "event data is malformed") from None
    try:
        if isinstance(routed, Lookup):
            with (
                tracer.start_as_current_span(LOOKUP_SPAN),
                metrics.lookup_seconds.labels(state.routing).time(),
            ):
                routed = await _find_owner(state, client, routed)
        if isinstance(routed, Target):
            with (
                tracer.start_as_current_span(
                    SIGNAL_SPAN, attributes={"temporalWorkflowID": routed.workflow_id}
                ),
                metrics.signal_seconds.time(),
            ):
                signalled = await signal(
                    client, routed, state.stats, timeout_s=state.config.temporal_timeout_s
                )
            if not signalled:
                routed = Unrouted(
                    "unknown_run", f"workflow {routed.workflow_id} is closed or absent"
                )
    except Unavailable as exc:
        if exc.service == "OpenAI":
            state.stats.api_unavailable += 1
        else:
            state.stats.temporal_unavailable += 1
        logger.error("webhook %s not delivered (503): %s", delivery.webhook_id, exc)
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            f"{exc.service} is unavailable; retry later",
            headers={"Retry-After": str(RETRY_AFTER_S)},
        ) from None
    if isinstance(routed, Unrouted):
        return _unrouted(state, delivery.webhook_id, event.type, routed, response)
    state.note_signalled(delivery.webhook_id)
    logger.info(
        "webhook %s (%s) signalled to %s", delivery.webhook_id, event.type, routed.workflow_id
    )
    return DeliveryResult(status="signalled", event_type=event.type, workflow_id=routed.workflow_id)


async def _find_owner(state: BridgeState, client: Client, lookup: Lookup) -> Target | Unrouted:
    if state.openai is not None:
        return await retrieve_owner(state.openai, lookup, state.stats)
    return await visibility_owner(
        client, lookup, state.stats, timeout_s=state.config.temporal_timeout_s
    )


def _unrouted(
    state: BridgeState, webhook_id: str, event_type: str, unrouted: Unrouted, response: Response
) -> DeliveryResult:
    stats = state.stats
    outcome = unrouted.outcome
    if outcome == "unknown_run":
        # Counted and accepted: the run's safety poll covers an event it did not get.
        stats.unknown_run += 1
        response.status_code = status.HTTP_202_ACCEPTED
        logger.warning("webhook %s (%s): %s", webhook_id, event_type, unrouted.reason)
    else:
        if outcome == "ignored":
            stats.ignored += 1
        elif outcome == "not_ours":
            stats.not_ours += 1
        else:
            stats.unknown_response += 1
        logger.info("webhook %s (%s) %s: %s", webhook_id, event_type, outcome, unrouted.reason)
    return DeliveryResult(status=outcome, event_type=event_type)


async def _register_search_attributes(client: Client, timeout_s: float) -> None:
    """Visibility routing: make sure `OpenAIRunId` exists, or say at start-up what does it."""
    try:
        async with asyncio.timeout(timeout_s):
            await ensure_registered(client)
    except (RPCError, SearchAttributesMissingError, TimeoutError, RuntimeError) as exc:
        logger.warning(
            "could not check or register the search attributes (%s); until a worker or `%s` "
            "registers them, response events are answered 503",
            exc,
            REGISTER_COMMAND,
        )


async def _connect_early(client: Client, timeout_s: float) -> None:
    """Open the lazy client's connection with one health check; failures wait for an event."""
    try:
        async with asyncio.timeout(timeout_s):
            await client.service_client.check_health()
    except (RPCError, RuntimeError, TimeoutError) as exc:
        logger.info("Temporal not reachable yet (%s); the first delivery will connect", exc)


def create_app(settings: Settings | None = None, *, config: BridgeConfig | None = None) -> FastAPI:
    """Build the bridge app.

    The lifespan opens one lazy Temporal client (so the bridge starts, and answers 503, while
    Temporal is down), the signature verifier, and, with the `retrieve` routing, the OpenAI
    client; with `visibility` it registers the search attributes if they are missing.

    Args:
        settings: Webhook secrets (`webhook_secrets`: current first, then previous ones), the
            Temporal address, the routing, and the OpenAI key and base URL; `get_settings()`
            when None.
        config: Limits; defaults when None.

    Returns:
        The FastAPI app serving `POST /webhooks/openai`, `GET /healthz`, `GET /readyz`
            and `GET /metrics`.

    Raises:
        ValueError: When no webhook secret is configured, or the `retrieve` routing has no
            `OPENAI_API_KEY`.
    """
    settings = settings if settings is not None else get_settings()
    if config is None:
        config = BridgeConfig(
            max_body_bytes=settings.webhook_max_bytes, signal_progress=settings.webhook_progress
        )
    secrets = settings.webhook_secrets
    if not secrets:
        raise ValueError("the bridge needs OPENAI_WEBHOOK_SECRET (whsec_...) to verify webhooks")
    routing = settings.bridge_routing
    if routing == "retrieve" and settings.openai_api_key is None:
        raise ValueError(MISSING_KEY)
    bridge_config = config

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        verifier = WebhookVerifier(secrets, tolerance_s=bridge_config.tolerance_s)
        client = await connect(settings, lazy=True, plugins=tracing_plugins())
        openai = None
        if settings.openai_api_key is not None and routing == "retrieve":
            openai = AsyncOpenAI(
                api_key=settings.openai_api_key.get_secret_value(),
                base_url=settings.openai_base_url,
                max_retries=0,  # the sender retries a 503: one read per attempt
                timeout=bridge_config.api_timeout_s,
                # aiohttp's connection pool: httpx's assigns queued requests to connections
                # at a cost that grows with both, which a burst of deliveries makes quadratic.
                http_client=DefaultAioHttpClient(timeout=bridge_config.api_timeout_s),
            )
            _ = openai.responses  # the SDK loads a resource on first use: not on the first event
            # Connect now, in the background: the first event for a run then signals over an
            # open connection, and the bridge still starts while Temporal is down.
            warm_up = asyncio.create_task(_connect_early(client, bridge_config.temporal_timeout_s))
        else:
            warm_up = None
            await _register_search_attributes(client, bridge_config.temporal_timeout_s)
        app.state.bridge = state = BridgeState(
            config=bridge_config, verifier=verifier, client=client, routing=routing, openai=openai
        )
        app.state.metrics = BridgeMetrics(state.stats)
        try:
            yield
        finally:
            if warm_up is not None:
                warm_up.cancel()
            await verifier.aclose()
            if openai is not None:
                await openai.close()

    app = FastAPI(title="durable-runs webhook bridge", lifespan=lifespan)
    app.include_router(router)
    if install_tracing(settings, service_name=BRIDGE_SERVICE):
        app.add_middleware(DeliverySpans, path=WEBHOOK_PATH)
    app.include_router(readiness_router)
    return app
