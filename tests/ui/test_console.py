"""The console page in headless Chromium, over the real stack.

The session's dev server and emulator, a worker on the test's own queue, the console served
by real uvicorn, and Debian's Chromium driven by playwright (the `browser` fixture of the
Temporal UI tests). Screenshots go to `docs/` for the README.
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from openai import AsyncOpenAI
from temporalio.client import Client, WorkflowFailureError
from temporalio.exceptions import CancelledError
from temporalio.testing import WorkflowEnvironment

from durable_runs.activities.tools import ToolRegistry
from durable_runs.client import RunHandle, send_message, start_run
from durable_runs.console import running_console
from durable_runs.models import ChatOptions, PollPolicy, RunRequest
from durable_runs.settings import Settings
from durable_runs.worker import build_worker
from tests.ui.test_temporal_ui import DOCS, UI_TIMEOUT_MS, browser  # noqa: F401 -- fixture

try:
    from playwright.async_api import Browser, Page, expect
except ImportError:  # the `browser` fixture fails with the install hint
    pass

FAST_POLL = PollPolicy(initial_interval_s=0.1, backoff=1.5, max_interval_s=0.3, deadline_s=120)
REFUND_PLAN = [[{"name": "refund_order", "arguments": {"order_id": "A-17", "amount": 20.0}}]]
"""The emulator's model asks `refund_order` (a demo tool that requires approval) once."""


def refund_request() -> RunRequest:
    """A run that stops at a `refund_order` call until a person decides."""
    return RunRequest(
        messages=["Refund order A-17"],
        tools=["refund_order"],
        metadata={"emu_tool_plan": json.dumps(REFUND_PLAN)},
        poll=FAST_POLL,
    )


@dataclass
class Console:
    """The console served over the dev server, and the queue of its worker."""

    client: Client
    url: str
    queue: str


async def ends_cancelled(handle: RunHandle) -> None:
    """Wait for the run workflow to end as cancelled (what `cancel_run` asks)."""
    with pytest.raises(WorkflowFailureError) as failure:
        await asyncio.wait_for(handle.result(), timeout=20)
    assert isinstance(failure.value.cause, CancelledError)


@pytest.fixture(scope="module")
async def console(
    temporal_env: WorkflowEnvironment, openai_client: AsyncOpenAI, tools: ToolRegistry
) -> AsyncIterator[Console]:
    """A worker on a fresh queue and the console on a free port."""
    client = temporal_env.client
    queue = f"console-{uuid.uuid4()}"
    settings = Settings(TEMPORAL_UI_URL="http://127.0.0.1:8233", DURABLE_RUNS_TASK_QUEUE=queue)
    async with (
        build_worker(client, task_queue=queue, openai=openai_client, tools=tools),
        running_console(settings, client) as served,
    ):
        yield Console(client=client, url=served.root_url, queue=queue)


@pytest.fixture
async def page(browser: Browser) -> AsyncIterator[Page]:  # noqa: F811 -- the imported fixture
    """A fresh page in its own context."""
    context = await browser.new_context(viewport={"width": 1280, "height": 520})
    context.set_default_timeout(UI_TIMEOUT_MS)
    opened = await context.new_page()
    try:
        yield opened
    finally:
        await context.close()


async def test_the_runs_page_shows_a_run_turn_completed_live(console: Console, page: Page) -> None:
    request = RunRequest(
        messages=["What is 2+2?"], metadata={"emu_duration_ms": "3000"}, poll=FAST_POLL
    )
    handle = await start_run(console.client, request, task_queue=console.queue)
    await page.goto(f"{console.url}/?task_queue={console.queue}")
    row = page.locator(f'tr[data-workflow-id="{handle.id}"]')
    status = row.locator(".run-status")
    await expect(row).to_be_visible()
    assert await status.inner_text() != "completed"  # seen before the run ends...
    await expect(status).to_have_text("completed", timeout=15_000)  # ...then live, no reload
    await expect(row).to_contain_text("resp_")
    link = row.get_by_role("link", name="open")
    assert await link.get_attribute("href") == (
        f"http://127.0.0.1:8233/namespaces/default/workflows/{handle.id}"
    )
    await page.screenshot(
        path=str(DOCS / "console-runs.png"), clip={"x": 0, "y": 0, "width": 1280, "height": 220}
    )

    await row.get_by_role("link", name=handle.id).click()
    await expect(page.locator(".run-status")).to_have_text("completed")
    await expect(page.locator("main")).to_contain_text("API calls")
    await expect(page.get_by_role("button", name="Cancel run")).to_have_count(0)


async def test_cancel_from_the_run_page(console: Console, page: Page) -> None:
    request = RunRequest(
        messages=["What is 2+2?"], metadata={"emu_duration_ms": "60000"}, poll=FAST_POLL
    )
    handle = await start_run(console.client, request, task_queue=console.queue)
    await page.goto(f"{console.url}/runs/{handle.id}")
    await page.get_by_role("button", name="Cancel run").click()
    await expect(page.get_by_role("status")).to_contain_text("cancellation")
    await ends_cancelled(handle)
    await expect(page.locator(".badge")).to_have_text("canceled")  # the detail refreshed
    await expect(page.get_by_role("button", name="Cancel run")).to_have_count(0)


async def test_a_post_from_another_origin_is_refused(console: Console) -> None:
    request = RunRequest(
        messages=["What is 2+2?"], metadata={"emu_duration_ms": "60000"}, poll=FAST_POLL
    )
    handle = await start_run(console.client, request, task_queue=console.queue)
    try:
        async with httpx.AsyncClient(base_url=console.url) as http:
            refused = await http.post(
                f"/runs/{handle.id}/cancel", headers={"Origin": "http://evil.example"}
            )
            assert refused.status_code == 403
            assert "cross-site" in refused.text
            description = await handle.describe()
            assert description.status is not None and description.status.name == "RUNNING"
            # The same request from the console's own page is served.
            served = await http.post(f"/runs/{handle.id}/cancel", headers={"Origin": console.url})
            assert served.status_code == 303
    finally:
        await ends_cancelled(handle)


async def test_approve_a_pending_call_on_the_page_and_the_run_completes(
    console: Console, page: Page, tools: ToolRegistry
) -> None:
    handle = await start_run(
        console.client, refund_request(), task_queue=console.queue, tools=tools
    )
    await page.goto(f"{console.url}/approvals")
    row = page.locator("tr", has_text=handle.id)  # appears when visibility has the run
    await expect(row).to_contain_text("refund_order")
    await expect(row).to_contain_text('"order_id": "A-17"')
    await page.screenshot(
        path=str(DOCS / "console-approvals.png"),
        clip={"x": 0, "y": 0, "width": 1280, "height": 220},
    )
    await row.get_by_role("button", name="Approve").click()
    await expect(page.get_by_role("status")).to_contain_text("approved call")
    result = await asyncio.wait_for(handle.result(), timeout=20)
    assert result.status == "completed"
    assert result.tool_rounds == 1
    await expect(page.locator("tr", has_text=handle.id)).to_have_count(0)


async def test_reject_with_a_reason_on_the_page(
    console: Console, page: Page, tools: ToolRegistry
) -> None:
    handle = await start_run(
        console.client, refund_request(), task_queue=console.queue, tools=tools
    )
    await page.goto(f"{console.url}/approvals")
    row = page.locator("tr", has_text=handle.id)
    await row.get_by_label("reason").fill("order already refunded")
    await row.get_by_role("button", name="Reject").click()
    await expect(page.get_by_role("status")).to_contain_text("rejected call")
    result = await asyncio.wait_for(handle.result(), timeout=20)
    assert result.status == "completed"
    assert "order already refunded" in result.answer


async def test_a_chat_message_sent_on_the_page_shows_its_turn_then_the_answer(
    console: Console, page: Page
) -> None:
    session = f"console-{uuid.uuid4().hex[:8]}"
    # The first turn comes from the API, with turns slow enough to be seen running.
    slow = ChatOptions(poll=FAST_POLL, metadata={"emu_duration_ms": "2000"})
    first = await send_message(
        console.client, session, "What is 2+2?", request=slow, task_queue=console.queue
    )
    assert first.answer == "4"
    await page.goto(f"{console.url}/chat/{session}")
    await expect(page.locator('[data-turn="1"]')).to_contain_text("4")
    await page.get_by_label("message").fill("What is 3+3?")
    await page.get_by_role("button", name="Send").click()
    second = page.locator('[data-turn="2"]')
    await expect(second).to_have_class(re.compile(r"\brunning\b"))  # shown while it runs
    await expect(second.locator(".answer")).to_contain_text("6", timeout=15_000)
    await expect(second).to_have_class(re.compile(r"\bcompleted\b"))
    await page.screenshot(
        path=str(DOCS / "console-chat.png"),
        clip={"x": 0, "y": 0, "width": 1280, "height": 320},
    )
