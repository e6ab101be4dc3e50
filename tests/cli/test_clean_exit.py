"""Every `durable-runs run` and `status` exits 0, as a script trusting exit codes needs.

The installed `durable-runs` script, against one `durable-runs dev` stack (`running_stack`),
200 times each. Invocations run a few at a time, which is also when an interpreter that
finalizes beside the Temporal client's Rust threads aborted most often (exit code 134).
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from durable_runs.processes import free_port
from durable_runs.stack import Stack, StackConfig, running_stack
from tests.cli.helpers import PROJECT_ROOT, subprocess_env

RUNS = 200
LANES = 4
"""Invocations at once: a few more than the machine's cores, so exits overlap with other work."""
SCRIPT = Path(sys.executable).with_name("durable-runs")
"""The console script a user runs (the `entry` of `durable_runs.cli`)."""
CALL_BOUND_S = 60.0

pytestmark = pytest.mark.timeout(900)


@dataclass(frozen=True)
class Call:
    """One finished invocation."""

    argv: tuple[str, ...]
    code: int
    out: str


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    """The dev stack on free ports, Temporal in memory."""
    config = StackConfig(
        temporal_port=free_port(),
        ui_port=free_port(),
        emulator_port=free_port(),
        bridge_port=free_port(),
        data_dir=tmp_path / "state",
        persistent=False,
    )
    async with running_stack(config) as running:
        yield running


async def invoke(stack: Stack, *argv: str) -> Call:
    """Run the `durable-runs` script with the stack's address; its exit code and output."""
    process = await asyncio.create_subprocess_exec(
        str(SCRIPT),
        *argv,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env=subprocess_env(
            TEMPORAL_ADDRESS=stack.temporal_address,
            DURABLE_RUNS_TASK_QUEUE=stack.config.task_queue,
        ),
        cwd=PROJECT_ROOT,
    )
    out, _ = await asyncio.wait_for(process.communicate(), CALL_BOUND_S)
    assert process.returncode is not None
    return Call(argv, process.returncode, out.decode(errors="replace"))


async def test_run_and_status_exit_zero_every_time(stack: Stack) -> None:
    """200 `run`s of a fast run, each followed by `status` of it: 400 exits, all 0."""
    pending = iter(range(RUNS))
    calls: list[Call] = []

    async def lane() -> None:
        for n in pending:
            workflow_id = f"exit-{n}"
            calls.append(
                await invoke(
                    stack, "run", "What is 2+2?", "--workflow-id", workflow_id,
                    "--metadata", "emu_queued_ms=0", "--metadata", "emu_duration_ms=0",
                )
            )  # fmt: skip
            calls.append(await invoke(stack, "status", workflow_id))

    started = time.monotonic()
    await asyncio.gather(*(lane() for _ in range(LANES)))
    elapsed = time.monotonic() - started
    failed = [c for c in calls if c.code != 0]
    assert not failed, "\n\n".join(f"{' '.join(c.argv)} -> {c.code}\n{c.out}" for c in failed)
    assert len(calls) == 2 * RUNS
    runs = [c for c in calls if c.argv[0] == "run"]
    assert all("answer  4" in c.out for c in runs)
    assert all("COMPLETED" in c.out for c in calls if c.argv[0] == "status")
    print(f"{len(calls)} invocations in {elapsed:.0f} s")
