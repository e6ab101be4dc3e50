"""The scale test's checks can fail: a missing run, a duplicated create, a wrong answer and an
event applied twice are each counted (planted in a clean record)."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

from durable_runs.models import RunResult, RunTimings
from tests.scale.checks import scale_problems

NOW = datetime(2026, 1, 1, tzinfo=UTC)
EXPECTED = {"wf-1": "7", "wf-2": "14"}


def result(workflow: str, answer: str, *, events: int = 1) -> RunResult:
    """A completed one-response run."""
    return RunResult(
        status="completed",
        backend="responses",
        answer=answer,
        response_ids=[f"resp-{workflow}"],
        events_applied=events,
        timings=RunTimings(started_at=NOW, finished_at=NOW),
    )


def response(workflow: str, at: float = 100.0) -> dict[str, Any]:
    """The emulator's record of a response created once for `workflow`."""
    return {
        "metadata": {"temporal_workflow_id": workflow, "durable_runs_step": "1"},
        "requests": [{"kind": "create_response", "at": at, "status_code": 200}],
        "status_times": {"queued": at},
    }


CLEAN_STATS: dict[str, Any] = {
    "responses": {f"resp-{w}": {"id": f"resp-{w}", **response(w)} for w in EXPECTED},
    "responses_by_workflow": {w: [f"resp-{w}"] for w in EXPECTED},
}
CLEAN_RESULTS = {"wf-1": result("wf-1", "7"), "wf-2": result("wf-2", "14")}
ZERO = {
    "lost": 0,
    "wrong_result": 0,
    "duplicate_creates": 0,
    "missing_creates": 0,
    "events_applied_twice": 0,
}


def test_a_clean_record_passes() -> None:
    """Every run completed once with its answer: all counts 0."""
    assert scale_problems(EXPECTED, CLEAN_RESULTS, CLEAN_STATS, []) == ZERO


def test_a_missing_run_is_lost() -> None:
    """A run without a result, never created at the API."""
    stats = copy.deepcopy(CLEAN_STATS)
    del stats["responses_by_workflow"]["wf-2"]
    results = {"wf-1": CLEAN_RESULTS["wf-1"]}
    assert scale_problems(EXPECTED, results, stats, []) == {
        **ZERO,
        "lost": 1,
        "missing_creates": 1,
    }


def test_a_duplicated_create_is_counted() -> None:
    """A second response for the same step of a run (a create done twice)."""
    stats = copy.deepcopy(CLEAN_STATS)
    stats["responses"]["resp-again"] = {"id": "resp-again", **response("wf-1", at=101.0)}
    stats["responses_by_workflow"]["wf-1"].append("resp-again")
    assert scale_problems(EXPECTED, CLEAN_RESULTS, stats, []) == {**ZERO, "duplicate_creates": 1}


def test_a_wrong_answer_and_a_doubly_applied_event_are_counted() -> None:
    """A run that ended with another answer; a run that applied its one event twice."""
    results = {"wf-1": result("wf-1", "8"), "wf-2": result("wf-2", "14", events=2)}
    assert scale_problems(EXPECTED, results, CLEAN_STATS, []) == {
        **ZERO,
        "wrong_result": 1,
        "events_applied_twice": 1,
    }
