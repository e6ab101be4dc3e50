"""One span per webhook delivery; the route adds `lookup` and `signal` spans under it.

The signal carries the trace context to the workflow (the client has Temporal's OpenTelemetry
plugin: `durable_runs.telemetry.tracing`), so the delivery, the workflow's handling of the
event and the activities that follow are one trace.
"""

from __future__ import annotations

from opentelemetry import propagate, trace
from opentelemetry.context import Context
from starlette.types import ASGIApp, Message, Receive, Scope, Send

tracer = trace.get_tracer("durable_runs.bridge")
"""The bridge's tracer (a no-op until a tracer provider is installed)."""

DELIVERY_SPAN = "webhook delivery"
LOOKUP_SPAN = "lookup"
SIGNAL_SPAN = "signal"


class DeliverySpans:
    """ASGI middleware: a server span around each `POST` to `path`, with its status code.

    Outside the route's dependencies, so refused deliveries (401, 400, 413) have their span.
    """

    def __init__(self, app: ASGIApp, *, path: str) -> None:
        """Args: app: the wrapped app; path: the webhook endpoint."""
        self._app = app
        self._path = path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve the request, inside a span when it is a delivery."""
        if scope["type"] != "http" or scope["path"] != self._path or scope["method"] != "POST":
            await self._app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        attributes = {"webhook.id": headers.get("webhook-id", "")}
        # The sender's trace context if it sent one (W3C `traceparent`), else a new trace:
        # never whatever context the server's task happens to carry.
        parent = propagate.extract(headers, context=Context())
        with tracer.start_as_current_span(
            DELIVERY_SPAN, context=parent, kind=trace.SpanKind.SERVER, attributes=attributes
        ) as span:

            async def send_noting_status(message: Message) -> None:
                if message["type"] == "http.response.start":
                    span.set_attribute("http.response.status_code", message["status"])
                await send(message)

            await self._app(scope, receive, send_noting_status)
