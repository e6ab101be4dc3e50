"""The worker's metrics endpoint: Temporal's runtime telemetry, serving Prometheus text."""

from __future__ import annotations

from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig

from durable_runs.settings import Settings


def metrics_runtime(settings: Settings) -> Runtime | None:
    """A Temporal runtime serving Prometheus metrics on `DURABLE_RUNS_METRICS_BIND`.

    Give it to the worker's client (`durable_runs.temporal.connect(runtime=...)`): the
    endpoint then serves Temporal's SDK metrics (`temporal_*`) and ours (`durable_runs_*`,
    recorded through `activity.metric_meter()` and `workflow.metric_meter()`), durations in
    seconds.

    Args:
        settings: `metrics_bind` (`host:port`).

    Returns:
        The runtime, or None when no address is set (the default runtime, no endpoint).
    """
    if not settings.metrics_bind:
        return None
    prometheus = PrometheusConfig(bind_address=settings.metrics_bind, durations_as_seconds=True)
    return Runtime(telemetry=TelemetryConfig(metrics=prometheus))
