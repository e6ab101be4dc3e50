"""The bridge's per-app state: limits, counters, the verifier and its clients."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import asdict, dataclass, field
from typing import Literal, cast

from fastapi import Request
from openai import AsyncOpenAI
from temporalio.client import Client

from durable_runs.bridge.verify import DEFAULT_MAX_BODY_BYTES, DEFAULT_TOLERANCE_S, WebhookVerifier


@dataclass(frozen=True)
class BridgeConfig:
    """Limits of the webhook bridge (defaults suit OpenAI's deliveries).

    Attributes:
        max_body_bytes: Larger bodies are refused with 413.
        tolerance_s: Accepted distance between `webhook-timestamp` and now.
        temporal_timeout_s: Bound on one Temporal call; past it the answer is 503.
        api_timeout_s: Bound on one OpenAI read (routing `retrieve`); past it the answer is 503.
        seen_ids: How many recent `webhook-id`s to remember for the `duplicates` counter.
        signal_progress: Also signal progress-only run events (`thread.run.queued`,
            `in_progress`, `cancelling`). Off, they are acknowledged and ignored: they change
            nothing the run's loop does, and each signal costs the workflow a task. On, the
            run's status in the UI follows them.
    """

    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    tolerance_s: int = DEFAULT_TOLERANCE_S
    temporal_timeout_s: float = 5.0
    api_timeout_s: float = 5.0
    seen_ids: int = 10_000
    signal_progress: bool = False


@dataclass
class BridgeStats:
    """Counters served by `GET /healthz` (per process, since start).

    Attributes:
        received: Every `POST /webhooks/openai`.
        signalled: Events signalled to a workflow.
        duplicates: Signalled deliveries whose `webhook-id` this process had already signalled
            (signalled again all the same: the workflow dedups, across replicas and restarts).
        ignored: Verified events of types we do not route (`batch.*`, ...).
        not_ours: Verified events whose object names no workflow of ours in its metadata.
        unknown_response: Response events whose id the API does not know (404 on retrieve).
        unknown_run: Verified events for no known (or a closed) workflow.
        rejected_signature: 401s.
        bad_request: 400s (not UTF-8, not JSON, not an event).
        too_large: 413s.
        temporal_unavailable: 503s (Temporal unreachable or failing).
        api_unavailable: 503s (the OpenAI read rate limited, failing or unreachable).
        api_reads: OpenAI reads made (routing `retrieve`: one per response event).
        temporal_calls: Temporal calls made (signals, and list calls with `visibility`).
    """

    received: int = 0
    signalled: int = 0
    duplicates: int = 0
    ignored: int = 0
    not_ours: int = 0
    unknown_response: int = 0
    unknown_run: int = 0
    rejected_signature: int = 0
    bad_request: int = 0
    too_large: int = 0
    temporal_unavailable: int = 0
    api_unavailable: int = 0
    api_reads: int = 0
    temporal_calls: int = 0

    def as_dict(self) -> dict[str, int]:
        """The counters by name."""
        return asdict(self)


@dataclass
class BridgeState:
    """Everything a request needs, opened once by the app's lifespan.

    Attributes:
        config: Limits.
        verifier: Signature checker holding the accepted secrets.
        client: The Temporal client (lazy: the bridge starts while Temporal is down).
        routing: How response events find their workflow (`bridge.delivery`).
        openai: The OpenAI client of the `retrieve` routing; None with `visibility`.
        stats: Counters.
    """

    config: BridgeConfig
    verifier: WebhookVerifier
    client: Client
    routing: Literal["retrieve", "visibility"]
    openai: AsyncOpenAI | None
    stats: BridgeStats = field(default_factory=BridgeStats)
    _seen: OrderedDict[str, None] = field(default_factory=OrderedDict)

    def note_signalled(self, webhook_id: str) -> None:
        """Count a signalled delivery, and a duplicate when its id was signalled before."""
        self.stats.signalled += 1
        if webhook_id in self._seen:
            self.stats.duplicates += 1
            self._seen.move_to_end(webhook_id)
            return
        self._seen[webhook_id] = None
        while len(self._seen) > self.config.seen_ids:
            self._seen.popitem(last=False)


async def bridge_state(request: Request) -> BridgeState:
    """FastAPI dependency: the state the lifespan stored on the app.

    Async, as every dependency of the webhook route is: FastAPI runs a plain `def` dependency
    in its thread pool, a thread hand-off on every delivery.
    """
    return cast(BridgeState, request.app.state.bridge)
