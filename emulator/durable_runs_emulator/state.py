"""The emulator's whole in-memory state, shared by the routes (one per app)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

from fastapi import Request

from durable_runs_emulator.config import EmulatorConfig
from durable_runs_emulator.errors import rate_limited, server_error
from durable_runs_emulator.responses import ResponseRecord
from durable_runs_emulator.stats import Stats
from durable_runs_emulator.store import Store
from durable_runs_emulator.webhooks import WebhookSender

logger = logging.getLogger(__name__)


class EmulatorState:
    """Config, objects, stats, webhook sender and the lifecycle tasks of runs/responses.

    Args:
        config: The initial configuration.
    """

    def __init__(self, config: EmulatorConfig) -> None:
        self.config = config
        self.store = Store()
        self.stats = Stats()
        self.webhooks = WebhookSender(lambda: self.config, lambda: self.stats)
        self.responses: dict[str, ResponseRecord] = {}
        self.response_create_attempts: dict[str, int] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def spawn(self, coro: Coroutine[Any, Any, None], *, name: str) -> asyncio.Task[None]:
        """Run a lifecycle coroutine as a task the state owns (cancelled on shutdown)."""
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("emulator task %s crashed", task.get_name(), exc_info=task.exception())

    def update_config(self, changes: dict[str, Any]) -> EmulatorConfig:
        """Merge `changes` into the configuration (validated) and return the new one."""
        self.config = EmulatorConfig.model_validate({**self.config.model_dump(), **changes})
        return self.config

    async def close(self) -> None:
        """Stop every lifecycle task and webhook delivery."""
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.webhooks.close()


def check_object_faults(target: Any, *, model: str = "gpt-4o-mini") -> None:
    """Answer a call about an object with its scripted 429/5xx, if any budget is left.

    Args:
        target: A run or response record with `rate_limit_left`, `server_error_left` and
            `scenario`.
        model: Model named in the 429 message.

    Raises:
        APIError: The scripted error.
    """
    if target.rate_limit_left > 0:
        target.rate_limit_left -= 1
        raise rate_limited(target.scenario.retry_after_ms, model=model)
    if target.server_error_left > 0:
        target.server_error_left -= 1
        raise server_error(target.scenario.server_error_status)


async def get_state(request: Request) -> EmulatorState:
    """FastAPI dependency: the app's state (async: a plain `def` would run in the thread pool)."""
    state: EmulatorState = request.app.state.emulator
    return state
