"""Three worker processes and two bridge replicas behind a round-robin balancer, one Temporal
server, the emulator sending its webhooks to the balancer: 500 runs, one worker and one bridge
SIGKILLed mid-way.

Every run completes with the emulator's answer to its own question (the answer one worker
gives), each run's response is created once, and no run applies an event twice, although
every fifth run's event is delivered twice and deliveries to the killed bridge are retried.
Run it alone with `pytest tests/scale`.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.client import Client, WorkflowHandle

from bench.soak import Kill
from bench.workload import spread
from durable_runs.models import PollPolicy, RunRequest, RunResult
from durable_runs.processes import Part, bridge_part, emulator_part, free_port
from durable_runs.workflows.run import RunWorkflow
from tests.bridge.signing import new_secret
from tests.crash.procs import DevServer, subprocess_env, worker_proc
from tests.scale.balancer import round_robin
from tests.scale.checks import scale_problems
from tests.waiting import wait_for

pytestmark = [pytest.mark.scale, pytest.mark.timeout(400)]

RUNS = 500
WORKERS = 3
BRIDGES = 2
API_KEY = "sk-scale-test"
DURATIONS_MS = (1500, 6000)
"""Each run's time in progress, spread: runs end all through the test, kills included."""
KILL_AFTER_EVENTS = RUNS // 3
"""The kills land once this many runs have ended at the API (and every run was created)."""
POLL = PollPolicy(webhooks=True, safety_poll_s=30, deadline_s=300)
RESULTS_BOUND_S = 240.0
START_BOUND_S = 60.0


def question(index: int) -> tuple[str, str]:
    """Run `index`'s question and the emulator's answer to it."""
    return f"What is {index}*7?", str(index * 7)


def request(index: int) -> RunRequest:
    """Run `index`: its own question, a spread duration; every fifth event delivered twice."""
    metadata = {"emu_duration_ms": str(spread(index, DURATIONS_MS))}
    if index % 5 == 0:
        metadata["emu_webhook"] = "duplicate"
    return RunRequest(messages=[question(index)[0]], poll=POLL, metadata=metadata)


async def emulator_stats(root_url: str) -> dict[str, Any]:
    """The emulator's `/_emulator/stats`."""
    async with httpx.AsyncClient(timeout=30) as http:
        answer = await http.get(f"{root_url}/_emulator/stats")
        answer.raise_for_status()
        stats: dict[str, Any] = answer.json()
        return stats


async def start_all(
    client: Client, queue: str, prefix: str
) -> dict[str, WorkflowHandle[RunWorkflow, RunResult]]:
    """Start every run, a few dozen starts at once."""
    gate = asyncio.Semaphore(32)

    async def one(index: int) -> WorkflowHandle[RunWorkflow, RunResult]:
        async with gate:
            return await client.start_workflow(
                RunWorkflow.run, request(index), id=f"{prefix}-{index}", task_queue=queue
            )

    handles = await asyncio.gather(*(one(i) for i in range(RUNS)))
    return {h.id: h for h in handles}


async def test_500_runs_three_workers_two_bridges_one_of_each_killed(tmp_path: Path) -> None:
    """Nothing lost, nothing created twice, no event applied twice, every answer right."""
    started = time.monotonic()
    secret = new_secret()
    server = DevServer(tmp_path)
    parts: list[Part] = [server.proc]
    bridge_ports = [free_port() for _ in range(BRIDGES)]
    try:
        await server.start()
        client = await server.connect()
        async with round_robin([("127.0.0.1", p) for p in bridge_ports]) as balancer:
            emulator_port = free_port()
            emulator = emulator_part(
                tmp_path, port=emulator_port, quiet=True,
                webhook_url=balancer.root_url + "/webhooks/openai",
                env=subprocess_env(OPENAI_WEBHOOK_SECRET=secret),
            )  # fmt: skip
            parts.append(emulator)
            await emulator.launch(bound_s=START_BOUND_S)
            emulator_root = f"http://127.0.0.1:{emulator_port}"
            bridge_env = subprocess_env(
                TEMPORAL_ADDRESS=server.address,
                OPENAI_WEBHOOK_SECRET=secret,
                OPENAI_API_KEY=API_KEY,
                OPENAI_BASE_URL=emulator_root + "/v1",
            )
            bridges = [
                bridge_part(tmp_path, port=port, env=bridge_env, name=f"bridge-{n + 1}",
                            log_level="warning")
                for n, port in enumerate(bridge_ports)
            ]  # fmt: skip
            queue = f"scale-{uuid.uuid4()}"
            workers = [
                worker_proc(
                    tmp_path, f"worker-{n + 1}", client=client, task_queue=queue,
                    openai_base_url=emulator_root + "/v1",
                    tools="durable_runs.activities.demo_tools:demo_registry",
                )
                for n in range(WORKERS)
            ]  # fmt: skip
            parts += [*bridges, *workers]
            await asyncio.gather(*(p.launch(bound_s=START_BOUND_S) for p in [*bridges, *workers]))

            handles = await start_all(client, queue, f"scale-{uuid.uuid4().hex[:6]}")
            expected = {f"{h}": question(int(h.rsplit("-", 1)[1]))[1] for h in handles}

            async def mid_way() -> bool:
                stats = await emulator_stats(emulator_root)
                created = len(stats["responses_by_workflow"]) == RUNS
                return created and stats["webhooks"].get("events", 0) >= KILL_AFTER_EVENTS

            await wait_for(mid_way, within=120, what="every run created, a third ended")
            workers[0].kill()
            bridges[0].kill()
            kills = [Kill(at=time.time(), aim="create", tools_running=0)]

            async def result_of(
                handle: WorkflowHandle[RunWorkflow, RunResult],
            ) -> tuple[str, RunResult]:
                return handle.id, await handle.result(rpc_timeout=None)

            finished = await asyncio.wait_for(
                asyncio.gather(*(result_of(h) for h in handles.values())), RESULTS_BOUND_S
            )
            results = dict(finished)
            stats = await emulator_stats(emulator_root)
            problems = scale_problems(expected, results, stats, kills)
            assert problems == dict.fromkeys(problems, 0), problems
            # Both replicas took deliveries, and the survivor took the killed one's retries.
            assert all(balancer.connections), balancer.connections
            assert sum(r.events_applied for r in results.values()) >= RUNS * 0.9
            assert not workers[0].alive and all(w.alive for w in workers[1:])
            elapsed = time.monotonic() - started
            print(f"{RUNS} runs, {WORKERS} workers, {BRIDGES} bridges: {elapsed:.0f} s")
            print(f"balancer connections {balancer.connections}; webhooks {stats['webhooks']}")
    finally:
        for part in reversed(parts):
            await part.stop()
