"""Metrics after real runs: the worker's Prometheus endpoint and the bridge's `/metrics`.

A worker whose client has a metrics runtime (`DURABLE_RUNS_METRICS_BIND`) runs webhook-mode
runs through the real bridge; both endpoints are scraped and their values checked against what
the runs did (the emulator's and the workflows' own records).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from durable_runs_emulator.config import EmulatorConfig
from durable_runs_emulator.server import RunningEmulator, running_emulator
from openai import AsyncOpenAI
from prometheus_client.parser import text_string_to_metric_families
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from durable_runs.bridge.server import RunningBridge, running_bridge
from durable_runs.processes import free_port
from durable_runs.settings import Settings
from durable_runs.telemetry.metrics import metrics_runtime
from durable_runs.temporal import connect
from tests.conftest import TEST_API_KEY, WorkerFactory
from tests.waiting import wait_for
from tests.webhooks.helpers import (
    WEATHER,
    WEATHER_TOOLS,
    reading_from,
    received_events,
    request,
    result_of,
    signed_delivery,
    start,
)

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


async def scrape(url: str) -> Samples:
    """Every sample of a Prometheus endpoint, by name and labels (`service_name` dropped)."""
    async with httpx.AsyncClient() as http:
        response = await http.get(url)
        response.raise_for_status()
    samples: Samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            labels = frozenset((k, v) for k, v in sample.labels.items() if k != "service_name")
            samples[(sample.name, labels)] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    """The sum of the samples of `name` whose labels include `labels` (0 when none)."""
    wanted = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and wanted <= ls)


@pytest.fixture
async def metrics_client(temporal_env: WorkflowEnvironment) -> AsyncIterator[tuple[Client, str]]:
    """A client of the dev server whose runtime serves Prometheus metrics; and their URL."""
    bind = f"127.0.0.1:{free_port()}"
    address = temporal_env.client.service_client.config.target_host
    settings = Settings(TEMPORAL_ADDRESS=address, DURABLE_RUNS_METRICS_BIND=bind)
    client = await connect(settings, runtime=metrics_runtime(settings))
    yield client, f"http://{bind}/metrics"


@pytest.fixture
async def own_pair(
    bridge_settings: Settings, webhook_secret: str
) -> AsyncIterator[tuple[RunningEmulator, RunningBridge]]:
    """A webhook emulator and a bridge of this test alone: no other test's late deliveries."""
    async with running_emulator(EmulatorConfig(webhook_secret=webhook_secret)) as emulator:
        async with running_bridge(reading_from(bridge_settings, emulator)) as bridge:
            await emulator.configure(webhook_url=bridge.url)
            yield emulator, bridge


async def test_worker_and_bridge_metrics_count_what_the_runs_did(
    metrics_client: tuple[Client, str],
    worker_factory: WorkerFactory,
    own_pair: tuple[RunningEmulator, RunningBridge],
    webhook_secret: str,
) -> None:
    client, worker_metrics_url = metrics_client
    emulator, bridge = own_pair
    openai = AsyncOpenAI(base_url=emulator.base_url, api_key=TEST_API_KEY, max_retries=0)
    bridge_metrics_url = bridge.base_url + "/metrics"
    bridge_before = await scrape(bridge_metrics_url)
    emulator_before = (await emulator.stats())["webhooks"]
    rate_limited = {"emu_create_rate_limit": "1", "emu_retry_after_ms": "1000"}
    requests = [
        request(backend="responses"),
        request(backend="responses", metadata=rate_limited),
        request(WEATHER, backend="responses", tools=WEATHER_TOOLS),
    ]
    async with worker_factory(client, openai=openai) as queue:
        handles = [await start(client, queue, r) for r in requests]
        results = await asyncio.gather(*(result_of(h) for h in handles))
    assert [r.status for r in results] == ["completed"] * 3
    # One bad signature: refused, and counted as such.
    body, headers = signed_delivery(webhook_secret, "response.completed", {"id": "resp_x"})
    headers["webhook-signature"] = "v1,bm90IGEgc2lnbmF0dXJl"
    async with httpx.AsyncClient() as http:
        assert (await http.post(bridge.url, content=body, headers=headers)).status_code == 401

    signals = sum([len(await received_events(h)) for h in handles])
    workflow_reads = sum(r.api_calls.get("read", 0) for r in results)

    async def worker_settled() -> Samples | None:
        samples = await scrape(worker_metrics_url)
        done = value(samples, "durable_runs_completion_to_notice_seconds_count")
        return samples if done == len(results) else None

    worker = await wait_for(worker_settled, what="the runs' metrics on the worker endpoint")
    api = "durable_runs_api_calls_total"
    # Every run created exactly one first response; the 429 and its wait are counted apart.
    assert value(worker, api, kind="create", outcome="ok") == len(results)
    assert value(worker, api, kind="create", outcome="429") == 1
    assert value(worker, "durable_runs_api_retry_after_seconds_count", kind="create") == 1
    assert value(worker, "durable_runs_api_retry_after_seconds_sum", kind="create") == 1.0
    # The weather run's tool rounds: each created a follow-up response (a submit).
    tool_rounds = sum(r.tool_rounds for r in results)
    assert tool_rounds >= 1
    assert value(worker, api, kind="submit", outcome="ok") == tool_rounds
    assert value(worker, api, kind="read", outcome="ok") == workflow_reads
    ok_calls = sum(sum(r.api_calls.values()) for r in results)
    assert value(worker, api, outcome="ok") == ok_calls
    tool_calls = value(worker, "durable_runs_tool_calls_total", outcome="ok")
    assert tool_calls == value(worker, "durable_runs_tool_duration_seconds_count") >= 2
    assert value(worker, "durable_runs_tool_calls_total", tool="get_weather", outcome="ok") == 2
    # Each wait an event ended with its snapshot was a read not made.
    assert value(worker, "durable_runs_reads_avoided_by_events_total") >= len(results)
    assert value(worker, "durable_runs_api_budget_wait_seconds_count") == value(worker, api)
    assert value(worker, "temporal_workflow_completed_total", workflow_type="RunWorkflow") == 3

    bridge_after = await scrape(bridge_metrics_url)
    emulator_after = (await emulator.stats())["webhooks"]

    def delta(name: str, **labels: str) -> float:
        return value(bridge_after, name, **labels) - value(bridge_before, name, **labels)

    deliveries = "durable_runs_bridge_deliveries_total"
    assert delta(deliveries, outcome="signalled") == signals
    assert delta(deliveries, outcome="401") == 1
    delivered = emulator_after["succeeded"] - emulator_before["succeeded"]
    assert delta(deliveries, outcome="signalled") + delta(deliveries, outcome="unknown_run") == (
        delivered
    )
    assert delta("durable_runs_bridge_received_total") == delivered + 1
    assert delta("durable_runs_bridge_signal_seconds_count") == signals + delta(
        deliveries, outcome="unknown_run"
    )
    assert delta("durable_runs_bridge_lookup_seconds_count", routing="retrieve") == delivered
