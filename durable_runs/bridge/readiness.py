"""`GET /readyz`: whether this bridge can deliver now, i.e. whether Temporal answers it.

`/healthz` says the process serves (liveness: restart it when that fails); `/readyz` says a
delivery can reach its workflow (readiness: a load balancer sends deliveries elsewhere while it
fails). The check is Temporal's gRPC health check of its workflow service, bounded by the
bridge's Temporal timeout; it does not call OpenAI, whose outages the sender's retries absorb.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from fastapi import APIRouter, Response, status
from pydantic import BaseModel
from temporalio.service import RPCError

from durable_runs.bridge.dependencies import State

READY_PATH = "/readyz"

router = APIRouter()


class Readiness(BaseModel):
    """The body of `GET /readyz`.

    Attributes:
        status: `ready`, or `not_ready` (answered with 503).
        reason: Why not ready (Temporal's error), when not.
    """

    status: str
    reason: str | None = None


@router.get(READY_PATH)
async def readyz(state: State, response: Response) -> Readiness:
    """200 when Temporal's workflow service answers the bridge's client; else 503 and why."""
    timeout_s = state.config.temporal_timeout_s
    try:
        async with asyncio.timeout(timeout_s):
            serving = await state.client.service_client.check_health(
                timeout=timedelta(seconds=timeout_s)
            )
    except TimeoutError:
        reason = f"Temporal did not answer within {timeout_s:g} s"
    except (RPCError, RuntimeError) as exc:  # RuntimeError: the lazy client's connect failed
        reason = f"Temporal unreachable: {exc}"
    else:
        if serving:
            return Readiness(status="ready")
        reason = "Temporal's workflow service is not serving"
    response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    return Readiness(status="not_ready", reason=reason)
