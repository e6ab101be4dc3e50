"""Pages whose client API this build lacks: they say so instead of failing."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates


def unavailable_router(section: str, paths: list[str], templates: Jinja2Templates) -> APIRouter:
    """A router answering `paths` with a page saying that `section` is not available.

    Args:
        section: The page's name in the navigation (`approvals`, `chat`).
        paths: The paths the section would serve.
        templates: The console's templates.
    """
    router = APIRouter()

    async def not_available(request: Request) -> HTMLResponse:
        context = {"section": section}
        return templates.TemplateResponse(request, "unavailable.html", context, status_code=501)

    for path in paths:
        router.add_api_route(path, not_available, methods=["GET"], response_class=HTMLResponse)
    return router
