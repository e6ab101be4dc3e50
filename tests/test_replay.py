"""Replay recorded histories against today's workflow code: a nondeterministic change fails here.

The files in `tests/histories/` come from `python -m tests.histories.record`. Replaying them with
`Replayer` re-runs the workflow code against each recorded history; a change that would break
workflows already running (a command added, removed or reordered without `workflow.patched`)
raises a nondeterminism error.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from temporalio import workflow
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from durable_runs.models import RunRequest, RunResult
from tests.histories.record import SCENARIOS, workflow_id_for
from worker import WORKFLOWS
from workflows.run import AssistantRunWorkflow

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
