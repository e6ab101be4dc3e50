"""The stats and admin endpoints."""

from __future__ import annotations

import httpx
from durable_runs_emulator.config import EmulatorConfig
from durable_runs_emulator.server import running_emulator
from openai import AsyncOpenAI

from tests.emulator.helpers import API_KEY, FAST, setup_thread, wait_run


async def test_stats_shape_and_reset() -> None:
    async with (
        running_emulator(EmulatorConfig()) as emu,
        AsyncOpenAI(base_url=emu.base_url, api_key=API_KEY, max_retries=0) as client,
    ):
        assistant, thread = await setup_thread(client, "What is 2+3?")
        metadata = {**FAST, "temporal_workflow_id": "wf-stats", "durable_runs_step": "1"}
        run = await client.beta.threads.runs.create(
            thread_id=thread.id, assistant_id=assistant.id, metadata=metadata
        )
        await wait_run(client, run, {"completed"})
        await client.beta.threads.messages.list(thread_id=thread.id, run_id=run.id)
        stats = await emu.stats()
        assert stats["calls"]["POST /v1/threads/{thread_id}/runs"] == 1
        assert stats["calls"]["GET /v1/threads/{thread_id}/runs/{run_id}"] >= 1
        assert stats["calls_by_kind"]["create_run"] == 1
        assert stats["calls_by_kind"]["create_thread"] == 1
        assert stats["calls_by_kind"]["list_messages"] == 1
        entry = stats["runs"][run.id]
        assert entry["id"] == run.id
        assert entry["thread_id"] == thread.id
        assert entry["metadata"] == metadata
        assert entry["calls"]["create_run"] == 1
        assert entry["calls"]["list_messages"] == 1
        assert {r["kind"] for r in entry["requests"]} == {
            "create_run",
            "retrieve_run",
            "list_messages",
        }
        assert [s for s, _ in entry["statuses"]] == ["queued", "in_progress", "completed"]
        assert set(entry["status_times"]) == {"queued", "in_progress", "completed"}
        assert entry["webhooks"] == []  # no webhook_url, and runs send none by default
        assert stats["runs_by_workflow"] == {"wf-stats": [run.id]}
        assert stats["requests_per_minute_peak"] >= 5
        assert stats["process_cpu_seconds"] > 0
        assert set(stats["webhooks"]) >= {"sent", "succeeded", "failed", "dropped"}

        await emu.reset_stats()
        cleared = await emu.stats()
        assert cleared["runs"] == {}
        assert cleared["calls"] == {}
        again = await client.beta.threads.runs.retrieve(run.id, thread_id=thread.id)
        assert again.status == "completed"
        assert (await emu.stats())["runs"][run.id]["calls"] == {"retrieve_run": 1}


async def test_configure_over_http() -> None:
    async with running_emulator() as emu:
        new = await emu.configure(api_keys=["sk-only"], webhook_retry_schedule_s=[0.1])
        assert new["api_keys"] == ["sk-only"]
        assert emu.app_state.config.webhook_retry_schedule_s == [0.1]
        async with httpx.AsyncClient() as http:
            bad = await http.post(f"{emu.root_url}/_emulator/config", json={"api_keys": 3})
        assert bad.status_code == 400
        async with AsyncOpenAI(base_url=emu.base_url, api_key="sk-only", max_retries=0) as client:
            await client.beta.assistants.list()
