"""Request tags: handlers name the kind of call and the object it is about, for the stats."""

from __future__ import annotations

from fastapi import Request

from durable_runs_emulator.stats import ObjectRef

KIND_KEY = "emulator.kind"
REF_KEY = "emulator.ref"


def tag(request: Request, kind: str, ref: ObjectRef | None = None) -> None:
    """Label the current request (the stats middleware reads the labels after the response)."""
    request.scope[KIND_KEY] = kind
    if ref is not None:
        request.scope[REF_KEY] = ref
