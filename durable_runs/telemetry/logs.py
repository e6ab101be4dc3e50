"""Logging of the worker and the bridge: plain lines, or one JSON object per line.

`DURABLE_RUNS_LOG_FORMAT=json` writes each record as JSON (python-json-logger) with the
record's extra fields, and lifts the ids an operator searches by to the top level: Temporal's
`activity.logger` and `workflow.logger` put the workflow's details in `temporal_activity` /
`temporal_workflow`, and an API error's line carries `openai_request_id` (OpenAI's
`x-request-id`) and the request path (which names the response).
"""

from __future__ import annotations

import logging
import sys
from typing import Any, TextIO

from pythonjsonlogger.json import JsonFormatter

from durable_runs.settings import Settings

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"
JSON_FIELDS = ("asctime", "levelname", "name", "message")
LIFTED = {
    "workflow_id": "workflow_id",
    "run_id": "run_id",
    "workflow_run_id": "run_id",
    "workflow_type": "workflow_type",
    "activity_type": "activity_type",
    "attempt": "attempt",
}
"""Keys of Temporal's `temporal_activity` / `temporal_workflow` extras copied to the top,
under these names."""

QUIET_LOGGERS = ("httpx", "httpx2")
"""HTTP clients that log every request at INFO (one line per API call)."""


class RunJsonFormatter(JsonFormatter):
    """JSON lines with the Temporal ids at the top level (`workflow_id`, `run_id`, ...)."""

    def add_fields(
        self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]
    ) -> None:
        """Add the record's fields, then the ids from Temporal's extras."""
        super().add_fields(log_data, record, message_dict)
        for extra in ("temporal_activity", "temporal_workflow"):
            details = log_data.get(extra)
            if isinstance(details, dict):
                for key, name in LIFTED.items():
                    if key in details:
                        log_data.setdefault(name, details[key])


def formatter(settings: Settings) -> logging.Formatter:
    """The formatter `DURABLE_RUNS_LOG_FORMAT` asks for."""
    if settings.log_format == "json":
        return RunJsonFormatter(
            list(JSON_FIELDS),
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
        )
    return logging.Formatter(TEXT_FORMAT)


def configure_logging(settings: Settings, stream: TextIO | None = None) -> None:
    """Send every logger's records to stderr in the configured format and level.

    Replaces the root logger's handlers (a process configures its logging once, at start).

    Args:
        settings: `DURABLE_RUNS_LOG_FORMAT` and `DURABLE_RUNS_LOG_LEVEL`.
        stream: Where the lines go (default: stderr).
    """
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(formatter(settings))
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(settings.log_level.upper())
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
