"""The Temporal UI shows an encrypted run's answer only through the codec server.

A dev server whose UI is pointed at a codec server's address (`--ui-codec-endpoint`), a worker
that encrypts (`DURABLE_RUNS_CODEC_KEYS`), one run whose answer quotes a tool's secret output,
and headless Chromium reading the run's page: first while nothing serves that address (the UI
shows the ciphertext payload), then with `durable-runs codec-server`'s app serving it (the UI
shows the decrypted answer). Screenshot for the README: `docs/ui-codec-server.png`.
"""

from __future__ import annotations

import base64
import json
import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from openai import AsyncOpenAI
from playwright.async_api import Page, expect
from temporalio.client import Client

from durable_runs import client as api
from durable_runs.activities.tools import ToolRegistry
from durable_runs.codec_keys import parse_codec_keys
from durable_runs.codec_server import create_app
from durable_runs.devserver import LATENCY_ARGS, start_dev_environment, ui_codec_args
from durable_runs.models import RunRequest
from durable_runs.payloads import data_converter
from durable_runs.processes import free_port
from durable_runs.serving import serving
from durable_runs.settings import Settings
from durable_runs.worker import build_worker
from tests.ui import test_temporal_ui as shared
from tests.ui.test_temporal_ui import DOCS, FAST_POLL, UI_TIMEOUT_MS

browser = shared.browser
page = shared.page
"""The Chromium fixtures of the UI tests (one browser per module, a fresh page per test)."""

ENCRYPTED_ENCODING_B64 = base64.b64encode(b"binary/encrypted").decode()
"""How the UI shows the `encoding` of a payload it could not decode."""


@dataclass
class EncryptedRun:
    """A finished encrypted run and where its page and its codec server are."""

    run_url: str
    answer: str
    settings: Settings
    codec_port: int


@pytest.fixture(scope="module")
async def encrypted_run(openai_client: AsyncOpenAI) -> AsyncIterator[EncryptedRun]:
    """A dev server whose UI decodes through `127.0.0.1:<codec port>`, and one encrypted run."""
    ui_port, codec_port = free_port(), free_port()
    key = base64.b64encode(os.urandom(32)).decode()
    settings = Settings(
        codec_keys=parse_codec_keys(f"ui-test:{key}"),
        codec_cors_origins=f"http://127.0.0.1:{ui_port}",
    )
    codec_url = f"http://127.0.0.1:{codec_port}"
    env = await start_dev_environment(
        ui=True,
        ui_port=ui_port,
        dev_server_extra_args=[*LATENCY_ARGS, *ui_codec_args(codec_url)],
    )
    mark = uuid.uuid4().hex[:8]

    def vault(code: str) -> str:
        """Read the vault (returns its secret)."""
        return f"vault-secret-{mark}-{code}"

    registry = ToolRegistry()
    registry.register(vault)
    async with env:
        client = Client(
            env.client.service_client,
            namespace=env.client.namespace,
            data_converter=data_converter(settings),
        )
        queue = f"ui-codec-{uuid.uuid4()}"
        plan = [[{"name": "vault", "arguments": {"code": "c7"}}]]
        request = RunRequest(
            messages=[f"Ask the vault, quietly ({mark})"],
            tools=["vault"],
            metadata={"emu_tool_plan": json.dumps(plan)},
            poll=FAST_POLL,
        )
        async with build_worker(client, task_queue=queue, openai=openai_client, tools=registry):
            handle = await api.start_run(client, request, task_queue=queue)
            result = await handle.result()
        assert result.status == "completed" and mark in result.answer
        run_url = f"http://127.0.0.1:{ui_port}/namespaces/default/workflows/{handle.id}"
        yield EncryptedRun(run_url, result.answer, settings, codec_port)


async def test_ui_shows_ciphertext_without_the_codec_server(
    encrypted_run: EncryptedRun, page: Page
) -> None:
    await page.goto(encrypted_run.run_url)
    main = page.locator("main")
    await expect(main).to_contain_text(ENCRYPTED_ENCODING_B64, timeout=UI_TIMEOUT_MS)
    await expect(main).not_to_contain_text(encrypted_run.answer)


async def test_ui_shows_the_answer_decrypted_by_the_codec_server(
    encrypted_run: EncryptedRun, page: Page
) -> None:
    app = create_app(encrypted_run.settings)
    async with serving(app, port=encrypted_run.codec_port):
        await page.goto(encrypted_run.run_url)
        main = page.locator("main")
        await expect(main).to_contain_text(
            f'"answer": "{encrypted_run.answer}"', timeout=UI_TIMEOUT_MS
        )
        await expect(main).not_to_contain_text(ENCRYPTED_ENCODING_B64)
        DOCS.mkdir(exist_ok=True)
        await page.screenshot(
            path=str(DOCS / "ui-codec-server.png"),
            clip={"x": 0, "y": 0, "width": 1400, "height": 640},
        )
