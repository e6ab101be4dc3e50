"""JSON logs: the worker's and the bridge's lines parse as JSON and carry the ids to search by.

The process's logging is configured as `durable-runs worker` and `durable-runs bridge` configure
it (`DURABLE_RUNS_LOG_FORMAT=json`); a run meets a 500 from the emulator, and a forged delivery
reaches the bridge.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from temporalio.client import Client

from durable_runs.bridge.server import RunningBridge
from durable_runs.models import PollPolicy
from durable_runs.settings import Settings
from durable_runs.telemetry.logs import configure_logging
from tests.conftest import WorkerFactory
from tests.webhooks.helpers import request, result_of, signed_delivery, start


@pytest.fixture
def json_logs() -> Iterator[io.StringIO]:
    """Logging as the commands configure it, JSON lines into a buffer; pytest's restored after."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    lines = io.StringIO()
    settings = Settings(DURABLE_RUNS_LOG_FORMAT="json", DURABLE_RUNS_LOG_LEVEL="info")
    configure_logging(settings, stream=lines)
    try:
        yield lines
    finally:
        root.handlers = handlers
        root.setLevel(level)


def json_lines(text: str) -> list[dict[str, Any]]:
    """Every line of `text` as JSON (each must parse)."""
    return [json.loads(line) for line in text.splitlines() if line.strip()]


async def test_api_errors_and_bridge_lines_are_json_with_their_ids(
    json_logs: io.StringIO,
    client: Client,
    worker_factory: WorkerFactory,
    bridge: RunningBridge,
    webhook_secret: str,
) -> None:
    failing_read = {"emu_server_error_next": "1", "emu_duration_ms": "300"}
    async with worker_factory(client) as queue:
        handle = await start(
            client, queue, request(backend="responses", poll=PollPolicy(), metadata=failing_read)
        )
        result = await result_of(handle)
    assert result.status == "completed"
    body, headers = signed_delivery(webhook_secret, "response.completed", {"id": "resp_x"})
    headers["webhook-signature"] = "v1,bm90IGEgc2lnbmF0dXJl"
    async with httpx.AsyncClient() as http:
        assert (await http.post(bridge.url, content=body, headers=headers)).status_code == 401

    lines = json_lines(json_logs.getvalue())
    api_errors = [line for line in lines if "openai_request_id" in line]
    assert api_errors, lines
    error = api_errors[0]
    assert error["workflow_id"] == handle.id
    assert error["run_id"] == handle.result_run_id
    assert error["openai_status"] == 500
    assert error["openai_request_id"].startswith("req_")
    assert error["openai_path"].startswith("/v1/responses/")
    assert error["level"] == "WARNING" and error["time"]
    # Temporal's own line for the failed attempt: the same ids, the request id in its message.
    failed = [line for line in lines if line["message"].startswith("Completing activity as failed")]
    assert any(
        line.get("workflow_id") == handle.id and error["openai_request_id"] in line["exc_info"]
        for line in failed
    )
    assert any(
        line["logger"] == "durable_runs.bridge.dependencies" and "401" in line["message"]
        for line in lines
    )
