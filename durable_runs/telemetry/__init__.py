"""Observability from settings: Prometheus metrics, OpenTelemetry traces, structured logs."""
