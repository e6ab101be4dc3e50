"""Standard Webhooks signatures, as OpenAI signs its webhook events."""

from __future__ import annotations

import base64
import hashlib
import hmac


def secret_key(secret: str) -> bytes:
    """Decode a `whsec_...` secret (prefix optional) into the HMAC key."""
    raw = secret.removeprefix("whsec_")
    return base64.b64decode(raw)


def sign(secret: str, webhook_id: str, timestamp: int, body: str) -> str:
    """Return the `webhook-signature` header value: `v1,<base64 HMAC-SHA256>`.

    Args:
        secret: The `whsec_...` secret.
        webhook_id: The `webhook-id` header.
        timestamp: The `webhook-timestamp` header (unix seconds).
        body: The exact request body.
    """
    message = f"{webhook_id}.{timestamp}.{body}".encode()
    digest = hmac.new(secret_key(secret), message, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()
