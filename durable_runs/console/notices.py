"""Post/redirect/get: a form's outcome travels to the next page as a one-line notice."""

from __future__ import annotations

from urllib.parse import quote, urlencode

from fastapi import status
from fastapi.responses import RedirectResponse


def redirect_with(
    path: str, *, notice: str | None = None, error: str | None = None
) -> RedirectResponse:
    """A 303 to `path` (a path of the console) carrying the outcome to show there.

    Args:
        path: Where to go, e.g. `/runs/run-1`.
        notice: What was done.
        error: Why it was not done.
    """
    params = {name: text for name, text in (("notice", notice), ("error", error)) if text}
    target = quote(path) + (f"?{urlencode(params)}" if params else "")
    return RedirectResponse(target, status_code=status.HTTP_303_SEE_OTHER)
