"""The one way tests wait: check a condition until it holds, within a bound (never a bare sleep)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")

FIRST_DELAY_S = 0.01
MAX_DELAY_S = 0.2


class ConditionTimeout(AssertionError):
    """A waited-for condition did not hold within its bound."""


async def wait_for(
    probe: Callable[[], Awaitable[T | None]], *, within: float = 15.0, what: str = "condition"
) -> T:
    """Call `probe` until it returns something truthy, backing off briefly between calls.

    Args:
        probe: Returns a truthy value once the condition holds (None/False before).
        within: Bound in seconds.
        what: The condition, for the failure message.

    Returns:
        The first truthy value.

    Raises:
        ConditionTimeout: The bound passed first (the last value or error is in the message).
    """
    deadline = time.monotonic() + within
    delay = FIRST_DELAY_S
    last: object = None
    while True:
        try:
            value = await probe()
        except Exception as err:  # a probe of a process still starting may fail; retry
            value, last = None, err
        else:
            last = value
        if value:
            return value
        if time.monotonic() > deadline:
            raise ConditionTimeout(f"{what}: not within {within:g} s (last: {last!r})")
        await asyncio.sleep(delay)  # noqa: ASYNC110 -- polling external state, bounded
        delay = min(delay * 2, MAX_DELAY_S)
