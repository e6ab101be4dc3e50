"""Test and benchmark controls under `/_emulator` (no auth: never expose the emulator)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import ValidationError

from durable_runs_emulator.errors import bad_request
from durable_runs_emulator.state import EmulatorState, get_state
from durable_runs_emulator.validation import read_json

router = APIRouter(prefix="/_emulator")
State = Annotated[EmulatorState, Depends(get_state)]


@router.get("/stats")
async def stats(state: State) -> dict[str, Any]:
    """Counters of calls, statuses and webhook deliveries."""
    return state.stats.snapshot()


@router.post("/reset")
async def reset(state: State) -> dict[str, Any]:
    """Clear the stats (objects and config stay)."""
    state.stats.reset()
    return {"ok": True}


@router.get("/config")
async def get_config(state: State) -> dict[str, Any]:
    """The current configuration."""
    return state.config.model_dump()


@router.post("/config")
async def update_config(request: Request, state: State) -> dict[str, Any]:
    """Merge the JSON body into the configuration; returns the new configuration."""
    body = await read_json(request)
    try:
        config = state.update_config(body)
    except ValidationError as exc:
        raise bad_request(f"Invalid emulator config: {exc}") from None
    return config.model_dump()


@router.get("/health")
async def health() -> dict[str, str]:
    """Liveness probe."""
    return {"status": "ok"}
