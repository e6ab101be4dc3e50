"""Signed webhook events, sent the way OpenAI sends them, with retries and injectable faults.

Each event's attempts and its first 2xx answer are recorded in the object's stats (`webhooks`).

Faults (config `webhook_faults` for all events, knob `emu_webhook` per object, comma separated):
`drop`, `drop_first`, `duplicate`, `delay_ms:N`, `reorder`, `wrong_secret`, `drop_status:S`.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp

from durable_runs_emulator.config import EmulatorConfig
from durable_runs_emulator.signing import sign
from durable_runs_emulator.stats import ObjectRef, Stats

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Faults:
    """Parsed fault list for one event."""

    drop: bool = False
    drop_first: bool = False
    duplicate: bool = False
    delay_ms: float = 0.0
    reorder: bool = False
    wrong_secret: bool = False
    drop_statuses: frozenset[str] = frozenset()

    @classmethod
    def parse(cls, items: Sequence[str]) -> Faults:
        """Parse fault names (unknown names are ignored)."""
        delay = 0.0
        statuses: set[str] = set()
        for item in items:
            name, _, value = item.strip().partition(":")
            if name == "delay_ms" and value:
                delay = float(value)
            elif name == "drop_status" and value:
                statuses.add(value.strip())
        names = {item.strip() for item in items}
        return cls(
            drop="drop" in names,
            drop_first="drop_first" in names,
            duplicate="duplicate" in names,
            delay_ms=delay,
            reorder="reorder" in names,
            wrong_secret="wrong_secret" in names,
            drop_statuses=frozenset(statuses),
        )


@dataclass
class _Delivery:
    webhook_id: str
    event_type: str
    body: str
    faults: Faults
    ref: ObjectRef


def _hex_id(prefix: str) -> str:
    return f"{prefix}_" + secrets.token_hex(16)


class WebhookSender:
    """Sends `response.*` events (and, as an extension, `thread.run.*`) to the configured URL.

    Args:
        config: Returns the current configuration (it may change at runtime).
        stats: Where delivery counters go.
    """

    def __init__(self, config: Callable[[], EmulatorConfig], stats: Callable[[], Stats]) -> None:
        self._config = config
        self._stats = stats
        self._tasks: set[asyncio.Task[None]] = set()
        self._held: dict[str, tuple[_Delivery, asyncio.TimerHandle]] = {}
        self._client: aiohttp.ClientSession | None = None

    @property
    def enabled(self) -> bool:
        """True when a URL and a secret are configured."""
        config = self._config()
        return bool(config.webhook_url and config.webhook_secret)

    def publish(
        self, *, event_type: str, data: dict[str, Any], ref: ObjectRef, faults: Sequence[str] = ()
    ) -> None:
        """Queue an event (`data` is serialized now, so later changes do not leak into it).

        Args:
            event_type: E.g. `response.completed`.
            data: The event's `data` (`{"id": ...}` for responses, the full run for the
                `thread.run.*` extension).
            ref: The run/response the event is about (its stats entry records the delivery;
                `reorder` holds events per object).
            faults: The object's own faults, added to the configured ones.
        """
        if not self.enabled:
            return
        config = self._config()
        stats = self._stats()
        parsed = Faults.parse([*config.webhook_faults, *faults])
        stats.webhook("events")
        stats.webhooks_by_type[event_type] += 1
        status = event_type.rsplit(".", 1)[-1]
        if parsed.drop or status in parsed.drop_statuses:
            stats.webhook("dropped")
            return
        event = {
            "id": _hex_id("evt"),
            "object": "event",
            "created_at": int(time.time()),
            "type": event_type,
            "data": data,
        }
        delivery = _Delivery(_hex_id("wh"), event_type, json.dumps(event), parsed, ref)
        if parsed.reorder:
            self._reorder(ref.id, delivery, config.webhook_reorder_flush_ms / 1000.0)
            return
        self._start(delivery)

    def _reorder(self, object_id: str, delivery: _Delivery, flush_s: float) -> None:
        held = self._held.pop(object_id, None)
        if held is None:
            loop = asyncio.get_running_loop()
            handle = loop.call_later(flush_s, self._flush, object_id)
            self._held[object_id] = (delivery, handle)
            return
        previous, handle = held
        handle.cancel()
        self._start(delivery)
        self._start(previous, after=0.02)

    def _flush(self, object_id: str) -> None:
        held = self._held.pop(object_id, None)
        if held is not None:
            self._start(held[0])

    def _start(self, delivery: _Delivery, *, after: float = 0.0) -> None:
        copies = 2 if delivery.faults.duplicate else 1
        for _ in range(copies):
            task = asyncio.create_task(self._deliver(delivery, after))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def _client_for_send(self) -> aiohttp.ClientSession:
        # aiohttp, as a sender of many events at once needs: httpx's pool costs more per
        # request the more requests are in flight.
        if self._client is None:
            self._client = aiohttp.ClientSession()
        return self._client

    async def _deliver(self, delivery: _Delivery, after: float) -> None:
        delay = after + delivery.faults.delay_ms / 1000.0
        if delay > 0:
            await asyncio.sleep(delay)
        config = self._config()
        waits = [0.0, *config.webhook_retry_schedule_s]
        for attempt, wait in enumerate(waits):
            if wait > 0:
                await asyncio.sleep(wait)
            if await self._attempt(delivery, first=attempt == 0):
                return
        self._stats().webhook("gave_up")

    async def _attempt(self, delivery: _Delivery, *, first: bool) -> bool:
        config = self._config()
        stats = self._stats()
        stats.webhook("attempts")
        stats.record_webhook_attempt(
            delivery.ref,
            event_type=delivery.event_type,
            webhook_id=delivery.webhook_id,
            at=time.time(),
        )
        if first and delivery.faults.drop_first:
            stats.webhook("dropped")
            return False
        if not config.webhook_url or not config.webhook_secret:
            stats.webhook("dropped")
            return True
        secret = config.webhook_secret
        if delivery.faults.wrong_secret:
            secret = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
        timestamp = int(time.time())
        headers = {
            "content-type": "application/json",
            "user-agent": "OpenAI/1.0 (+https://platform.openai.com/docs/webhooks)",
            "webhook-id": delivery.webhook_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": sign(secret, delivery.webhook_id, timestamp, delivery.body),
        }
        try:
            async with self._client_for_send().post(
                config.webhook_url,
                data=delivery.body.encode(),
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=config.webhook_timeout_s),
            ) as response:
                await response.read()
                status_code = response.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            stats.webhook("failed")
            logger.debug(
                "webhook %s to %s failed: %s", delivery.event_type, config.webhook_url, exc
            )
            return False
        answered_at = time.time()
        stats.webhook("sent")
        if 200 <= status_code < 300:
            stats.webhook("succeeded")
            stats.record_webhook_delivered(
                delivery.ref, webhook_id=delivery.webhook_id, at=answered_at
            )
            return True
        stats.webhook("failed")
        return False

    async def close(self) -> None:
        """Cancel pending deliveries and close the HTTP client."""
        for _, handle in self._held.values():
            handle.cancel()
        self._held.clear()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._client is not None:
            await self._client.close()
            self._client = None
