"""Fixtures: a real emulator on a free port and real `AsyncOpenAI` clients pointed at it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from durable_runs_emulator.config import EmulatorConfig
from durable_runs_emulator.server import RunningEmulator, running_emulator
from openai import AsyncOpenAI


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Silence the SDK's Assistants DeprecationWarning in these tests, in one place.

    The Assistants API is deprecated upstream and the SDK marks its methods so; the emulator
    exists to test code against that API until its shutdown.
    """
    for item in items:
        if "tests/emulator/" in str(item.path).replace("\\", "/"):
            item.add_marker(pytest.mark.filterwarnings("ignore::DeprecationWarning"))


API_KEY = "sk-test-emulator"


@pytest.fixture(scope="session")
async def emu() -> AsyncIterator[RunningEmulator]:
    """One emulator shared by the tests that do not change its configuration."""
    async with running_emulator(EmulatorConfig()) as running:
        yield running


@pytest.fixture
async def client(emu: RunningEmulator) -> AsyncIterator[AsyncOpenAI]:
    """A real SDK client without SDK-side retries (the tests count every call)."""
    async with AsyncOpenAI(base_url=emu.base_url, api_key=API_KEY, max_retries=0) as sdk:
        yield sdk
