"""Recorded agent and model-call histories replay against today's code (through the plugin).

`tests/histories/AgentsExample/` holds the example agent's run (a handoff, a tool, three model
calls) and `tests/histories/AgentModelCall/` its three model calls (polling), recorded from
`test_agents_background`'s scenario. A change that would break agents or model calls in flight
(a command added, removed or reordered without `workflow.patched`) fails here.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from openai import AsyncOpenAI
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from durable_runs.agents import DurableRunsAgentsPlugin
from durable_runs.workflows.agents_example import AgentsExampleWorkflow

HISTORIES = Path(__file__).resolve().parents[1] / "histories"
RECORDED_AGENT_ID = "agents-handoff-tool"
"""The agent's workflow id when recorded: its model calls' ids derive from it."""

FILES = sorted((HISTORIES / "AgentsExample").glob("*.json")) + sorted(
    (HISTORIES / "AgentModelCall").glob("*.json")
)


def load(path: Path) -> WorkflowHistory:
    """A recorded history, under the agent's recorded id."""
    return WorkflowHistory.from_json(RECORDED_AGENT_ID, path.read_text())


@pytest.mark.parametrize("path", FILES, ids=lambda p: f"{p.parent.name}/{p.stem}")
async def test_recorded_history_replays(path: Path) -> None:
    plugin = DurableRunsAgentsPlugin(openai=AsyncOpenAI(api_key="unused", max_retries=0))
    replayer = Replayer(workflows=[AgentsExampleWorkflow], plugins=[plugin])
    await replayer.replay_workflow(load(path))


def test_every_recorded_kind_is_there() -> None:
    assert {p.parent.name for p in FILES} == {"AgentsExample", "AgentModelCall"}
