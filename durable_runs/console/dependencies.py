"""What the console's routes receive: the Temporal client, settings and templates."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated
from urllib.parse import parse_qs

from fastapi import Depends, Request
from fastapi.templating import Jinja2Templates
from temporalio.client import Client

from durable_runs.settings import Settings


@dataclass(frozen=True)
class ConsoleState:
    """The console app's shared state.

    Attributes:
        client: Connected Temporal client.
        settings: Settings (the Temporal UI's URL for links).
        templates: The page templates.
    """

    client: Client
    settings: Settings
    templates: Jinja2Templates


def console_state(request: Request) -> ConsoleState:
    """The state the app was created with."""
    state: ConsoleState = request.app.state.console
    return state


State = Annotated[ConsoleState, Depends(console_state)]


async def form_fields(request: Request) -> dict[str, str]:
    """The fields of a posted form (`application/x-www-form-urlencoded`), first value of each."""
    body = (await request.body()).decode()
    return {name: values[0] for name, values in parse_qs(body, keep_blank_values=True).items()}


Form = Annotated[dict[str, str], Depends(form_fields)]
