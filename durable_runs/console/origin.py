"""Cross-site request refusal: a page of another site must not make the browser POST here.

The console listens on localhost without accounts, so any page the user opens could send a
form to it. Browsers name the page's origin in the `Origin` header of every POST; a POST is
served only when that origin is the console's own (the `Host` the browser addressed).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import Request, Response
from fastapi.responses import PlainTextResponse

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
"""Methods that change nothing, so any origin may send them."""


def refusal(request: Request) -> str | None:
    """Why a request must be refused as cross-site, or None when it may be served.

    A request without `Origin` comes from a program (curl, a script), not from a page of
    another site: browsers send `Origin` with every POST.
    """
    if request.method in SAFE_METHODS:
        return None
    origin = request.headers.get("origin")
    if origin is None:
        return None
    own = f"{request.url.scheme}://{request.headers.get('host', '')}"
    if origin != own:
        return f"cross-site request refused: Origin {origin} is not {own}"
    return None


async def same_origin_only(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    """HTTP middleware: answer 403 to a POST (or other unsafe method) from another origin."""
    reason = refusal(request)
    if reason is not None:
        return PlainTextResponse(reason, status_code=403)
    return await call_next(request)
