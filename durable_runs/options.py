"""Timeouts, retry policies and priorities of the run workflow's activities, in one object.

A run uses its own `RunRequest.options` when it has them, else its worker's default (set with
`use_worker_defaults`, as `DurableRunsPlugin(options=...)` does), else the defaults of
`ActivityOptions` itself: `resolve` picks one whole object, fields are not merged.

Foundation layer: the workflow reads this module through the sandbox's pass-through, so the
worker default set here is the one its runs see; it imports pydantic, temporalio and the
standard library only.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import timedelta
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator
from temporalio.common import Priority, RetryPolicy

ActivityKind = Literal["prepare", "start", "read", "submit_tool_outputs", "cancel", "answer"]
"""The backend operations; `RunResult.api_calls` counts activity executions by these names."""

PAYLOADS_TOO_LARGE = "PayloadsTooLarge"
"""The SDK's error type for an activity result above Temporal's payload limit (with no
external storage to take it out of history)."""

PERMANENT_ERROR_TYPES = ("ValidationError", PAYLOADS_TOO_LARGE)
"""Errors no retry can fix, whatever activity raised them: pydantic refusing a value (an
activity's input, or an API object we cannot read) fails the same way on every attempt, and so
does a result too large for history. The activities mark their other permanent errors (4xx from
the API, unknown tools) non-retryable."""

Duration = Annotated[timedelta, Field(gt=timedelta(0))]
"""A positive duration (seconds as a number, or an ISO 8601 duration such as `PT20S`)."""
PriorityKey = Annotated[int, Field(ge=1, le=5)]
"""A task-queue priority: 1 goes first, 5 last (the server's default levels)."""


class CallPriorities(BaseModel):
    """Task-queue priority of each API call (1 goes first).

    When the rate budget binds, calls that move a started run on go ahead of the calls that
    begin new runs, and a cancel goes first of all.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    prepare: PriorityKey = 4
    start: PriorityKey = 3
    read: PriorityKey = 2
    submit_tool_outputs: PriorityKey = 2
    answer: PriorityKey = 2
    cancel: PriorityKey = 1

    def of(self, kind: ActivityKind) -> int:
        """The priority key of one kind of call."""
        keys: dict[ActivityKind, int] = {
            "prepare": self.prepare,
            "start": self.start,
            "read": self.read,
            "submit_tool_outputs": self.submit_tool_outputs,
            "answer": self.answer,
            "cancel": self.cancel,
        }
        return keys[kind]


class ActivityOptions(BaseModel):
    """How the run workflow schedules its activities: timeouts, retries and priorities.

    Attributes:
        api_call_timeout: Start-to-close timeout of one API call; short, so an attempt lost with
            a crashed worker is retried soon. Each call's retries end with the run's deadline
            (never sooner than this).
        api_retry_initial_interval: First wait before an API call's retry.
        api_retry_maximum_interval: Cap on the wait between an API call's retries.
        cancel_budget: How long the cancel of a run at the API is retried, deadline or not.
        tool_timeout: Start-to-close timeout of one tool call.
        tool_heartbeat_timeout: Tools heartbeat while they run, so a crashed worker's tool call
            is retried within this.
        tool_max_attempts: Attempts of one tool call (0: unlimited).
        priorities: Task-queue priority of each API call.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    api_call_timeout: Duration = timedelta(seconds=20)
    api_retry_initial_interval: Duration = timedelta(seconds=1)
    api_retry_maximum_interval: Duration = Field(
        default=timedelta(seconds=30), validate_default=True
    )
    cancel_budget: Duration = timedelta(minutes=2)
    tool_timeout: Duration = timedelta(minutes=5)
    tool_heartbeat_timeout: Duration = timedelta(seconds=10)
    tool_max_attempts: int = Field(default=5, ge=0)
    priorities: CallPriorities = CallPriorities()

    @field_validator("api_retry_maximum_interval")
    @classmethod
    def _not_below_the_initial_interval(cls, value: timedelta, info: ValidationInfo) -> timedelta:
        initial = info.data.get("api_retry_initial_interval")
        if initial is not None and value < initial:
            raise ValueError(
                f"must be at least api_retry_initial_interval ({initial.total_seconds():g} s)"
            )
        return value

    def api_retry_policy(self) -> RetryPolicy:
        """Retries of an API call: exponential between the two intervals, permanent errors
        not retried."""
        return RetryPolicy(
            initial_interval=self.api_retry_initial_interval,
            maximum_interval=self.api_retry_maximum_interval,
            non_retryable_error_types=list(PERMANENT_ERROR_TYPES),
        )

    def tool_retry_policy(self) -> RetryPolicy:
        """Retries of a tool call: up to `tool_max_attempts`, permanent errors not retried."""
        return RetryPolicy(
            maximum_attempts=self.tool_max_attempts,
            non_retryable_error_types=list(PERMANENT_ERROR_TYPES),
        )

    def priority(self, kind: ActivityKind) -> Priority:
        """The task-queue priority of one kind of API call."""
        return Priority(priority_key=self.priorities.of(kind))


DEFAULT_OPTIONS = ActivityOptions()
"""The built-in defaults."""

_worker_defaults: list[ActivityOptions] = []
"""Worker defaults set and not yet unset, oldest first: the last one applies."""


def use_worker_defaults(options: ActivityOptions) -> contextlib.AbstractContextManager[None]:
    """Make `options` the default of this process's runs while the context is entered.

    A run's own `RunRequest.options` still win. The default is one per process (the workflow
    reads it from this module): when several are set at once, the one set last applies until
    it is unset.

    Args:
        options: The defaults for runs that bring none of their own.

    Returns:
        A context manager; leaving it restores the default set before it.
    """
    return _worker_defaults_set(options)


@contextlib.contextmanager
def _worker_defaults_set(options: ActivityOptions) -> Iterator[None]:
    _worker_defaults.append(options)
    try:
        yield
    finally:
        _worker_defaults.remove(options)


def worker_defaults() -> ActivityOptions | None:
    """The default set with `use_worker_defaults`, if one is in effect."""
    return _worker_defaults[-1] if _worker_defaults else None


def resolve(run: ActivityOptions | None) -> ActivityOptions:
    """The options a run uses: its own, else the worker's default, else the built-in ones."""
    if run is not None:
        return run
    worker = worker_defaults()
    return worker if worker is not None else DEFAULT_OPTIONS
