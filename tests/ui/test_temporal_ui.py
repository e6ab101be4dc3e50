"""The Temporal Web UI shows our runs: status, OpenAI search attributes, summary and details.

A dev server started WITH its Web UI, a worker whose test tool blocks until the test releases it
(so one run sits in `requires_action`), one finished run, and headless Chromium (Debian's
`chromium`, driven by the `playwright` package: no browser download) reading the real pages.
Screenshots go to `docs/` for the README.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest
from openai import AsyncOpenAI
from temporalio.client import Client

from durable_runs.activities.demo_tools import demo_registry
from durable_runs.devserver import start_dev_environment
from durable_runs.models import PollPolicy, RunRequest
from durable_runs.processes import free_port
from durable_runs.worker import build_worker
from durable_runs.workflows.run import RunWorkflow

try:
    from playwright.async_api import Browser, Page, async_playwright, expect
    from playwright.async_api import Error as PlaywrightError
except ImportError:  # reported by the `browser` fixture as a failure, never a skip
    PLAYWRIGHT_MISSING = True
else:
    PLAYWRIGHT_MISSING = False

CHROMIUM = Path(os.environ.get("DURABLE_RUNS_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
INSTALL_HINT = (
    "`make test` installs it: apt-get install -y --no-install-recommends chromium "
    "and .venv/bin/pip install playwright (no browser download: the test uses Debian's chromium)"
)
DOCS = Path(__file__).resolve().parents[2] / "docs"
UI_TIMEOUT_MS = 20_000
"""Bound on every wait for the UI (the first page load compiles a lot of JavaScript)."""

FAST_POLL = PollPolicy(initial_interval_s=0.1, backoff=1.5, max_interval_s=0.5, deadline_s=300)
WAITING_TOOL = "wait_for_approval"


@dataclass
class UiStack:
    """The dev server with its UI, and the two runs the tests look at."""

    client: Client
    base_url: str
    finished_id: str
    waiting_id: str


async def _until(check: Callable[[], Awaitable[bool]], *, within: float = 20.0) -> None:
    deadline = time.monotonic() + within
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {within}s")
        await asyncio.sleep(0.05)


@pytest.fixture(scope="module")
async def ui_stack(openai_client: AsyncOpenAI) -> AsyncIterator[UiStack]:
    """Dev server + UI, a worker, one completed run and one blocked in `requires_action`."""
    release = asyncio.Event()

    async def wait_for_approval(ticket: str) -> str:
        """Wait until a human approves the ticket (the test releases it)."""
        await release.wait()
        return f"ticket {ticket} approved"

    registry = demo_registry()
    registry.register(wait_for_approval)
    ui_port = free_port()
    env = await start_dev_environment(ui=True, ui_port=ui_port)
    async with env:
        client = env.client
        queue = f"ui-{uuid.uuid4()}"
        worker = build_worker(client, task_queue=queue, openai=openai_client, tools=registry)
        async with worker:
            try:
                suffix = uuid.uuid4().hex[:6]
                finished = await client.start_workflow(
                    RunWorkflow.run,
                    RunRequest(messages=["What is 2+2?"], poll=FAST_POLL),
                    id=f"run-finished-{suffix}",
                    task_queue=queue,
                    static_summary="What is 2+2?",
                )
                assert (await finished.result()).answer == "4"
                plan = [[{"name": WAITING_TOOL, "arguments": {"ticket": "T-42"}}]]
                waiting = await client.start_workflow(
                    RunWorkflow.run,
                    RunRequest(
                        # A run waits in `requires_action`: Assistants' status.
                        backend="assistants",
                        messages=["Approve refund ticket T-42"],
                        tools=[WAITING_TOOL],
                        metadata={"emu_tool_plan": json.dumps(plan)},
                        poll=FAST_POLL,
                    ),
                    id=f"run-waiting-{suffix}",
                    task_queue=queue,
                    static_summary="Approve refund ticket T-42",
                )
                query = f'OpenAIRunStatus="requires_action" AND WorkflowId="{waiting.id}"'

                async def visible_as_waiting() -> bool:
                    return (await client.count_workflows(query)).count == 1

                await _until(visible_as_waiting)
                yield UiStack(client, f"http://127.0.0.1:{ui_port}", finished.id, waiting.id)
                release.set()
                result = await waiting.result()
                assert result.status == "completed"
                assert "approved" in result.answer
            finally:
                release.set()


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    """Headless Debian Chromium under playwright; fails (never skips) when it is missing."""
    if PLAYWRIGHT_MISSING:
        pytest.fail(f"the playwright package is missing: {INSTALL_HINT}")
    if not await asyncio.to_thread(CHROMIUM.exists):
        pytest.fail(f"Chromium is missing at {CHROMIUM}: {INSTALL_HINT}")
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture
async def page(browser: Browser) -> AsyncIterator[Page]:
    """A fresh page (own context: no column settings carried between tests)."""
    context = await browser.new_context(viewport={"width": 1400, "height": 800})
    context.set_default_timeout(UI_TIMEOUT_MS)
    opened = await context.new_page()
    try:
        yield opened
    finally:
        await context.close()


def _workflows_url(stack: UiStack, query: str | None = None) -> str:
    url = f"{stack.base_url}/namespaces/default/workflows"
    return url + (f"?query={quote(query)}" if query else "")


async def test_list_filters_runs_by_openai_status(ui_stack: UiStack, page: Page) -> None:
    await page.goto(_workflows_url(ui_stack, 'OpenAIRunStatus="requires_action"'))
    waiting_row = page.locator("tr", has_text=ui_stack.waiting_id)
    await expect(waiting_row).to_contain_text("Running", ignore_case=True)
    await expect(page.locator("tr", has_text=ui_stack.finished_id)).to_have_count(0)

    # The whole list, with our search attributes as columns: both runs, each with its status.
    await page.goto(_workflows_url(ui_stack))
    await page.get_by_test_id("workflows-summary-table-configuration-button").click()
    for column in ("OpenAIRunStatus", "OpenAIRunId"):
        await page.get_by_role("button", name=f"Add {column} column").click()
    for column in ("Run ID", "Type", "End"):  # room for ours in the screenshot
        await page.get_by_role("button", name=f"Remove {column} column").click()
    await page.get_by_role("button", name="Close Workflows Table configuration").click()
    await expect(page.locator("#workflows-table-configuration-drawer")).to_be_hidden()
    await expect(page.get_by_role("columnheader", name="OpenAIRunStatus")).to_be_visible()
    finished_row = page.locator("tr", has_text=ui_stack.finished_id)
    await expect(finished_row).to_contain_text("Completed", ignore_case=True)
    await expect(finished_row.get_by_text("completed", exact=True)).to_be_in_viewport()
    await expect(finished_row.get_by_text("resp_")).to_be_in_viewport()
    await expect(waiting_row.get_by_text("requires_action", exact=True)).to_be_in_viewport()
    DOCS.mkdir(exist_ok=True)
    await page.screenshot(
        path=str(DOCS / "ui-runs.png"), clip={"x": 0, "y": 0, "width": 1400, "height": 400}
    )


async def _frames_text(page: Page) -> str:
    """Text of the page's iframes (the UI renders summaries and details in sandboxed frames)."""
    parts = []
    for frame in page.frames[1:]:
        try:
            parts.append(await frame.locator("body").inner_text(timeout=1000))
        except PlaywrightError:
            continue  # the UI re-rendered and dropped this frame: the next read sees the new one
    return "\n".join(parts)


@pytest.mark.parametrize(
    ("which", "badge", "summary", "details"),
    [
        ("finished", "Completed", "What is 2+2?", "status completed"),
        ("waiting", "Running", "Approve refund ticket T-42", "status requires_action"),
    ],
)
async def test_run_page_shows_status_summary_and_details(
    ui_stack: UiStack, page: Page, which: str, badge: str, summary: str, details: str
) -> None:
    workflow_id = ui_stack.finished_id if which == "finished" else ui_stack.waiting_id
    await page.goto(f"{_workflows_url(ui_stack)}/{workflow_id}")
    await page.get_by_text("User Metadata", exact=True).first.click()
    await page.wait_for_url("**/user-metadata")
    header = page.locator("main")
    await expect(header).to_contain_text(workflow_id)
    await expect(header).to_contain_text(badge, ignore_case=True)
    await expect(header).to_contain_text("Current Details")

    texts: list[str] = []

    async def shows_summary_and_details() -> bool:
        texts.append(await _frames_text(page))
        return summary in texts[-1] and details in texts[-1]

    try:
        await _until(shows_summary_and_details, within=UI_TIMEOUT_MS / 1000)
    except AssertionError as err:
        raise AssertionError(f"summary/details not shown; frames said {texts[-1:]!r}") from err
    assert "API calls" in texts[-1]
    if which == "waiting":
        DOCS.mkdir(exist_ok=True)
        await page.screenshot(
            path=str(DOCS / "ui-run-detail.png"),
            clip={"x": 0, "y": 0, "width": 1400, "height": 620},
        )
