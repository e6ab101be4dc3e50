"""Counters the tests and benchmarks read through `GET /_emulator/stats`."""

from __future__ import annotations

import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any, Literal

ObjectKind = Literal["run", "response"]


@dataclass
class WebhookDelivery:
    """When one webhook event (one `webhook-id`) was first tried and when a receiver took it."""

    type: str
    webhook_id: str
    first_attempt_at: float
    delivered_at: float | None = None
    attempts: int = 1

    def to_dict(self) -> dict[str, Any]:
        """JSON view."""
        return {
            "type": self.type,
            "webhook_id": self.webhook_id,
            "first_attempt_at": self.first_attempt_at,
            "delivered_at": self.delivered_at,
            "attempts": self.attempts,
        }


@dataclass
class ObjectStats:
    """Per run (or response) counters."""

    thread_id: str | None
    metadata: dict[str, str]
    calls: Counter[str] = field(default_factory=Counter)
    requests: list[dict[str, Any]] = field(default_factory=list)
    status_times: dict[str, float] = field(default_factory=dict)
    statuses: list[tuple[str, float]] = field(default_factory=list)
    webhooks: dict[str, WebhookDelivery] = field(default_factory=dict)

    def to_dict(self, object_id: str) -> dict[str, Any]:
        """JSON view."""
        return {
            "id": object_id,
            "thread_id": self.thread_id,
            "metadata": dict(self.metadata),
            "calls": dict(self.calls),
            "requests": list(self.requests),
            "status_times": dict(self.status_times),
            "statuses": [[status, at] for status, at in self.statuses],
            "webhooks": [delivery.to_dict() for delivery in self.webhooks.values()],
        }


@dataclass(frozen=True)
class ObjectRef:
    """Which run/response a request is about (enough to open its stats entry)."""

    kind: ObjectKind
    id: str
    thread_id: str | None
    metadata: dict[str, str]


WEBHOOK_COUNTERS = ("events", "attempts", "sent", "succeeded", "failed", "dropped", "gave_up")


class Stats:
    """Request, status and webhook counters. `reset()` clears them; objects are untouched."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Forget every counter."""
        self.started_at = time.time()
        self.calls: Counter[str] = Counter()
        self.calls_by_kind: Counter[str] = Counter()
        self.status_codes: Counter[str] = Counter()
        self.objects: dict[ObjectKind, dict[str, ObjectStats]] = {"run": {}, "response": {}}
        self.by_workflow: dict[ObjectKind, dict[str, list[str]]] = {"run": {}, "response": {}}
        self.webhooks: Counter[str] = Counter(dict.fromkeys(WEBHOOK_COUNTERS, 0))
        self.webhooks_by_type: Counter[str] = Counter()
        self._window: deque[float] = deque()
        self.requests_per_minute_peak = 0
        self.total_requests = 0

    def _entry(self, ref: ObjectRef) -> ObjectStats:
        entries = self.objects[ref.kind]
        entry = entries.get(ref.id)
        if entry is None:
            entry = entries[ref.id] = ObjectStats(ref.thread_id, dict(ref.metadata))
        return entry

    def register(self, ref: ObjectRef) -> None:
        """Open the entry of a new object and index it by its owning workflow."""
        self._entry(ref)
        workflow_id = ref.metadata.get("temporal_workflow_id")
        if workflow_id:
            ids = self.by_workflow[ref.kind].setdefault(workflow_id, [])
            if ref.id not in ids:
                ids.append(ref.id)

    def record_request(
        self, *, template: str, kind: str | None, ref: ObjectRef | None, status_code: int, at: float
    ) -> None:
        """Count one HTTP request by endpoint template, kind and object."""
        self.total_requests += 1
        self.calls[template] += 1
        self.status_codes[str(status_code)] += 1
        if kind is not None:
            self.calls_by_kind[kind] += 1
        if ref is not None and kind is not None:
            entry = self._entry(ref)
            entry.calls[kind] += 1
            entry.requests.append({"kind": kind, "at": at, "status_code": status_code})
        self._window.append(at)
        while self._window and self._window[0] < at - 60.0:
            self._window.popleft()
        self.requests_per_minute_peak = max(self.requests_per_minute_peak, len(self._window))

    def record_status(self, ref: ObjectRef, status: str, at: float) -> None:
        """Record that an object entered `status` at `at`."""
        entry = self._entry(ref)
        entry.status_times.setdefault(status, at)
        entry.statuses.append((status, at))

    def record_webhook_attempt(
        self, ref: ObjectRef, *, event_type: str, webhook_id: str, at: float
    ) -> None:
        """Record one delivery attempt of an object's event (copies share the `webhook_id`)."""
        deliveries = self._entry(ref).webhooks
        delivery = deliveries.get(webhook_id)
        if delivery is None:
            deliveries[webhook_id] = WebhookDelivery(event_type, webhook_id, at)
        else:
            delivery.attempts += 1

    def record_webhook_delivered(self, ref: ObjectRef, *, webhook_id: str, at: float) -> None:
        """Record that a receiver answered 2xx to an event (the first such answer counts)."""
        delivery = self._entry(ref).webhooks.get(webhook_id)
        if delivery is not None and delivery.delivered_at is None:
            delivery.delivered_at = at

    def webhook(self, counter: str, amount: int = 1) -> None:
        """Bump a webhook delivery counter."""
        self.webhooks[counter] += amount

    def snapshot(self) -> dict[str, Any]:
        """Everything, as JSON."""
        return {
            "since": self.started_at,
            "total_requests": self.total_requests,
            "calls": dict(self.calls),
            "calls_by_kind": dict(self.calls_by_kind),
            "status_codes": dict(self.status_codes),
            "runs": {key: value.to_dict(key) for key, value in self.objects["run"].items()},
            "responses": {
                key: value.to_dict(key) for key, value in self.objects["response"].items()
            },
            "runs_by_workflow": {k: list(v) for k, v in self.by_workflow["run"].items()},
            "responses_by_workflow": {k: list(v) for k, v in self.by_workflow["response"].items()},
            "requests_per_minute_peak": self.requests_per_minute_peak,
            "process_cpu_seconds": time.process_time(),
            "webhooks": dict(self.webhooks),
            "webhooks_by_type": dict(self.webhooks_by_type),
        }
