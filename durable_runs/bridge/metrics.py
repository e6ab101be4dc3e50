"""The bridge's Prometheus metrics (`GET /metrics`): its delivery counters and two latencies.

The counters are the ones `/healthz` serves (`BridgeStats`), read at scrape time, so nothing is
counted twice. Each app has a registry of its own (several bridges may share a process).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, cast

from fastapi import Depends, Request
from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector

from durable_runs.bridge.state import BridgeStats

DELIVERIES = "durable_runs_bridge_deliveries"
"""Counter by `outcome`: every delivery received ends in exactly one."""

OUTCOMES: dict[str, tuple[str, ...]] = {
    "signalled": ("signalled",),
    "ignored": ("ignored",),
    "not_ours": ("not_ours",),
    "unknown_response": ("unknown_response",),
    "unknown_run": ("unknown_run",),
    "401": ("rejected_signature",),
    "400": ("bad_request",),
    "413": ("too_large",),
    "503": ("temporal_unavailable", "api_unavailable"),
}
"""Each `outcome` label and the `BridgeStats` counters it sums."""

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
"""Seconds: a lookup or a signal takes milliseconds, and is cut off at 5 s (503)."""


class _StatsCollector(Collector):
    """Serves `BridgeStats` as counters at scrape time."""

    def __init__(self, stats: BridgeStats) -> None:
        self._stats = stats

    def collect(self) -> Iterator[CounterMetricFamily]:
        counts = self._stats.as_dict()
        deliveries = CounterMetricFamily(
            DELIVERIES, "Webhook deliveries by outcome.", labels=["outcome"]
        )
        for outcome, fields in OUTCOMES.items():
            deliveries.add_metric([outcome], sum(counts[f] for f in fields))
        yield deliveries
        unavailable = CounterMetricFamily(
            "durable_runs_bridge_unavailable",
            "Deliveries answered 503, by the service that could not answer.",
            labels=["service"],
        )
        unavailable.add_metric(["temporal"], counts["temporal_unavailable"])
        unavailable.add_metric(["openai"], counts["api_unavailable"])
        yield unavailable
        for name, doc in (
            ("received", "Webhook deliveries received."),
            ("duplicates", "Signalled deliveries whose webhook-id this process signalled before."),
            ("api_reads", "OpenAI reads made to find a response's run."),
            ("temporal_calls", "Temporal calls made (signals, visibility lookups)."),
        ):
            yield CounterMetricFamily(f"durable_runs_bridge_{name}", doc, value=counts[name])


class BridgeMetrics:
    """One bridge app's metrics registry.

    Attributes:
        registry: What `GET /metrics` serves.
        lookup_seconds: Finding the run of an id-only event, by routing.
        signal_seconds: Signalling the workflow.
    """

    def __init__(self, stats: BridgeStats) -> None:
        """Args: stats: the app's counters, served as they are at each scrape."""
        self.registry = CollectorRegistry()
        self.registry.register(_StatsCollector(stats))
        self.lookup_seconds = Histogram(
            "durable_runs_bridge_lookup_seconds",
            "Time to find the run of an id-only event (OpenAI read or visibility query).",
            ["routing"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.signal_seconds = Histogram(
            "durable_runs_bridge_signal_seconds",
            "Time to signal the run's workflow.",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )

    def render(self) -> bytes:
        """The Prometheus text exposition of everything registered."""
        return generate_latest(self.registry)


async def bridge_metrics(request: Request) -> BridgeMetrics:
    """FastAPI dependency: the metrics the lifespan stored on the app."""
    return cast(BridgeMetrics, request.app.state.metrics)


Metrics = Annotated[BridgeMetrics, Depends(bridge_metrics)]
"""The app's metrics."""
