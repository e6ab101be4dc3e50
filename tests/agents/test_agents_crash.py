"""A worker killed while an agent's model call is in flight: the next one resumes the same call."""

from __future__ import annotations

import sys
import uuid
from pathlib import Path

from durable_runs_emulator.server import RunningEmulator
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from durable_runs.agents import DurableRunsAgentsPlugin
from durable_runs.client import live_pollers
from durable_runs.processes import SETTINGS_PREFIXES, Part, Readiness, child_env
from durable_runs.workflows.agents_example import (
    AgentAnswer,
    AgentQuestion,
    AgentsExampleWorkflow,
)
from tests.agents.conftest import client_with
from tests.conftest import TEST_API_KEY
from tests.crash import history
from tests.waiting import wait_for


def agent_worker(workdir: Path, env: WorkflowEnvironment, queue: str, base_url: str) -> Part:
    """`tests.agents.agent_worker` as its own process (not started)."""
    client = env.client
    variables = child_env(
        {
            "TEMPORAL_ADDRESS": client.service_client.config.target_host,
            "TEMPORAL_NAMESPACE": client.namespace,
            "DURABLE_RUNS_TASK_QUEUE": queue,
            "OPENAI_BASE_URL": base_url,
            "OPENAI_API_KEY": TEST_API_KEY,
        },
        drop_prefixes=SETTINGS_PREFIXES,
    )

    async def polls(part: Part) -> bool:
        pollers = await live_pollers(client, queue, "workflow")
        return any(p.startswith(f"{part.pid}@") for p in pollers)

    argv = [sys.executable, "-m", "tests.agents.agent_worker"]
    return Part(
        "agents-worker", argv, workdir / "agents-worker.log", variables, Readiness(polls, "polls")
    )


async def test_worker_killed_during_a_model_call_resumes_without_a_second_response(
    tmp_path: Path,
    temporal_env: WorkflowEnvironment,
    emulator: RunningEmulator,
    durable_plugin: DurableRunsAgentsPlugin,
) -> None:
    queue = f"agents-crash-{uuid.uuid4()}"
    worker = agent_worker(tmp_path, temporal_env, queue, emulator.base_url)
    await worker.launch()
    client = client_with(temporal_env, durable_plugin)
    handle = await client.start_workflow(
        AgentsExampleWorkflow.run,
        AgentQuestion(question="What is 2+2?", metadata={"emu_duration_ms": "4000"}),
        id=f"agents-crash-{uuid.uuid4()}",
        task_queue=queue,
    )
    prefix = f"{handle.id}/model-"

    async def call_in_flight() -> list[str] | None:
        stats = await emulator.stats()
        owned = {
            w: ids for w, ids in stats["responses_by_workflow"].items() if w.startswith(prefix)
        }
        for ids in owned.values():
            if "in_progress" in stats["responses"][ids[0]]["status_times"]:
                return list(owned)
        return None

    try:
        calls = await wait_for(
            call_in_flight, within=30, what="the model call's response in progress"
        )
    finally:
        worker.kill()
    async with Worker(client, task_queue=queue, workflows=[AgentsExampleWorkflow]):
        result: AgentAnswer = await handle.result()

    assert (result.answer, result.last_agent) == ("4", "Triage agent")
    stats = await emulator.stats()
    (call,) = calls
    (response_id,) = stats["responses_by_workflow"][call]
    assert stats["responses"][response_id]["calls"]["create_response"] == 1
    assert [w for w in stats["responses_by_workflow"] if w.startswith(prefix)] == [call]
    # The call began on the killed worker and ended on the next one.
    child = client.get_workflow_handle(call)
    assert len(history.worker_identities(await history.events(child))) == 2
