"""The bridge over real HTTP (uvicorn), signalling a real Temporal dev server: the envelope,
signatures, `thread.run.*` events (the emulator extension), limits, replicas, Temporal down.

Signals go to `tests.bridge.recording.RecordingWorkflow`. Response events: `test_response_routing`.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from durable_runs.bridge.server import RunningBridge, running_bridge
from durable_runs.bridge.state import BridgeConfig
from durable_runs.devserver import start_dev_environment
from durable_runs.processes import free_port
from tests.bridge.recording import (
    OLD_SECRET,
    SECRET,
    RecordingWorkflow,
    address_of,
    counters,
    events_of,
    post,
    recorder,
    settings_for,
    signals_in_history,
)
from tests.bridge.signing import event_body, new_secret, run_object, signed_headers

# --- the happy paths -------------------------------------------------------------------------


async def test_thread_run_event_signed_by_standardwebhooks_is_signalled_with_snapshot(
    client: Client, queue: str, bridge: RunningBridge, http: httpx.AsyncClient
) -> None:
    handle = await recorder(client, queue)
    body = event_body("thread.run.completed", run_object("run_abc", workflow_id=handle.id))
    headers = signed_headers(SECRET, body)
    before = await counters(http, bridge)

    response = await post(http, bridge.url, body, headers)

    assert response.status_code == 200, response.text
    assert response.json() == {
        "status": "signalled",
        "event_type": "thread.run.completed",
        "workflow_id": handle.id,
    }
    [event] = await events_of(handle, 1)
    assert event.event_id == headers["webhook-id"]
    assert event.type == "thread.run.completed"
    assert event.object_id == "run_abc"
    assert event.created_at == json.loads(body)["created_at"]
    assert event.snapshot is not None
    assert event.snapshot.status == "completed"
    assert event.snapshot.thread_id == "thread_test"
    assert event.snapshot.usage is not None and event.snapshot.usage.total_tokens == 7
    after = await counters(http, bridge)
    assert after["received"] == before["received"] + 1
    assert after["signalled"] == before["signalled"] + 1


async def test_thread_run_event_without_our_metadata_is_not_ours(
    client: Client, queue: str, bridge: RunningBridge, http: httpx.AsyncClient
) -> None:
    before = await counters(http, bridge)
    body = event_body("thread.run.completed", run_object("run_stranger", workflow_id=None))
    response = await post(http, bridge.url, body, signed_headers(SECRET, body))
    assert (response.status_code, response.json()["status"]) == (200, "not_ours")
    after = await counters(http, bridge)
    assert after["not_ours"] == before["not_ours"] + 1
    assert after["temporal_calls"] == before["temporal_calls"]


async def test_previous_secret_still_accepted_during_rotation(
    client: Client, queue: str, bridge: RunningBridge, http: httpx.AsyncClient
) -> None:
    handle = await recorder(client, queue)
    for secret in (OLD_SECRET, SECRET):
        body = event_body("thread.run.completed", run_object("run_rot", workflow_id=handle.id))
        response = await post(http, bridge.url, body, signed_headers(secret, body))
        assert response.status_code == 200, response.text
    assert len(await events_of(handle, 2)) == 2


async def test_batch_event_is_acknowledged_and_ignored(
    bridge: RunningBridge, http: httpx.AsyncClient
) -> None:
    before = await counters(http, bridge)
    body = event_body("batch.completed", {"id": "batch_123"})
    response = await post(http, bridge.url, body, signed_headers(SECRET, body))
    assert response.status_code == 200
    assert response.json()["status"] == "ignored"
    after = await counters(http, bridge)
    assert after["ignored"] == before["ignored"] + 1
    assert after["signalled"] == before["signalled"]


@pytest.mark.parametrize("status", ["queued", "in_progress", "cancelling"])
async def test_progress_event_is_acknowledged_and_not_signalled(
    client: Client, queue: str, bridge: RunningBridge, http: httpx.AsyncClient, status: str
) -> None:
    handle = await recorder(client, queue)
    body = event_body(
        f"thread.run.{status}", run_object("run_p", workflow_id=handle.id, status=status)
    )
    response = await post(http, bridge.url, body, signed_headers(SECRET, body))
    assert (response.status_code, response.json()["status"]) == (200, "ignored")
    # The workflow hears the next routed event, and only that one.
    body = event_body("thread.run.completed", run_object("run_p", workflow_id=handle.id))
    response = await post(http, bridge.url, body, signed_headers(SECRET, body))
    assert response.json()["status"] == "signalled"
    [event] = await events_of(handle, 1)
    assert event.type == "thread.run.completed"
    assert await signals_in_history(handle) == 1


async def test_progress_events_are_signalled_when_asked_for(
    client: Client, queue: str, temporal_env: WorkflowEnvironment, http: httpx.AsyncClient
) -> None:
    settings = settings_for(address_of(temporal_env.client)).model_copy(
        update={"webhook_progress": True}
    )
    handle = await recorder(client, queue)
    async with running_bridge(settings) as bridge:
        body = event_body(
            "thread.run.in_progress",
            run_object("run_q", workflow_id=handle.id, status="in_progress"),
        )
        response = await post(http, bridge.url, body, signed_headers(SECRET, body))
    assert response.json()["status"] == "signalled"
    [event] = await events_of(handle, 1)
    assert event.type == "thread.run.in_progress"


async def test_run_step_event_is_ignored(bridge: RunningBridge, http: httpx.AsyncClient) -> None:
    body = event_body("thread.run.step.completed", {"id": "step_1", "run_id": "run_1"})
    response = await post(http, bridge.url, body, signed_headers(SECRET, body))
    assert (response.status_code, response.json()["status"]) == (200, "ignored")


# --- unknown runs ----------------------------------------------------------------------------


async def test_run_naming_a_missing_workflow_is_accepted_and_counted(
    bridge: RunningBridge, http: httpx.AsyncClient
) -> None:
    before = await counters(http, bridge)
    body = event_body("thread.run.completed", run_object("run_x", workflow_id="no-such-wf"))
    response = await post(http, bridge.url, body, signed_headers(SECRET, body))
    assert (response.status_code, response.json()["status"]) == (202, "unknown_run")
    assert (await counters(http, bridge))["unknown_run"] == before["unknown_run"] + 1


async def test_closed_workflow_is_unknown(
    client: Client, queue: str, bridge: RunningBridge, http: httpx.AsyncClient
) -> None:
    handle = await recorder(client, queue)
    await handle.signal(RecordingWorkflow.finish)
    await handle.result()
    body = event_body("thread.run.completed", run_object("run_late", workflow_id=handle.id))
    response = await post(http, bridge.url, body, signed_headers(SECRET, body))
    assert response.status_code == 202


# --- rejections: nothing is signalled --------------------------------------------------------


def _forged(headers: dict[str, str]) -> dict[str, str]:
    sig = headers["webhook-signature"]
    flipped = sig[:10] + ("A" if sig[10] != "A" else "B") + sig[11:]
    return {**headers, "webhook-signature": flipped}


def _drop(name: str) -> Any:
    return lambda headers: {k: v for k, v in headers.items() if k != name}


REJECTS: dict[str, Any] = {
    "forged signature": lambda body, wid: (body, _forged(signed_headers(SECRET, body))),
    "wrong secret": lambda body, wid: (body, signed_headers(new_secret(), body)),
    "stale timestamp": lambda body, wid: (
        body,
        signed_headers(SECRET, body, timestamp=int(time.time()) - 301 - 1),
    ),
    "future timestamp": lambda body, wid: (
        body,
        signed_headers(SECRET, body, timestamp=int(time.time()) + 301 + 1),
    ),
    "tampered body": lambda body, wid: (
        body.replace('"completed"', '"cancelled"'),
        signed_headers(SECRET, body),
    ),
    "missing webhook-id": lambda body, wid: (
        body,
        _drop("webhook-id")(signed_headers(SECRET, body)),
    ),
    "missing webhook-timestamp": lambda body, wid: (
        body,
        _drop("webhook-timestamp")(signed_headers(SECRET, body)),
    ),
    "missing webhook-signature": lambda body, wid: (
        body,
        _drop("webhook-signature")(signed_headers(SECRET, body)),
    ),
}


@pytest.mark.parametrize("case", list(REJECTS))
async def test_unverified_delivery_is_401_and_signals_nothing(
    case: str, client: Client, queue: str, bridge: RunningBridge, http: httpx.AsyncClient
) -> None:
    handle = await recorder(client, queue)
    body = event_body("thread.run.completed", run_object("run_bad", workflow_id=handle.id))
    sent_body, headers = REJECTS[case](body, handle.id)
    before = await counters(http, bridge)

    response = await post(http, bridge.url, sent_body, headers)

    assert response.status_code == 401, response.text
    after = await counters(http, bridge)
    assert after["rejected_signature"] == before["rejected_signature"] + 1
    assert after["signalled"] == before["signalled"]
    assert await signals_in_history(handle) == 0
    # The same event, properly signed, does get through (so the workflow was reachable).
    ok = await post(http, bridge.url, body, signed_headers(SECRET, body))
    assert ok.status_code == 200
    assert await signals_in_history(handle) == 1


@pytest.mark.parametrize(
    ("body", "why"),
    [
        ("this is not json", "not JSON"),
        ('{"test": 2432232314}', "JSON but not an event"),
        ('[{"type": "response.completed"}]', "a list"),
        (event_body("thread.run.completed", {"id": "run_1"}), "run event without a run"),
        (event_body("response.completed", {"status": "completed"}), "response event without id"),
        (event_body("response.completed", {"id": 'resp_1" OR "x'}), "id that is no id"),
    ],
)
async def test_verified_but_malformed_body_is_400(
    body: str, why: str, bridge: RunningBridge, http: httpx.AsyncClient
) -> None:
    before = await counters(http, bridge)
    response = await post(http, bridge.url, body, signed_headers(SECRET, body))
    assert response.status_code == 400, why
    assert (await counters(http, bridge))["bad_request"] == before["bad_request"] + 1


async def test_non_utf8_body_is_400(bridge: RunningBridge, http: httpx.AsyncClient) -> None:
    response = await http.post(bridge.url, content=b"\xff\xfe", headers=signed_headers(SECRET, "x"))
    assert response.status_code == 400


async def test_oversize_body_is_413(bridge: RunningBridge, http: httpx.AsyncClient) -> None:
    before = await counters(http, bridge)
    body = event_body("batch.completed", {"id": "batch_1", "pad": "x" * (1 << 20)})
    response = await post(http, bridge.url, body, signed_headers(SECRET, body))
    assert response.status_code == 413
    assert (await counters(http, bridge))["too_large"] == before["too_large"] + 1


async def test_oversize_chunked_body_without_length_is_413(
    bridge: RunningBridge, http: httpx.AsyncClient
) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(20):
            yield b"x" * (64 * 1024)

    response = await http.post(bridge.url, content=chunks(), headers=signed_headers(SECRET, "x"))
    assert response.status_code == 413


async def test_body_at_the_limit_is_accepted(
    bridge: RunningBridge, http: httpx.AsyncClient
) -> None:
    body = event_body("batch.completed", {"id": "batch_1", "pad": ""})
    body = body.replace('"pad": ""', '"pad": "' + "x" * ((1 << 20) - len(body)) + '"')
    assert len(body.encode()) == 1 << 20
    response = await post(http, bridge.url, body, signed_headers(SECRET, body))
    assert response.status_code == 200


# --- duplicates and replicas -----------------------------------------------------------------


async def test_duplicate_webhook_id_is_signalled_again(
    client: Client, queue: str, bridge: RunningBridge, http: httpx.AsyncClient
) -> None:
    """The bridge does not dedup: the workflow does (it survives bridge restarts, replicas)."""
    handle = await recorder(client, queue)
    body = event_body("thread.run.completed", run_object("run_dup", workflow_id=handle.id))
    headers = signed_headers(SECRET, body)
    before = await counters(http, bridge)
    for _ in range(2):
        response = await post(http, bridge.url, body, headers)
        assert response.status_code == 200
    first, second = await events_of(handle, 2)
    assert first.event_id == second.event_id == headers["webhook-id"]
    after = await counters(http, bridge)
    assert after["signalled"] == before["signalled"] + 2
    assert after["duplicates"] == before["duplicates"] + 1


async def test_two_replicas_both_accept_the_same_event(
    temporal_env: WorkflowEnvironment, client: Client, queue: str, http: httpx.AsyncClient
) -> None:
    handle = await recorder(client, queue)
    body = event_body("thread.run.completed", run_object("run_rep", workflow_id=handle.id))
    headers = signed_headers(SECRET, body)
    settings = settings_for(address_of(temporal_env.client))
    async with running_bridge(settings) as one, running_bridge(settings) as two:
        assert one.port != two.port
        responses = await asyncio.gather(
            post(http, one.url, body, headers), post(http, two.url, body, headers)
        )
    assert [r.status_code for r in responses] == [200, 200]
    events = await events_of(handle, 2)
    assert {e.event_id for e in events} == {headers["webhook-id"]}


# --- Temporal down ---------------------------------------------------------------------------


async def test_temporal_unreachable_is_503_then_the_retry_succeeds(http: httpx.AsyncClient) -> None:
    port = free_port()
    workflow_id = f"late-{uuid.uuid4()}"
    body = event_body("thread.run.completed", run_object("run_503", workflow_id=workflow_id))
    headers = signed_headers(SECRET, body)
    config = BridgeConfig(temporal_timeout_s=1.0)
    async with running_bridge(settings_for(f"127.0.0.1:{port}"), config=config) as bridge:
        response = await post(http, bridge.url, body, headers)
        assert response.status_code == 503
        assert response.headers["retry-after"]
        assert (await counters(http, bridge))["temporal_unavailable"] == 1

        env = await start_dev_environment(port=port)
        async with env:
            handle = await env.client.start_workflow(
                RecordingWorkflow.run, None, id=workflow_id, task_queue="nobody-polls"
            )
            retried = await post(http, bridge.url, body, headers)  # the sender's retry
            assert retried.status_code == 200, retried.text
            assert await signals_in_history(handle) == 1
            health = await counters(http, bridge)
            assert (health["signalled"], health["temporal_unavailable"]) == (1, 1)

        # Temporal goes away under a connected client: still a bounded 503, not a hang.
        started = time.monotonic()
        response = await post(http, bridge.url, body, signed_headers(SECRET, body))
        assert response.status_code == 503
        assert time.monotonic() - started < 3
