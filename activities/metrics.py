"""Our activity metrics, recorded through Temporal's metric meter (`activity.metric_meter()`).

The worker's runtime exports them beside Temporal's own (Prometheus with
`DURABLE_RUNS_METRICS_BIND`); with no metrics configured the meter is a no-op. One interceptor
records every API call where its outcome is known, so no activity counts its own calls:

- `durable_runs_api_calls{backend,kind,outcome}`: one per activity attempt of the `-openai`
  queue, which is one API request (a `poll` attempt that was not due yet made none and is not
  counted). `outcome` is `ok` (a `poll` read that saw no change included), `429`, `5xx`,
  `4xx`, `connection` (no answer, timeouts included) or `error` (refused before any request).
- `durable_runs_api_retry_after_seconds{backend,kind}`: the wait a 429 asked for.
- `durable_runs_api_budget_wait_seconds{backend,kind}`: schedule-to-start of an attempt on the
  `-openai` queue (where the server's rate limit and the worker's slots make calls wait).

The tool metrics live in `activities.tool_metrics`, away from the OpenAI SDK this module needs.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Final

import openai
from temporalio import activity
from temporalio.common import MetricMeter
from temporalio.exceptions import ApplicationError
from temporalio.worker import (
    ActivityInboundInterceptor,
    ExecuteActivityInput,
    Interceptor,
)

from durable_runs.activities.polling import NOT_DUE, UNCHANGED

API_CALLS: Final = "durable_runs_api_calls"
RETRY_AFTER: Final = "durable_runs_api_retry_after_seconds"
BUDGET_WAIT: Final = "durable_runs_api_budget_wait_seconds"

KINDS: Final = {
    "prepare": "prepare",
    "start": "create",
    "read": "read",
    "poll": "poll",
    "submit_tool_outputs": "submit",
    "cancel": "cancel",
    "answer": "answer",
}
"""Kind of call of each backend activity (`<backend>.<method>`), as the metrics label it."""


def api_call(activity_type: str) -> tuple[str, str] | None:
    """`(backend, kind)` of a backend activity type such as `responses.start`, else None."""
    backend, _, method = activity_type.partition(".")
    kind = KINDS.get(method)
    if backend not in ("responses", "assistants") or kind is None:
        return None
    return backend, kind


def outcome_of(error: BaseException | None) -> str | None:
    """The `outcome` label of an API call that ended with `error`; None when it made no call."""
    if error is None:
        return "ok"
    if isinstance(error, ApplicationError) and error.type == NOT_DUE:
        return None
    if isinstance(error, ApplicationError) and error.type == UNCHANGED:
        return "ok"
    cause = error if isinstance(error, openai.OpenAIError) else error.__cause__
    if isinstance(cause, openai.APIStatusError):
        status = cause.status_code
        if status == 429:
            return "429"
        return "5xx" if status >= 500 else "4xx"
    if isinstance(cause, openai.APIConnectionError):
        return "connection"
    return "error"


class _ApiCallMetrics(ActivityInboundInterceptor):
    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        info = activity.info()
        call = api_call(info.activity_type)
        if call is None:
            return await self.next.execute_activity(input)
        backend, kind = call
        labels = {"backend": backend, "kind": kind}
        meter = activity.metric_meter()
        waited = info.started_time - info.current_attempt_scheduled_time
        meter.create_histogram_timedelta(
            BUDGET_WAIT, "Schedule-to-start of API call attempts on the -openai queue.", "s"
        ).record(max(waited, timedelta()), labels)
        error: BaseException | None = None
        try:
            return await self.next.execute_activity(input)
        except BaseException as err:
            error = err
            raise
        finally:
            _record_call(meter, labels, error)


def _record_call(meter: MetricMeter, labels: dict[str, str], error: BaseException | None) -> None:
    outcome = outcome_of(error)
    if outcome is None:
        return
    meter.create_counter(API_CALLS, "OpenAI API calls by backend, kind and outcome.").add(
        1, {**labels, "outcome": outcome}
    )
    if outcome == "429" and isinstance(error, ApplicationError) and error.next_retry_delay:
        meter.create_histogram_timedelta(
            RETRY_AFTER, "Waits asked by 429 answers (Retry-After).", "s"
        ).record(error.next_retry_delay, labels)


class ActivityMetricsInterceptor(Interceptor):
    """Worker interceptor recording `durable_runs_api_*` for every backend activity attempt."""

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        """Wrap the activity chain with the API call metrics."""
        return _ApiCallMetrics(next)
