"""Replay recorded histories against today's workflow code: a nondeterministic change fails here.

The files in `tests/histories/` come from `python -m tests.histories.record`. Replaying them with
`Replayer` re-runs the workflow code against each recorded history; a change that would break
workflows already running (a command added, removed or reordered without `workflow.patched`)
raises a nondeterminism error.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from openai import AsyncOpenAI
from temporalio import workflow
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowFailureError, WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from durable_runs.activities.tools import ToolRegistry
from durable_runs.models import ActivityKind, RunRequest, RunResult
from durable_runs.worker import WORKFLOWS, build_workers
from durable_runs.workflows.run import AssistantRunWorkflow
from tests.histories.record import SCENARIOS, workflow_id_for
from tests.waiting import wait_for
from tests.workflows.helpers import create_scheduled

HISTORY_DIR = Path(__file__).parent / "histories"
HISTORY_FILES = sorted(HISTORY_DIR.glob("*.json"))


def load(path: Path) -> WorkflowHistory:
    """A recorded history, under the workflow id it was recorded with."""
    return WorkflowHistory.from_json(workflow_id_for(path), path.read_text())


def test_every_scenario_has_a_recorded_history() -> None:
    """No scenario silently lost its file (continue-as-new keeps one file per run)."""
    recorded = {path.name.split(".")[0] for path in HISTORY_FILES}
    assert recorded == {scenario.name for scenario in SCENARIOS}
    assert len([p for p in HISTORY_FILES if p.name.startswith("assistants_continue_as_new.")]) >= 2


@pytest.mark.parametrize("path", HISTORY_FILES, ids=lambda p: p.name.removesuffix(".json"))
async def test_recorded_history_replays(path: Path) -> None:
    """Today's `AssistantRunWorkflow` makes the same decisions as the recorded run."""
    replayer = Replayer(workflows=WORKFLOWS, data_converter=pydantic_data_converter)
    result = await replayer.replay_workflow(load(path))
    assert result.replay_failure is None


# Unsandboxed: the sandbox would re-import this test module and everything it imports; the
# determinism check under test does not depend on the sandbox.
@workflow.defn(name="AssistantRunWorkflow", sandboxed=False)
class ReorderedRunWorkflow(AssistantRunWorkflow):
    """The run workflow with one unversioned change: a short timer before its first activity."""

    @workflow.run
    async def run(self, request: RunRequest) -> RunResult:
        """Sleep first (a new command the recorded histories do not have), then run as before."""
        await workflow.sleep(timedelta(milliseconds=10))
        return await super().run(request)


async def test_replay_fails_on_a_nondeterministic_change() -> None:
    """The replay test can fail: a changed workflow class does not replay an old history."""
    replayer = Replayer(workflows=[ReorderedRunWorkflow], data_converter=pydantic_data_converter)
    with pytest.raises(workflow.NondeterminismError):
        await replayer.replay_workflow(load(HISTORY_DIR / "assistants_completed.json"))


@workflow.defn(name="AssistantRunWorkflow", sandboxed=False)
class UnshieldedRunWorkflow(AssistantRunWorkflow):
    """The run workflow as it was before creates were shielded: a cancellation cancels them."""

    @workflow.run
    async def run(self, request: RunRequest) -> RunResult:
        """Run as today's workflow does, but for the create."""
        return await super().run(request)

    async def _create_shielded(self, kind: ActivityKind, method: Any, arg: Any) -> None:
        snapshot = await self._api(kind, method, arg)
        self._restart_schedule()
        self._set_snapshot(snapshot)


async def test_run_cancelled_during_its_create_before_the_shield_replays(
    client: Client, openai_client: AsyncOpenAI, tools: ToolRegistry
) -> None:
    """A history whose create was cancelled (before the shield) replays on today's code."""
    queue = f"unshielded-{uuid.uuid4()}"
    workers = build_workers(
        client,
        task_queue=queue,
        openai=openai_client,
        tools=tools,
        workflows=[UnshieldedRunWorkflow],
    )
    # The first create attempt meets a 1.5 s Retry-After: the cancellation finds it in flight.
    metadata = {
        "emu_outcome": "stay_queued",
        "emu_create_rate_limit": "1",
        "emu_retry_after_ms": "1500",
    }
    async with workers[0], workers[1]:
        handle = await client.start_workflow(
            UnshieldedRunWorkflow.run,
            RunRequest(backend="assistants", messages=["What is 2+2?"], metadata=metadata),
            id=f"unshielded-{uuid.uuid4()}",
            task_queue=queue,
        )
        await wait_for(lambda: create_scheduled(handle), what="the create scheduled")
        await handle.cancel()
        with pytest.raises(WorkflowFailureError):
            await handle.result()
    history = await handle.fetch_history()
    types = [e.event_type for e in history.events]
    assert EventType.EVENT_TYPE_ACTIVITY_TASK_CANCEL_REQUESTED in types  # the old behaviour
    assert EventType.EVENT_TYPE_MARKER_RECORDED not in types
    replayer = Replayer(workflows=WORKFLOWS, data_converter=pydantic_data_converter)
    result = await replayer.replay_workflow(history)
    assert result.replay_failure is None
