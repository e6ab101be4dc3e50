"""Webhook signature verification (Standard Webhooks, as OpenAI uses it) and the event envelope.

The HMAC comparison is the openai SDK's own (`client.webhooks.verify_signature`). Around it this
module adds what a server needs: several accepted secrets (rotation without downtime) and a clock
that tests can freeze. The FastAPI side (raw body, size limit, status codes) is in
`bridge.dependencies`.
"""

from __future__ import annotations

import base64
import binascii
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

from openai import AsyncOpenAI, InvalidWebhookSignatureError
from pydantic import BaseModel, ConfigDict, Field

SECRET_PREFIX = "whsec_"

DEFAULT_TOLERANCE_S = 300
"""Accepted distance between `webhook-timestamp` and now (Standard Webhooks: 5 minutes)."""

DEFAULT_MAX_BODY_BYTES = 1 << 20
"""Largest accepted webhook body (1 MiB); OpenAI's events are a few KiB at most."""

REQUIRED_HEADERS = ("webhook-id", "webhook-timestamp", "webhook-signature")


class SignatureError(Exception):
    """The delivery is not proven to come from the sender: answer 401, signal nothing."""


class WebhookEvent(BaseModel):
    """An OpenAI webhook event envelope (`{"id", "object", "type", "created_at", "data"}`).

    Attributes:
        id: The event's own id (`evt_...`).
        object: Always `event`.
        type: E.g. `response.completed`, `thread.run.completed`, `batch.completed`.
        created_at: Unix seconds.
        data: The payload: `{"id": ...}` for `response.*`, the whole run for `thread.run.*`.
    """

    model_config = ConfigDict(frozen=True, extra="allow")

    id: str = Field(min_length=1)
    object: Literal["event"] = "event"
    type: str = Field(min_length=1)
    created_at: int
    data: dict[str, Any]


def normalize_secret(secret: str) -> str:
    """Return the secret in `whsec_<padded base64>` form.

    The SDK base64-decodes a secret only when it carries the `whsec_` prefix (and fails on
    unpadded base64), using any other string as raw key bytes; Standard Webhooks strips the
    prefix if present and always decodes, padding as needed. Normalizing here makes both
    spellings of one secret work, and a broken secret fail at startup, not per request.

    Args:
        secret: A secret as configured, with or without the `whsec_` prefix.

    Returns:
        The secret to hand to the SDK.

    Raises:
        ValueError: A `whsec_` secret whose key is not base64.
    """
    secret = secret.strip()
    key = secret.removeprefix(SECRET_PREFIX)
    padded = key + "=" * (-len(key) % 4)
    try:
        base64.b64decode(padded, validate=True)
    except (binascii.Error, ValueError):
        if secret.startswith(SECRET_PREFIX):
            raise ValueError("a whsec_ webhook secret must hold base64") from None
        return secret  # not base64 and no prefix: the SDK uses it as raw bytes
    return SECRET_PREFIX + padded


class WebhookVerifier:
    """Checks Standard Webhooks signatures against every accepted secret.

    Args:
        secrets: Accepted secrets, current first; more than one while a secret rotates.
        tolerance_s: Accepted distance between the `webhook-timestamp` and the clock.
        clock: Current unix time; tests freeze it to check known-answer vectors.

    Raises:
        ValueError: When no secret is given (an unverifiable bridge would accept forgeries).
    """

    def __init__(
        self,
        secrets: Sequence[str],
        *,
        tolerance_s: int = DEFAULT_TOLERANCE_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._secrets = [normalize_secret(s) for s in secrets if s.strip()]
        if not self._secrets:
            raise ValueError("no webhook secret configured: set OPENAI_WEBHOOK_SECRET (whsec_...)")
        self._tolerance_s = tolerance_s
        self._clock = clock
        # Only `webhooks.verify_signature` is used: it is offline, no key is ever sent.
        self._openai = AsyncOpenAI(api_key="unused-webhook-verification-only", max_retries=0)

    async def aclose(self) -> None:
        """Release the SDK client's (unused) HTTP pool."""
        await self._openai.close()

    def verify(self, payload: str, headers: Mapping[str, str]) -> str:
        """Check one delivery.

        Args:
            payload: The raw body, decoded as UTF-8, exactly as received.
            headers: `webhook-id`, `webhook-timestamp` and `webhook-signature` (lower-case
                names); the signature header may hold several space-separated `v1,<base64>`
                entries, any one of which may match.

        Returns:
            The `webhook-id`.

        Raises:
            SignatureError: A header is missing, the timestamp is malformed or outside the
                tolerance, or no entry matches any accepted secret.
        """
        values: dict[str, str] = {}
        for name in REQUIRED_HEADERS:
            value = headers.get(name, "").strip()
            if not value:
                raise SignatureError(f"missing {name} header")
            values[name] = value
        try:
            timestamp = int(values["webhook-timestamp"])
        except ValueError:
            raise SignatureError("webhook-timestamp is not an integer") from None
        now = int(self._clock())
        if abs(now - timestamp) > self._tolerance_s:
            raise SignatureError(f"webhook-timestamp is {now - timestamp} s away from now")
        # Standard Webhooks: only `v1,` entries count (the SDK would also take a bare one).
        v1 = [part for part in values["webhook-signature"].split() if part.startswith("v1,")]
        if not v1:
            raise SignatureError("no v1 signature in webhook-signature")
        values["webhook-signature"] = " ".join(v1)
        # The SDK checks the window against the wall clock; ours (above) is the authority, so
        # widen the SDK's by our clock's offset (zero in production, where both are time.time).
        sdk_tolerance = self._tolerance_s + abs(int(time.time()) - now)
        for secret in self._secrets:
            try:
                self._openai.webhooks.verify_signature(
                    payload, values, secret=secret, tolerance=sdk_tolerance
                )
            except InvalidWebhookSignatureError:
                continue
            return values["webhook-id"]
        raise SignatureError("no signature matches an accepted secret")
