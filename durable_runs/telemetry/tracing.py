"""OpenTelemetry tracing: one replay-safe tracer provider per process, and Temporal's plugin.

Exporters come from the standard variables: `OTEL_TRACES_EXPORTER` names them (`otlp`,
`console`, any installed `opentelemetry_traces_exporter` entry point; `none`, the default, turns
tracing off), and each exporter reads its own settings (`OTEL_EXPORTER_OTLP_ENDPOINT`,
`OTEL_EXPORTER_OTLP_HEADERS`, ...). With tracing on, every Temporal client made with
`tracing_plugins()` carries the trace context in Temporal headers: a bridge delivery's signal,
the workflow's handling of it, and the activities it leads to are one trace.
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib.metadata import entry_points

from opentelemetry import trace
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import SpanProcessor
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from temporalio.contrib.opentelemetry import OpenTelemetryPlugin, create_tracer_provider
from temporalio.plugin import SimplePlugin

from durable_runs.settings import Settings

EXPORTER_GROUP = "opentelemetry_traces_exporter"
"""Entry-point group under which OpenTelemetry's exporter packages register their names."""


class UnknownExporterError(ValueError):
    """`OTEL_TRACES_EXPORTER` names an exporter no installed package provides."""


def exporter_names(settings: Settings) -> list[str]:
    """The exporters `OTEL_TRACES_EXPORTER` names (none for `none` or an empty value)."""
    names = [n.strip() for n in settings.otel_traces_exporter.split(",")]
    return [n for n in names if n and n != "none"]


def span_exporter(name: str) -> SpanExporter:
    """The span exporter an installed package registers as `name` (as the OTel SDK finds it).

    Raises:
        UnknownExporterError: No installed package provides it.
    """
    found = entry_points(group=EXPORTER_GROUP, name=name)
    if not found:
        known = sorted(e.name for e in entry_points(group=EXPORTER_GROUP))
        raise UnknownExporterError(
            f"OTEL_TRACES_EXPORTER names {name!r}; installed exporters: {', '.join(known)}"
        )
    exporter: SpanExporter = next(iter(found)).load()()
    return exporter


def install_tracing(
    settings: Settings, *, service_name: str, processors: Sequence[SpanProcessor] = ()
) -> bool:
    """Install the process's tracer provider, unless one is installed already.

    Args:
        settings: `OTEL_TRACES_EXPORTER` and `OTEL_SERVICE_NAME`.
        service_name: The service name when `OTEL_SERVICE_NAME` is unset.
        processors: More span processors (a test's in-memory exporter).

    Returns:
        Whether tracing is on in this process.

    Raises:
        UnknownExporterError: An exporter named is not installed.
    """
    if tracing_on():
        return True
    exporters = [span_exporter(name) for name in exporter_names(settings)]
    if not exporters and not processors:
        return False
    resource = Resource.create({SERVICE_NAME: settings.otel_service_name or service_name})
    # Replay-safe: spans of workflow code are not recorded again when a history replays.
    provider = create_tracer_provider(resource=resource)
    for exporter in exporters:
        provider.add_span_processor(BatchSpanProcessor(exporter))
    for processor in processors:
        provider.add_span_processor(processor)
    trace.set_tracer_provider(provider)
    return True


def tracing_on() -> bool:
    """Whether this process has a tracer provider installed (else spans go nowhere)."""
    return not isinstance(
        trace.get_tracer_provider(), trace.ProxyTracerProvider | trace.NoOpTracerProvider
    )


def tracing_plugins() -> list[SimplePlugin]:
    """Client plugins that trace Temporal calls and carry the context: none when tracing is off.

    Give them to `durable_runs.temporal.connect(plugins=...)`: the workers of that client trace
    their workflows and activities too.
    """
    return [OpenTelemetryPlugin(add_temporal_spans=True)] if tracing_on() else []
