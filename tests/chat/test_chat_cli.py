"""`durable-runs chat` as a user runs it: a real process, messages piped on stdin."""

from __future__ import annotations

import asyncio
import uuid

from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from durable_runs import client as api
from tests.cli.helpers import cli_args, subprocess_env
from tests.conftest import WorkerFactory

CHAT_TIMEOUT_S = 60.0


async def test_chat_answers_each_piped_line_and_resumes_a_session(
    temporal_env: WorkflowEnvironment, client: Client, worker_factory: WorkerFactory
) -> None:
    session = f"cli-{uuid.uuid4().hex[:8]}"
    async with worker_factory(client) as queue:
        await api.ensure_worker(client, queue, wait_s=10)
        env = subprocess_env(
            TEMPORAL_ADDRESS=temporal_env.client.service_client.config.target_host,
            DURABLE_RUNS_TASK_QUEUE=queue,
        )
        args = ["chat", "--session", session, "--metadata", "emu_duration_ms=50"]
        first = await _chat(args, "My name is Ada\n\nWhat is 2+2?\n/quit\nnever sent\n", env)
        again = await _chat(args, "What is my name?\n", env)  # ends at end of input
        turns = await api.chat_turns(client, session)
    assert first.count("assistant>") == 2
    assert "you> What is 2+2?\nassistant> 4\n" in first
    assert "never sent" not in first
    assert "you> What is my name?\nassistant> Your name is Ada.\n" in again
    assert f"durable-runs chat --session {session}" in again
    assert [t.turn for t in turns] == [1, 2, 3]


async def _chat(args: list[str], stdin: str, env: dict[str, str]) -> str:
    process = await asyncio.create_subprocess_exec(
        *cli_args(*args),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    out, err = await asyncio.wait_for(process.communicate(stdin.encode()), CHAT_TIMEOUT_S)
    assert process.returncode == 0, err.decode()
    return out.decode()
