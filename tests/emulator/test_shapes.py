"""Fidelity: emulator JSON validates against the OpenAPI schemas and the SDK's own types."""

from __future__ import annotations

import json
from typing import Any

import httpx
from durable_runs_emulator.server import RunningEmulator
from openai.types.beta import Assistant, Thread
from openai.types.beta.threads import Message, Run

from tests.emulator.helpers import FAST, WEATHER_TOOLS, eventually, raw_client
from tests.emulator.openapi import assert_matches


async def test_objects_in_every_status_match_the_schemas(emu: RunningEmulator) -> None:
    async with raw_client(emu) as http:
        assistant = (
            await http.post(
                "/v1/assistants",
                json={"model": "gpt-4o-mini", "instructions": "Be brief.", "tools": WEATHER_TOOLS},
            )
        ).json()
        assert_matches("AssistantObject", assistant)
        Assistant.model_validate(assistant)
        assert assistant["id"].startswith("asst_")

        thread = (
            await http.post(
                "/v1/threads",
                json={"messages": [{"role": "user", "content": "What's the weather in Paris?"}]},
            )
        ).json()
        assert_matches("ThreadObject", thread)
        Thread.model_validate(thread)
        assert thread["id"].startswith("thread_")

        runs_url = f"/v1/threads/{thread['id']}/runs"
        created = await http.post(
            runs_url,
            json={
                "assistant_id": assistant["id"],
                "metadata": {"emu_queued_ms": "100", "emu_duration_ms": "150"},
            },
        )
        run = created.json()
        assert run["status"] == "queued"
        assert run["id"].startswith("run_")
        seen: dict[str, dict[str, object]] = {}

        async def poll() -> dict[str, object]:
            current: dict[str, object] = (await http.get(f"{runs_url}/{run['id']}")).json()
            seen.setdefault(str(current["status"]), current)
            return current

        await eventually(poll, lambda r: r["status"] == "requires_action")
        cancel = await http.post(f"{runs_url}/{run['id']}/cancel")
        seen.setdefault("cancelling", cancel.json())
        await eventually(poll, lambda r: r["status"] == "cancelled")
        for status in ("queued", "in_progress", "requires_action", "cancelling", "cancelled"):
            snapshot = run if status == "queued" else seen[status]
            assert snapshot["status"] == status
            assert_matches("RunObject", snapshot)
            Run.model_validate(snapshot)

        action = seen["requires_action"]["required_action"]
        assert isinstance(action, dict)
        call = action["submit_tool_outputs"]["tool_calls"][0]
        assert call["id"].startswith("call_")
        assert call["type"] == "function"
        assert json.loads(call["function"]["arguments"]) == {"city": "Paris"}
        assert seen["requires_action"]["usage"] is None
        assert seen["cancelled"]["cancelled_at"] is not None
        assert seen["cancelled"]["expires_at"] is None

        listed = (await http.get(runs_url)).json()
        assert_matches("ListRunsResponse", listed)
        messages = (await http.get(f"/v1/threads/{thread['id']}/messages")).json()
        assert_matches("ListMessagesResponse", messages)
        for message in messages["data"]:
            assert_matches("MessageObject", message)
            Message.model_validate(message)
        assistants = (await http.get("/v1/assistants", params={"limit": 2})).json()
        assert_matches("ListAssistantsResponse", assistants)


async def test_completed_failed_and_incomplete_runs_match(emu: RunningEmulator) -> None:
    async with raw_client(emu) as http:
        assistant = (await http.post("/v1/assistants", json={"model": "gpt-4o-mini"})).json()
        for outcome, status in (
            ("completed", "completed"),
            ("failed", "failed"),
            ("incomplete", "incomplete"),
            ("expired", "expired"),
        ):
            thread = (
                await http.post(
                    "/v1/threads", json={"messages": [{"role": "user", "content": "What is 6*7?"}]}
                )
            ).json()
            url = f"/v1/threads/{thread['id']}/runs"
            run = (
                await http.post(
                    url,
                    json={
                        "assistant_id": assistant["id"],
                        "metadata": {**FAST, "emu_outcome": outcome},
                    },
                )
            ).json()
            run_url = f"{url}/{run['id']}"
            final = await eventually(
                lambda: _get(http, run_url),  # noqa: B023 - awaited within this iteration
                lambda r: r["status"] == status,  # noqa: B023
            )
            assert_matches("RunObject", final)
            Run.model_validate(final)
            if status == "completed":
                assert final["completed_at"] is not None
                assert final["usage"]["total_tokens"] > 0
                messages = (await http.get(f"/v1/threads/{thread['id']}/messages")).json()
                answer = messages["data"][0]
                assert_matches("MessageObject", answer)
                assert answer["role"] == "assistant"
                assert answer["run_id"] == run["id"]
                assert answer["assistant_id"] == assistant["id"]
                assert answer["content"] == [
                    {"type": "text", "text": {"value": "42", "annotations": []}}
                ]
            if status == "failed":
                assert final["failed_at"] is not None
                assert final["last_error"] == {
                    "code": "server_error",
                    "message": "Sorry, something went wrong.",
                }
            if status == "incomplete":
                assert final["incomplete_details"] == {"reason": "max_completion_tokens"}


async def _get(http: httpx.AsyncClient, url: str) -> dict[str, Any]:
    result: dict[str, Any] = (await http.get(url)).json()
    return result


async def test_error_bodies_match_the_schema(emu: RunningEmulator) -> None:
    async with raw_client(emu) as http, raw_client(emu, key=None) as anonymous:
        responses = [
            await anonymous.get("/v1/assistants"),
            await http.get("/v1/threads/thread_nope/runs/run_nope"),
            await http.post("/v1/threads/thread_nope/runs", json={}),
            await http.get("/v1/nothing-here"),
        ]
        for response in responses:
            assert response.status_code in (401, 404)
            assert_matches("ErrorResponse", response.json())
            assert set(response.json()["error"]) == {"message", "type", "param", "code"}
