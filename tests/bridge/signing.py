"""Signing test deliveries with the independent Standard Webhooks library (not our code)."""

from __future__ import annotations

import base64
import json
import os
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from standardwebhooks import Webhook


def new_secret() -> str:
    """A fresh `whsec_` secret."""
    return "whsec_" + base64.b64encode(os.urandom(32)).decode()


def signed_headers(
    secret: str, body: str, *, webhook_id: str | None = None, timestamp: int | None = None
) -> dict[str, str]:
    """The three Standard Webhooks headers for `body`, signed by `standardwebhooks`."""
    msg_id = webhook_id or f"wh_{uuid.uuid4().hex}"
    ts = int(time.time()) if timestamp is None else timestamp
    signature = Webhook(secret).sign(msg_id, datetime.fromtimestamp(ts, tz=UTC), body)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(ts),
        "webhook-signature": signature,
        "content-type": "application/json",
    }


def run_object(
    run_id: str, *, workflow_id: str | None, status: str = "completed"
) -> dict[str, Any]:
    """An Assistants run as a `thread.run.*` event carries it."""
    metadata = (
        {"temporal_workflow_id": workflow_id, "durable_runs_step": "1"} if workflow_id else {}
    )
    return {
        "id": run_id,
        "object": "thread.run",
        "created_at": int(time.time()),
        "assistant_id": "asst_test",
        "thread_id": "thread_test",
        "status": status,
        "model": "gpt-4o-mini",
        "instructions": "",
        "tools": [],
        "parallel_tool_calls": True,
        "metadata": metadata,
        "usage": {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7},
    }


def event_body(event_type: str, data: dict[str, Any]) -> str:
    """A webhook event envelope, serialized."""
    return json.dumps(
        {
            "id": f"evt_{uuid.uuid4().hex}",
            "object": "event",
            "created_at": int(time.time()),
            "type": event_type,
            "data": data,
        }
    )
