"""Recorded chat sessions replay against today's `ChatSessionWorkflow` (and a changed one fails).

Record them with `python -m tests.histories.record chat_three_turns ...` (see `CHAT_SCENARIOS`).
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from temporalio import workflow
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from durable_runs.models import ChatReply, ChatSessionEnd, ChatSessionInput
from durable_runs.workflow_names import chat_workflow_id
from durable_runs.workflows.chat import ChatSessionWorkflow
from tests.histories.record import CHAT_HISTORIES, CHAT_SCENARIOS, WORKFLOW_ID_PREFIX

FILES = sorted(CHAT_HISTORIES.glob("*.json"))


def _history(path: Path) -> WorkflowHistory:
    workflow_id = chat_workflow_id(WORKFLOW_ID_PREFIX + path.name.split(".")[0])
    return WorkflowHistory.from_json(workflow_id, path.read_text())


def test_every_chat_scenario_has_a_recorded_history() -> None:
    assert {p.name.split(".")[0] for p in FILES} == {s.name for s in CHAT_SCENARIOS}
    assert len([p for p in FILES if p.name.startswith("chat_continue_as_new.")]) == 2


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name.removesuffix(".json"))
async def test_recorded_chat_session_replays(path: Path) -> None:
    replayer = Replayer(workflows=[ChatSessionWorkflow], data_converter=pydantic_data_converter)
    result = await replayer.replay_workflow(_history(path))
    assert result.replay_failure is None


@workflow.defn(name="ChatSessionWorkflow", sandboxed=False)
class TimerBeforeEachTurn(ChatSessionWorkflow):
    """One unversioned change: a short timer before every turn's child run."""

    @workflow.run
    async def run(self, input: ChatSessionInput) -> ChatSessionEnd:
        """As before."""
        return await super().run(input)

    async def _run_turn(self, turn: int, message: str) -> ChatReply:
        await workflow.sleep(timedelta(milliseconds=10))
        return await super()._run_turn(turn, message)


async def test_chat_replay_fails_on_a_nondeterministic_change() -> None:
    replayer = Replayer(workflows=[TimerBeforeEachTurn], data_converter=pydantic_data_converter)
    with pytest.raises(workflow.NondeterminismError):
        await replayer.replay_workflow(_history(CHAT_HISTORIES / "chat_three_turns.json"))
