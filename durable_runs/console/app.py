"""The console's FastAPI app: routes, templates and static files of this package."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from temporalio.client import Client

from durable_runs.console import approvals, chat, runs
from durable_runs.console.dependencies import ConsoleState
from durable_runs.console.origin import same_origin_only
from durable_runs.settings import Settings

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"


def timestamp(moment: datetime | None) -> str:
    """`2025-01-31 14:05:09 UTC`, or `-`."""
    if moment is None:
        return "-"
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def age(moment: datetime | None) -> str:
    """How long ago, roughly: `42 s`, `7 min`, `3 h`, `2 d`."""
    if moment is None:
        return "-"
    seconds = max((datetime.now(UTC) - moment).total_seconds(), 0.0)
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{int(seconds // size)} {unit}"
    return f"{int(seconds)} s"


def page_templates() -> Jinja2Templates:
    """The console's templates (autoescaped), with the `timestamp` and `age` filters."""
    templates = Jinja2Templates(directory=TEMPLATES)
    templates.env.filters["timestamp"] = timestamp
    templates.env.filters["age"] = age
    return templates


def create_app(settings: Settings, client: Client) -> FastAPI:
    """The console app over a connected Temporal client.

    Args:
        settings: The Temporal UI's URL (links from runs to their workflow pages).
        client: Temporal client every page reads through.

    Returns:
        The app: `/` runs, `/runs/{id}` one run, `/approvals`, `/chat`, and the fragments
        the page script refreshes under `/fragments/`.
    """
    app = FastAPI(title="durable-runs console", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.console = ConsoleState(client=client, settings=settings, templates=page_templates())
    app.middleware("http")(same_origin_only)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    for module in (runs, approvals, chat):
        app.include_router(module.router)
    return app
