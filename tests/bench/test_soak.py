"""The soak's verdict can fail: planted doubled effects, stray effects, duplicate responses,
unexpected statuses and a soak without a kill each fail it; a real soak with a non-idempotent
tool and a kill inside a tool fails on the doubled effect."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bench.ledger import Application
from bench.soak import BACKENDS, Kill, faults, soak, summarize
from durable_runs.models import RunResult, RunTimings

NOW = datetime(2026, 1, 1, tzinfo=UTC)
PLAN = [[{"name": "record_effect", "arguments": {"item": "a"}}]]


def result(status: str = "completed", ids: tuple[str, ...] = ("resp_1", "resp_2")) -> RunResult:
    """A finished run's result."""
    timings = RunTimings(started_at=NOW, finished_at=NOW)
    return RunResult(status=status, backend="responses", response_ids=list(ids), timings=timings)


def response(step: int, *, create_status: int = 200, at: float = 100.0) -> dict[str, Any]:
    """The emulator's stats entry of one response of workflow `wf` at `step`."""
    return {
        "metadata": {
            "temporal_workflow_id": "wf",
            "durable_runs_step": str(step),
            "emu_tool_plan": json.dumps(PLAN),
        },
        "requests": [{"kind": "create_response", "at": at, "status_code": create_status}],
        "status_times": {"queued": at},
    }


def stats(**responses: dict[str, Any]) -> dict[str, Any]:
    """Emulator stats holding these responses, all owned by workflow `wf`, in order."""
    objects = {rid: {"id": rid, **obj} for rid, obj in responses.items()}
    return {
        "responses": objects,
        "responses_by_workflow": {"wf": list(objects)},
        "runs": {},
        "runs_by_workflow": {},
        "status_codes": {},
        "calls_by_kind": {},
        "webhooks": {},
    }


GOOD_STATS = stats(resp_1=response(1), resp_2=response(2))
ONE_CALL = [Application(key="wf/call_1", item="a")]
A_KILL = [Kill(at=500.0, aim="tool", tools_running=1)]


def verdict(
    *,
    status: str = "completed",
    emulator: dict[str, Any] = GOOD_STATS,
    applications: list[Application] = ONE_CALL,
    kills: list[Kill] = A_KILL,
    ids: tuple[str, ...] = ("resp_1", "resp_2"),
) -> dict[str, Any]:
    """The summary of one Responses run `wf` (fault `none`) with these findings."""
    return summarize(
        backend="responses",
        runs=1,
        planted={"wf": faults("responses")[-1]},
        results={"wf": result(status, ids)},
        failures={},
        stats=emulator,
        applications=applications,
        attempts=len(applications),
        kills=kills,
        wall_s=1.0,
    )


def test_a_clean_soak_passes() -> None:
    """One planned call, one effect, one response per step, a kill: ok."""
    doc = verdict()
    assert doc["ok"], doc["problems"]


def test_a_doubled_application_fails() -> None:
    """The same tool call applied twice (a non-idempotent tool retried) fails the verdict."""
    doc = verdict(applications=ONE_CALL * 2)
    assert not doc["ok"]
    assert doc["must_be_zero"]["duplicate_effects"] == 1
    assert "duplicate effects: 1" in doc["problems"]


def test_effects_must_match_the_planned_calls() -> None:
    """An effect with no planned call, a second call for one planned item, and a completed
    run's planned call with no effect each fail it."""
    stray = verdict(applications=[*ONE_CALL, Application(key="wf/call_9", item="zzz")])
    assert stray["must_be_zero"]["effects_without_planned_call"] == 1
    twice = verdict(applications=[*ONE_CALL, Application(key="wf/call_2", item="a")])
    assert twice["must_be_zero"]["effects_without_planned_call"] == 1
    missing = verdict(applications=[])
    assert missing["must_be_zero"]["planned_calls_without_effect"] == 1
    assert not (stray["ok"] or twice["ok"] or missing["ok"])


def test_no_kill_fails() -> None:
    """A soak in which no worker kill happened proves nothing about crashes: it fails."""
    doc = verdict(kills=[])
    assert doc["problems"] == ["no worker kill happened"]
    assert not doc["ok"]


def test_a_status_the_fault_does_not_script_fails() -> None:
    """A run of fault `none` that ends failed (not completed) fails the verdict."""
    doc = verdict(status="failed")
    assert doc["must_be_zero"]["unexpected_status"] == 1
    assert not doc["ok"]


def test_duplicate_responses_by_cause() -> None:
    """A second response of a step is measured when its create's answer was lost (5xx) or a
    kill landed in its create; any other one fails the verdict."""
    lost = verdict(
        emulator=stats(
            resp_0=response(1, create_status=500), resp_1=response(1), resp_2=response(2)
        )
    )
    assert lost["duplicate_creates_measured"] == {"lost_create": 1, "killed_create": 0}
    assert lost["ok"], lost["problems"]
    killed = verdict(
        emulator=stats(resp_0=response(1, at=499.5), resp_1=response(1), resp_2=response(2))
    )
    assert killed["duplicate_creates_measured"] == {"lost_create": 0, "killed_create": 1}
    assert killed["ok"], killed["problems"]
    other = verdict(emulator=stats(resp_1=response(1), resp_2=response(2), resp_3=response(2)))
    assert other["must_be_zero"]["duplicate_runs_or_responses"] == 1
    assert not other["ok"]


def test_every_backend_scripts_a_final_status_it_can_reach() -> None:
    """Responses cannot expire (the API refuses the knob): their outcome fault is `failed`."""
    expected = {b: {f.expected for f in faults(b)} for b in BACKENDS}
    assert expected == {
        "responses": {"completed", "failed"},
        "assistants": {"completed", "expired"},
    }


@pytest.mark.timeout(240)
async def test_a_non_idempotent_tool_fails_the_real_soak(tmp_path: Path) -> None:
    """Planted: a tool that applies its effect on every attempt. A kill inside it makes
    Temporal retry it, the effect is applied twice, and the soak's verdict says so."""
    doc = await soak(
        runs=2,
        aims=("tool",),
        kill_every_s=0.5,
        out_dir=tmp_path,
        bound_s=120,
        backends=("responses",),
        tools="bench.ledger:non_idempotent_registry",
    )
    phase = doc["backends"]["responses"]
    assert phase["worker_kills"][0]["tools_running"] >= 1, phase
    assert phase["must_be_zero"]["duplicate_effects"] >= 1, phase
    assert phase["tool_ledger"]["attempts"] > phase["tool_ledger"]["keys"]
    assert not doc["ok"]
