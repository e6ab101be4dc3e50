"""The webhook bridge under load: concurrent signed `response.completed` events, per routing.

    python -m bench.bridge_load --events 1000 --routing retrieve|visibility|both

Starts a Temporal dev server, the emulator and a worker (child processes), and for each routing
a fresh bridge process (`DURABLE_RUNS_BRIDGE_ROUTING`). Two phases per routing, each firing
`--events` correctly signed events at once (after one warm-up delivery):

- strangers: responses created at the emulator without our metadata, as any other application
  sharing the OpenAI project makes them;
- live runs: as many webhook-mode Responses runs, waiting on a long safety poll, whose responses
  have completed (the emulator's own events are dropped, so only these deliveries can wake them).

It prints, per routing and phase, status codes, latency percentiles (client side, request sent to
answer read), Temporal calls and API reads per event (the bridge's `/healthz` counters), and for
live runs how many woke from the event, and with how many status reads by the worker. The
issue's targets: strangers all 2xx, p99 under 1 s, at most one Temporal call each; live runs all
woken.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import sys
import time
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import aiohttp
import httpx
from openai import AsyncOpenAI
from standardwebhooks import Webhook
from temporalio.client import Client, WorkflowFailureError
from temporalio.service import RPCError

from bench.procs import (
    API_KEY,
    ROOT,
    Emulator,
    Meter,
    bridge_process,
    emulator_process,
    start_worker,
    temporal_server,
    worker_env,
)
from durable_runs.client import RunHandle, start_run
from durable_runs.models import PollPolicy, RunRequest, RunResult

Routing = Literal["retrieve", "visibility"]
ROUTINGS: tuple[Routing, ...] = ("retrieve", "visibility")

P99_TARGET_MS = 1000.0
"""The issue's bound on a stranger's answer (p99)."""

WAKE_BOUND_S = 120.0
"""Bound on the live runs finishing once their events are sent (far below the safety poll)."""

SAFETY_POLL = PollPolicy(
    webhooks=True, safety_poll_s=1800, initial_interval_s=1800, deadline_s=3600
)
"""Webhook mode whose timer cannot fire during the benchmark: only an event wakes the run."""

RETRY_SCHEDULE_S = (0.2, 0.5, 1.0, 2.0, 5.0)
"""The sender's waits between attempts after a non-2xx (the emulator's compressed schedule)."""

QUICK = {"emu_queued_ms": "0", "emu_duration_ms": "200"}
"""Scenario knobs: responses complete soon after they are created."""


@dataclass
class Phase:
    """One burst of deliveries and what it cost.

    Attributes:
        kind: `strangers` or `live runs`.
        events: Deliveries fired at once.
        codes: Answers by HTTP status (`error` for a failed request).
        latencies_ms: Per delivery, request sent to answer read.
        temporal_calls: Temporal calls the bridge made for the burst.
        api_reads: API reads the bridge made for the burst.
        woken: Live runs that completed after their event, within the bound.
        worker_reads: Status reads the live runs' workflows made (all of them).
        wake_ms: Per woken run, event sent to workflow result.
        retried: Deliveries that needed the sender's retry (first answer not 2xx).
        delivered: Deliveries answered 2xx at last (the sender retries as OpenAI does).
        cpu_s: CPU seconds each process used during the burst (until the last answer).
    """

    kind: str
    events: int
    codes: dict[str, int] = field(default_factory=dict)
    latencies_ms: list[float] = field(default_factory=list)
    temporal_calls: int = 0
    api_reads: int = 0
    woken: int | None = None
    worker_reads: int | None = None
    wake_ms: list[float] = field(default_factory=list)
    retried: int = 0
    delivered: int = 0
    cpu_s: dict[str, float] = field(default_factory=dict)

    def percentile(self, q: float, values: Sequence[float] | None = None) -> float:
        """The `q` quantile (0..1) of the latencies, or of `values` (nearest rank)."""
        data = sorted(self.latencies_ms if values is None else values)
        if not data:
            return float("nan")
        return data[min(len(data) - 1, max(0, round(q * len(data)) - 1))]

    @property
    def all_2xx(self) -> bool:
        """Every delivery got a 2xx."""
        ok = sum(n for code, n in self.codes.items() if code.startswith("2"))
        return ok == self.events


def verdict(results: dict[str, dict[str, Phase]]) -> list[str]:
    """The issue's targets that do not hold (empty when all do).

    Strangers: all 2xx, p99 under `P99_TARGET_MS`, at most one Temporal call each. Live runs:
    every run woken by its event.
    """
    failures: list[str] = []
    for routing, phases in results.items():
        strangers = phases.get("strangers")
        if strangers is not None:
            if not strangers.all_2xx:
                failures.append(f"{routing}: strangers answered {strangers.codes}")
            if strangers.percentile(0.99) >= P99_TARGET_MS:
                failures.append(f"{routing}: stranger p99 {strangers.percentile(0.99):.0f} ms")
            if strangers.temporal_calls > strangers.events:
                failures.append(
                    f"{routing}: {strangers.temporal_calls} Temporal calls "
                    f"for {strangers.events} strangers"
                )
        live = phases.get("live runs")
        if live is not None and live.woken != live.events:
            failures.append(f"{routing}: {live.woken} of {live.events} live runs woken")
    return failures


def new_secret() -> str:
    """A fresh `whsec_` secret shared by this script (signing) and the bridge (verifying)."""
    return "whsec_" + base64.b64encode(os.urandom(32)).decode()


def signed(secret: str, response_id: str) -> tuple[bytes, dict[str, str]]:
    """A `response.completed` delivery carrying only the id, signed as OpenAI signs it."""
    body = json.dumps(
        {
            "id": f"evt_{uuid.uuid4().hex}",
            "object": "event",
            "created_at": int(time.time()),
            "type": "response.completed",
            "data": {"id": response_id},
        }
    )
    msg_id = f"wh_{uuid.uuid4().hex}"
    headers = {
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(time.time())),
        "webhook-signature": Webhook(secret).sign(msg_id, datetime.now(tz=UTC), body),
    }
    return body.encode(), headers


async def counters(http: httpx.AsyncClient, root: str) -> dict[str, Any]:
    """The bridge's `/healthz`."""
    response = await http.get(root + "/healthz")
    response.raise_for_status()
    result: dict[str, Any] = response.json()
    return result


async def fire(
    root: str, secret: str, response_ids: Sequence[str], kind: str, meters: dict[str, Meter]
) -> tuple[Phase, list[float]]:
    """Send one delivery per id, all at once, retrying a non-2xx as the sender does.

    Codes and latencies are those of the first attempt; `delivered` counts the final 2xx.

    Returns:
        The phase and each delivery's first send time (unix seconds).
    """
    deliveries = [signed(secret, rid) for rid in response_ids]
    phase = Phase(kind=kind, events=len(deliveries))
    sent_at = [0.0] * len(deliveries)
    # The sender is aiohttp: httpx's pool costs more per request the more are in flight, and
    # a burst of 1,000 would measure the load generator rather than the bridge.
    connector = aiohttp.TCPConnector(limit=len(deliveries), force_close=True)
    timeout = aiohttp.ClientTimeout(total=120)
    async with (
        aiohttp.ClientSession(connector=connector, timeout=timeout) as session,
        httpx.AsyncClient() as http,
    ):
        before = await counters(http, root)
        start = asyncio.Event()

        async def attempt(i: int) -> str:
            body, headers = deliveries[i]
            try:
                async with session.post(
                    root + "/webhooks/openai", data=body, headers=headers
                ) as answer:
                    await answer.read()
                    return str(answer.status)
            except (aiohttp.ClientError, TimeoutError):
                return "error"

        async def deliver(i: int) -> None:
            await start.wait()
            sent_at[i] = time.time()
            began = time.perf_counter()
            code = await attempt(i)
            phase.latencies_ms.append((time.perf_counter() - began) * 1000)
            phase.codes[code] = phase.codes.get(code, 0) + 1
            if not code.startswith("2"):
                phase.retried += 1
            for wait_s in RETRY_SCHEDULE_S:
                if code.startswith("2"):
                    break
                await asyncio.sleep(wait_s)
                code = await attempt(i)
            if code.startswith("2"):
                phase.delivered += 1

        tasks = [asyncio.create_task(deliver(i)) for i in range(len(deliveries))]
        await asyncio.sleep(0)  # every task is parked on `start`: release them together
        for meter in meters.values():
            meter.begin()
        start.set()
        await asyncio.gather(*tasks)
        phase.cpu_s = {name: meter.end().cpu_seconds for name, meter in meters.items()}
        after = await counters(http, root)
    phase.temporal_calls = after["temporal_calls"] - before["temporal_calls"]
    phase.api_reads = after["api_reads"] - before["api_reads"]
    return phase, sent_at


async def create_strangers(emu: Emulator, n: int) -> list[str]:
    """`n` completed responses that belong to no run (no `temporal_workflow_id`)."""
    openai = AsyncOpenAI(base_url=emu.base_url, api_key=API_KEY, max_retries=2)
    gate = asyncio.Semaphore(50)

    async def create() -> str:
        async with gate:
            response = await openai.responses.create(
                model="gpt-4o-mini", input="What is 2+2?", background=True, metadata=QUICK
            )
            return response.id

    ids = await asyncio.gather(*(create() for _ in range(n)))
    await openai.close()
    await wait_completed(emu, set(ids))
    return list(ids)


async def wait_completed(emu: Emulator, ids: set[str], *, bound_s: float = 300.0) -> None:
    """Wait until every response in `ids` has completed at the emulator."""
    deadline = time.monotonic() + bound_s
    while True:
        responses = (await emu.stats())["responses"]
        pending = [
            i for i in ids if "completed" not in responses.get(i, {}).get("status_times", {})
        ]
        if not pending:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"{len(pending)} responses not completed in {bound_s:g} s")
        # Another process's state: no event to wait on, so probe with a bound.
        await asyncio.sleep(0.5)


async def start_live_runs(
    client: Client, emu: Emulator, queue: str, n: int
) -> list[tuple[RunHandle, str]]:
    """`n` webhook-mode runs whose responses have completed; (handle, response id) each."""
    request = RunRequest(
        backend="responses",
        messages=["What is 2+2?"],
        poll=SAFETY_POLL,
        metadata=QUICK,  # the emulator has no webhook URL here: only our deliveries wake them
    )
    gate = asyncio.Semaphore(50)

    async def begin() -> RunHandle:
        async with gate:
            return await start_run(client, request, task_queue=queue)

    handles = await asyncio.gather(*(begin() for _ in range(n)))
    deadline = time.monotonic() + 300
    while True:
        by_workflow = (await emu.stats())["responses_by_workflow"]
        if all(by_workflow.get(h.id) for h in handles):
            break
        if time.monotonic() > deadline:
            raise TimeoutError("the live runs did not all create their response")
        await asyncio.sleep(0.5)  # another process's state: probe with a bound
    pairs = [(h, by_workflow[h.id][0]) for h in handles]
    await wait_completed(emu, {rid for _, rid in pairs})
    return pairs


async def wake(
    pairs: Sequence[tuple[RunHandle, str]],
    phase: Phase,
    sent_at: Sequence[float],
) -> None:
    """Wait (bounded) for the live runs; count those woken and their workers' status reads."""

    deadline = time.monotonic() + WAKE_BOUND_S

    async def outcome(handle: RunHandle) -> RunResult | None:
        try:
            async with asyncio.timeout(max(0.0, deadline - time.monotonic())):
                return await handle.result(rpc_timeout=None)
        except (TimeoutError, WorkflowFailureError, RPCError):  # counted as not woken
            return None

    results = await asyncio.gather(*(outcome(h) for h, _ in pairs))
    phase.woken = 0
    phase.worker_reads = 0
    for result, sent in zip(results, sent_at, strict=True):
        if result is None or result.status != "completed":
            continue
        phase.woken += 1
        phase.worker_reads += result.api_calls.get("read", 0)
        phase.wake_ms.append((result.timings.finished_at.timestamp() - sent) * 1000)


async def measure(
    *, events: int, routings: Sequence[Routing], log_dir: Path
) -> dict[str, dict[str, Phase]]:
    """Run both phases for each routing (logs in `log_dir`, which exists); the phases by routing."""
    secret = new_secret()
    results: dict[str, dict[str, Phase]] = {}
    async with temporal_server(log_dir) as server, emulator_process(log_dir) as emu:
        client, address = server.client, server.address
        queue = f"bridge-load-{uuid.uuid4().hex[:8]}"
        env = worker_env(temporal_address=address, base_url=emu.base_url, task_queue=queue, rpm=0)
        worker = await start_worker(client, env, log_dir / "worker.log")
        try:
            print(f"· creating {events + 1} stranger responses …", file=sys.stderr, flush=True)
            warmup, *strangers = await create_strangers(emu, events + 1)
            for routing in routings:
                async with bridge_process(
                    routing=routing,
                    temporal_address=address,
                    api_url=emu.base_url,
                    secret=secret,
                    log=log_dir / f"bridge-{routing}.log",
                ) as bridge:
                    root, bridge_pid = bridge.root_url, bridge.pid
                    meters = {
                        "bridge": Meter(bridge_pid),
                        "emulator": Meter(emu.pid),
                        "temporal": Meter(server.pid),
                        "worker": Meter(worker.pid),
                        "sender": Meter(os.getpid()),
                    }
                    await fire(root, secret, [warmup], "warm-up", {})
                    print(f"· {routing}: {events} strangers …", file=sys.stderr, flush=True)
                    stranger_phase, _ = await fire(root, secret, strangers, "strangers", meters)
                    print(f"· {routing}: {events} live runs …", file=sys.stderr, flush=True)
                    pairs = await start_live_runs(client, emu, queue, events)
                    ids = [rid for _, rid in pairs]
                    live, sent_at = await fire(root, secret, ids, "live runs", meters)
                    await wake(pairs, live, sent_at)
                results[routing] = {"strangers": stranger_phase, "live runs": live}
        finally:
            await worker.stop()
    return results


def table(results: dict[str, dict[str, Phase]]) -> str:
    """The results as a Markdown table."""
    lines = [
        "| routing | events | kind | answers | p50 ms | p95 ms | p99 ms | Temporal calls/event "
        "| API reads/event | delivered (retried) | woken | worker reads/run | wake p50 / max ms "
        "| CPU s: bridge, emulator, Temporal, worker, sender |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for routing, phases in results.items():
        for phase in phases.values():
            answers = ", ".join(f"{n}×{code}" for code, n in sorted(phase.codes.items()))
            woken = "-" if phase.woken is None else f"{phase.woken}/{phase.events}"
            reads = "-"
            wake = "-"
            if phase.woken:
                reads = f"{(phase.worker_reads or 0) / phase.woken:.2f}"
                wake = f"{phase.percentile(0.5, phase.wake_ms):.0f} / {max(phase.wake_ms):.0f}"
            cpu = ", ".join(f"{v:.1f}" for v in phase.cpu_s.values())
            lines.append(
                f"| {routing} | {phase.events} | {phase.kind} | {answers} "
                f"| {phase.percentile(0.5):.0f} | {phase.percentile(0.95):.0f} "
                f"| {phase.percentile(0.99):.0f} | {phase.temporal_calls / phase.events:.2f} "
                f"| {phase.api_reads / phase.events:.2f} | {phase.delivered} ({phase.retried}) "
                f"| {woken} | {reads} | {wake} | {cpu} |"
            )
    return "\n".join(lines)


def run_load(
    *, events: int, routings: Sequence[Routing], log_dir: Path
) -> dict[str, dict[str, Phase]]:
    """Measure, print the table and the targets that failed; the phases by routing."""
    log_dir.mkdir(parents=True, exist_ok=True)
    results = asyncio.run(measure(events=events, routings=routings, log_dir=log_dir))
    print(table(results))
    for failure in verdict(results):
        print("target missed:", failure)
    return results


def main(argv: Sequence[str] | None = None) -> int:
    """Command line; exit status 1 when a target is missed."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--routing", choices=[*ROUTINGS, "both"], default="both")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "bridge-load")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    routings: Sequence[Routing] = ROUTINGS if args.routing == "both" else (args.routing,)
    results = run_load(events=args.events, routings=routings, log_dir=args.out)
    if args.json:
        doc = {r: {k: asdict(p) for k, p in phases.items()} for r, phases in results.items()}
        args.json.write_text(json.dumps(doc, indent=2))
    return 1 if verdict(results) else 0


if __name__ == "__main__":
    sys.exit(main())
