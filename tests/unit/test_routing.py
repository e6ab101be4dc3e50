"""Where a verified webhook event goes: a workflow to signal, an id to look up, or nowhere."""

from __future__ import annotations

from typing import Any

import pytest

from durable_runs.bridge.routing import (
    PROGRESS_STATUSES,
    EventDataError,
    Lookup,
    Target,
    Unrouted,
    route,
)
from durable_runs.bridge.verify import WebhookEvent
from durable_runs.models import WORKFLOW_ID_METADATA_KEY

WEBHOOK_ID = "wh_unit_1"
CREATED_AT = 1_700_000_000


def event(event_type: str, data: dict[str, Any]) -> WebhookEvent:
    """A verified event envelope, as the bridge hands it to `route`."""
    return WebhookEvent.model_validate(
        {
            "id": "evt_unit",
            "object": "event",
            "type": event_type,
            "created_at": CREATED_AT,
            "data": data,
        }
    )


def run(
    run_id: str = "run_abc",
    *,
    status: str = "completed",
    metadata: dict[str, str] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """An Assistants run as a `thread.run.*` event carries it."""
    return {
        "id": run_id,
        "object": "thread.run",
        "created_at": CREATED_AT,
        "assistant_id": "asst_unit",
        "thread_id": "thread_unit",
        "status": status,
        "model": "gpt-4o-mini",
        "instructions": "",
        "tools": [],
        "parallel_tool_calls": True,
        "metadata": {} if metadata is None else metadata,
        **extra,
    }


def ours(workflow_id: str = "wf-1") -> dict[str, str]:
    """Run metadata naming the owning workflow."""
    return {WORKFLOW_ID_METADATA_KEY: workflow_id, "durable_runs_step": "1"}


# --- thread.run.* ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "status", ["completed", "failed", "cancelled", "expired", "incomplete", "requires_action"]
)
def test_run_event_naming_its_workflow_targets_it_with_the_snapshot(status: str) -> None:
    """The run names its workflow in metadata: signal it, the run itself as the snapshot."""
    extra: dict[str, Any] = {}
    if status == "requires_action":
        extra["required_action"] = {
            "type": "submit_tool_outputs",
            "submit_tool_outputs": {
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'},
                    }
                ]
            },
        }
    routed = route(
        event(f"thread.run.{status}", run(status=status, metadata=ours("wf-7"), **extra)),
        webhook_id=WEBHOOK_ID,
    )
    assert isinstance(routed, Target)
    assert routed.workflow_id == "wf-7"
    assert routed.run_event.event_id == WEBHOOK_ID
    assert routed.run_event.type == f"thread.run.{status}"
    assert routed.run_event.object_id == "run_abc"
    assert routed.run_event.created_at == CREATED_AT
    snapshot = routed.run_event.snapshot
    assert snapshot is not None
    assert snapshot.object_id == "run_abc"
    assert snapshot.status == status
    assert snapshot.thread_id == "thread_unit"
    assert snapshot.needs_tool_outputs == (status == "requires_action")
    if status == "requires_action":
        assert [(c.id, c.name) for c in snapshot.tool_calls] == [("call_1", "get_weather")]


@pytest.mark.parametrize(
    "metadata",
    [
        {},
        {"someone_else": "x"},
        {WORKFLOW_ID_METADATA_KEY: ""},
    ],
)
def test_run_event_naming_no_workflow_is_not_ours(metadata: dict[str, str]) -> None:
    """A stranger's run (no workflow id, or an empty one) is acknowledged, signalled nowhere."""
    routed = route(event("thread.run.completed", run(metadata=metadata)), webhook_id=WEBHOOK_ID)
    assert isinstance(routed, Unrouted)
    assert routed.outcome == "not_ours"


def test_run_event_with_null_metadata_is_not_ours() -> None:
    """`metadata: null` is a run with no owner, not an error."""
    data = run()
    data["metadata"] = None
    routed = route(event("thread.run.completed", data), webhook_id=WEBHOOK_ID)
    assert isinstance(routed, Unrouted)
    assert routed.outcome == "not_ours"


@pytest.mark.parametrize("status", sorted(PROGRESS_STATUSES))
def test_progress_run_events_are_ignored_by_default(status: str) -> None:
    """Nothing waits on progress-only events: acknowledge, signal nothing."""
    routed = route(
        event(f"thread.run.{status}", run(status=status, metadata=ours())),
        webhook_id=WEBHOOK_ID,
    )
    assert isinstance(routed, Unrouted)
    assert routed.outcome == "ignored"


@pytest.mark.parametrize("status", sorted(PROGRESS_STATUSES))
def test_progress_run_events_are_signalled_when_asked(status: str) -> None:
    """`signal_progress` routes them like any other run event."""
    routed = route(
        event(f"thread.run.{status}", run(status=status, metadata=ours("wf-p"))),
        webhook_id=WEBHOOK_ID,
        signal_progress=True,
    )
    assert isinstance(routed, Target)
    assert routed.workflow_id == "wf-p"
    assert routed.run_event.snapshot is not None
    assert routed.run_event.snapshot.status == status


def test_progress_stranger_is_ignored_before_ownership_is_asked() -> None:
    """A progress event is ignored whoever owns it (the cheaper check comes first)."""
    routed = route(event("thread.run.queued", run(status="queued")), webhook_id=WEBHOOK_ID)
    assert isinstance(routed, Unrouted)
    assert routed.outcome == "ignored"


def test_progress_stranger_signalled_on_request_is_still_not_ours() -> None:
    """With `signal_progress`, a stranger's progress event is still signalled nowhere."""
    routed = route(
        event("thread.run.in_progress", run(status="in_progress")),
        webhook_id=WEBHOOK_ID,
        signal_progress=True,
    )
    assert isinstance(routed, Unrouted)
    assert routed.outcome == "not_ours"


@pytest.mark.parametrize(
    "data",
    [
        {"id": "run_1"},
        {**run(metadata=ours()), "status": "no_such_status"},
        {**run(metadata=ours()), "created_at": "yesterday"},
    ],
)
def test_run_event_whose_data_is_not_a_run_is_a_data_error(data: dict[str, Any]) -> None:
    """A `thread.run.*` type promises a run: anything else is the sender's error (400)."""
    with pytest.raises(EventDataError, match=r"thread\.run\.completed data is not a run"):
        route(event("thread.run.completed", data), webhook_id=WEBHOOK_ID)


@pytest.mark.parametrize("run_id", ["run/../../admin", "run 1", "run_" + "x" * 200, ""])
def test_run_event_with_a_malformed_id_is_a_data_error(run_id: str) -> None:
    """Ids go into URLs and visibility queries: only ids OpenAI could mint pass."""
    with pytest.raises(EventDataError, match="unexpected object id"):
        route(event("thread.run.completed", run(run_id, metadata=ours())), webhook_id=WEBHOOK_ID)


# --- response.* --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "event_type",
    ["response.completed", "response.failed", "response.cancelled", "response.incomplete"],
)
def test_response_event_is_a_lookup_by_id(event_type: str) -> None:
    """A response event carries only an id: its owner is found later, by a lookup."""
    routed = route(event(event_type, {"id": "resp_123"}), webhook_id=WEBHOOK_ID)
    assert isinstance(routed, Lookup)
    assert routed.object_id == "resp_123"
    assert routed.run_event.event_id == WEBHOOK_ID
    assert routed.run_event.type == event_type
    assert routed.run_event.snapshot is None
    assert routed.run_event.created_at == CREATED_AT


@pytest.mark.parametrize("data", [{}, {"id": 123}, {"id": None}, {"response_id": "resp_1"}])
def test_response_event_without_a_string_id_is_a_data_error(data: dict[str, Any]) -> None:
    """A `response.*` event must name the response."""
    with pytest.raises(EventDataError, match=r"response\.completed data has no id"):
        route(event("response.completed", data), webhook_id=WEBHOOK_ID)


@pytest.mark.parametrize(
    "object_id", ["resp_1' OR WorkflowId != '", "../resp_1", "resp 1", "", "r" * 129]
)
def test_response_event_with_a_malformed_id_is_a_data_error(object_id: str) -> None:
    """The id goes into a URL path or a visibility query: reject anything else."""
    with pytest.raises(EventDataError, match="unexpected object id"):
        route(event("response.completed", {"id": object_id}), webhook_id=WEBHOOK_ID)


def test_longest_accepted_id() -> None:
    """128 id characters pass."""
    routed = route(event("response.completed", {"id": "r" * 128}), webhook_id=WEBHOOK_ID)
    assert isinstance(routed, Lookup)


# --- everything else ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("event_type", "data"),
    [
        ("thread.run.step.completed", {"id": "step_1", "run_id": "run_1"}),
        ("thread.run.step.created", run(metadata=ours())),
        ("batch.completed", {"id": "batch_1"}),
        ("fine_tuning.job.succeeded", {"id": "ftjob_1"}),
        ("eval.run.succeeded", {"id": "evalrun_1"}),
        ("realtime.call.incoming", {"call_id": "rtc_1"}),
        ("response.output_text.delta", {"id": "resp_1"}),
        ("thread.run", run(metadata=ours())),
        ("thread.run.Completed", run(metadata=ours())),
        ("xthread.run.completed", run(metadata=ours())),
        ("response", {"id": "resp_1"}),
    ],
)
def test_other_event_types_are_ignored(event_type: str, data: dict[str, Any]) -> None:
    """Types we do not route are acknowledged, whatever their data, and signal nothing."""
    routed = route(event(event_type, data), webhook_id=WEBHOOK_ID)
    assert isinstance(routed, Unrouted)
    assert routed.outcome == "ignored"
    assert event_type in routed.reason
