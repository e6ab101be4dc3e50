"""Replay recorded histories against today's workflow code: a nondeterministic change fails here.

The files in `tests/histories/<workflow type>/` replay with `Replayer`, which re-runs the
workflow code against each recorded history; a change that would break workflows already running
(a command added, removed or reordered without `workflow.patched`) raises a nondeterminism error.

- `RunWorkflow/`: today's type, recorded with `python -m tests.histories.record`.
- `AssistantRunWorkflow/`: the same scenarios recorded by the code before the rename, under the
  former type name (continued runs carry `progress` in their request). They are never
  re-recorded: they stand for the runs in flight at the upgrade, which `LegacyRunWorkflow`
  must finish.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path

import pytest
from openai import AsyncOpenAI
from temporalio import workflow
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowFailureError
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer, Worker

from durable_runs.activities.contract import BackendActivities
from durable_runs.activities.tools import ToolActivities, ToolRegistry
from durable_runs.models import (
    ActivityKind,
    LegacyRunRequest,
    RunProgress,
    RunRequest,
    RunResult,
    RunSnapshot,
)
from durable_runs.plugin import DurableRunsPlugin
from durable_runs.settings import OPENAI_QUEUE_SUFFIX
from durable_runs.workflows.run import SHIELDED_CREATE_PATCH, LegacyRunWorkflow, RunWorkflow
from tests.histories.record import (
    APPROVALS,
    HISTORIES,
    POLLS_ON_RETRIES,
    SCENARIOS,
    load_history,
)
from tests.waiting import wait_for
from tests.workflows.helpers import create_scheduled

TYPES = ("RunWorkflow", "AssistantRunWorkflow")
"""The workflow types with recorded histories, each in the folder of its name."""
HISTORY_FILES = sorted(p for name in TYPES for p in (HISTORIES / name).glob("*.json"))
TODAYS_WORKFLOWS = [RunWorkflow, LegacyRunWorkflow]
"""Today's code for both types (`tests/workflows/test_legacy.py` checks the worker has both)."""


def _id(path: Path) -> str:
    return f"{path.parent.name}/{path.name.removesuffix('.json')}"


@pytest.mark.parametrize("type_name", TYPES)
def test_every_scenario_has_a_recorded_history(type_name: str) -> None:
    """No scenario silently lost its file (continue-as-new keeps one file per run)."""
    files = [p for p in HISTORY_FILES if p.parent.name == type_name]
    expected = {s.name for s in SCENARIOS}
    if type_name == "AssistantRunWorkflow":
        newer = (POLLS_ON_RETRIES, APPROVALS)
        expected = {name for name in expected if not name.startswith(newer)}
    assert {path.name.split(".")[0] for path in files} == expected
    assert len([p for p in files if p.name.startswith("assistants_continue_as_new.")]) >= 2


@pytest.mark.parametrize("path", HISTORY_FILES, ids=_id)
def test_each_history_is_of_its_folders_type(path: Path) -> None:
    """A file sits in the folder of the workflow type that recorded it."""
    started = load_history(path).events[0].workflow_execution_started_event_attributes
    assert started.workflow_type.name == path.parent.name


@pytest.mark.parametrize("path", HISTORY_FILES, ids=_id)
async def test_recorded_history_replays(path: Path) -> None:
    """Today's workflows make the recorded run's decisions."""
    replayer = Replayer(workflows=TODAYS_WORKFLOWS, data_converter=pydantic_data_converter)
    result = await replayer.replay_workflow(load_history(path))
    assert result.replay_failure is None


# Unsandboxed: the sandbox would re-import this test module and everything it imports; the
# determinism check under test does not depend on the sandbox.
@workflow.defn(name="RunWorkflow", sandboxed=False)
class ReorderedRunWorkflow(RunWorkflow):
    """The run workflow with one unversioned change: a short timer before its first activity."""

    @workflow.run
    async def run(self, request: RunRequest, carried: RunProgress | None = None) -> RunResult:
        """Sleep first (a new command the recorded histories do not have), then run as before."""
        await workflow.sleep(timedelta(milliseconds=10))
        return await super().run(request, carried)


@workflow.defn(name="AssistantRunWorkflow", sandboxed=False)
class ReorderedLegacyRunWorkflow(LegacyRunWorkflow):
    """The same change to the workflow under the former type name."""

    @workflow.run
    async def run(self, request: LegacyRunRequest) -> RunResult:
        """Sleep first, then run as before."""
        await workflow.sleep(timedelta(milliseconds=10))
        return await super().run(request)


@pytest.mark.parametrize(
    ("reordered", "type_name"),
    [(ReorderedRunWorkflow, "RunWorkflow"), (ReorderedLegacyRunWorkflow, "AssistantRunWorkflow")],
    ids=TYPES,
)
async def test_replay_fails_on_a_nondeterministic_change(reordered: type, type_name: str) -> None:
    """The replay test can fail: a changed workflow class does not replay an old history."""
    replayer = Replayer(workflows=[reordered], data_converter=pydantic_data_converter)
    with pytest.raises(workflow.NondeterminismError):
        await replayer.replay_workflow(
            load_history(HISTORIES / type_name / "assistants_completed.json")
        )


@workflow.defn(name="AssistantRunWorkflow", sandboxed=False)
class UnshieldedRunWorkflow(LegacyRunWorkflow):
    """The run workflow as it was before creates were shielded: a cancellation cancels them.

    Registered under the former type name, as every run of that code was.
    """

    @workflow.run
    async def run(self, request: LegacyRunRequest) -> RunResult:
        """Run as today's workflow does, but for the create."""
        return await super().run(request)

    async def _create_shielded(
        self,
        kind: ActivityKind,
        method: Callable[[BackendActivities, object], Awaitable[RunSnapshot]],
        arg: object,
    ) -> None:
        self._adopt_created(await self._call(kind, method, arg))


async def test_run_cancelled_during_its_create_before_the_shield_replays(
    client: Client, openai_client: AsyncOpenAI, tools: ToolRegistry
) -> None:
    """A history whose create was cancelled (before the shield) replays on today's code."""
    queue = f"unshielded-{uuid.uuid4()}"
    # Plain workers: the plugin would register today's workflow under the same type name.
    backend = DurableRunsPlugin(openai=openai_client, tools=tools).backend_activities()
    workflows = Worker(
        client,
        task_queue=queue,
        workflows=[UnshieldedRunWorkflow],
        activities=[ToolActivities(tools).run_tool],
    )
    api_calls = Worker(client, task_queue=queue + OPENAI_QUEUE_SUFFIX, activities=backend)
    # The first create attempt meets a 1.5 s Retry-After: the cancellation finds it in flight.
    metadata = {
        "emu_outcome": "stay_queued",
        "emu_create_rate_limit": "1",
        "emu_retry_after_ms": "1500",
    }
    async with workflows, api_calls:
        handle = await client.start_workflow(
            UnshieldedRunWorkflow.run,
            LegacyRunRequest(backend="assistants", messages=["What is 2+2?"], metadata=metadata),
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
    markers = [e for e in history.events if e.event_type == EventType.EVENT_TYPE_MARKER_RECORDED]
    assert not [m for m in markers if SHIELDED_CREATE_PATCH.encode() in m.SerializeToString()]
    replayer = Replayer(workflows=TODAYS_WORKFLOWS, data_converter=pydantic_data_converter)
    result = await replayer.replay_workflow(history)
    assert result.replay_failure is None
