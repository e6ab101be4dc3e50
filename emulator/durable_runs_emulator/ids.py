"""Object ids with the real prefixes (`asst_`, `thread_`, `msg_`, `run_`, `call_`, `resp_`...)."""

from __future__ import annotations

import secrets
import string

_ALPHABET = string.ascii_letters + string.digits


def new_id(prefix: str, *, length: int = 24) -> str:
    """Return a fresh random id such as `run_abc123...` (prefix plus `_` plus alphanumerics)."""
    return f"{prefix}_" + "".join(secrets.choice(_ALPHABET) for _ in range(length))


def new_hex_id(prefix: str) -> str:
    """Return an id in the Responses style: prefix plus 48 hex characters (`resp_68a...`)."""
    return f"{prefix}_" + secrets.token_hex(24)
