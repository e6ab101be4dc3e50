"""What a verified event is: a signal for a known workflow, an id to look up, or nothing of ours.

- `thread.run.<status>` events (an emulator extension for Assistants-compatible servers: OpenAI
  sends none) carry the whole run in `data`; its metadata names the owning workflow
  (`temporal_workflow_id`, written by our create-run activity), and the run becomes the event's
  snapshot. A run without that metadata is not ours.
- `response.<status>` events carry only `data.id`: the owner is found by a `Lookup`
  (`bridge.delivery`), by retrieving the response or by asking Temporal's visibility index.
- Progress-only run events (`thread.run.queued`, `in_progress`, `cancelling`) are acknowledged
  and ignored unless asked for: nothing in the run's loop waits for them, and each signal costs
  the workflow a task.
- Everything else (`batch.*`, `thread.run.step.*`, evals, fine-tuning...) is acknowledged and
  ignored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from openai.types.beta.threads import Run
from pydantic import ValidationError

from durable_runs.activities.snapshots import snapshot_from_run
from durable_runs.bridge.verify import WebhookEvent
from durable_runs.models import WORKFLOW_ID_METADATA_KEY, RunEvent, RunSnapshot

_RUN_EVENT = re.compile(r"^thread\.run\.[a-z_]+$")  # not thread.run.step.*
_RESPONSE_EVENT = re.compile(r"^response\.[a-z_]+$")
_OBJECT_ID = re.compile(r"^[A-Za-z0-9_\-]{1,128}$")
PROGRESS_STATUSES = frozenset({"queued", "in_progress", "cancelling"})
"""Run statuses whose events only report progress: the loop keeps waiting on each."""


class EventDataError(ValueError):
    """A routed event type whose `data` is not what that type carries (answer 400)."""


@dataclass(frozen=True)
class Target:
    """A workflow to signal, and the signal's argument.

    Attributes:
        run_event: The signal's argument.
        workflow_id: The owning workflow.
    """

    run_event: RunEvent
    workflow_id: str


@dataclass(frozen=True)
class Lookup:
    """An id-only event whose owner must be found (`response.*`).

    Attributes:
        run_event: The signal's argument as the event alone gives it (no snapshot).
    """

    run_event: RunEvent

    @property
    def object_id(self) -> str:
        """The id the event is about (checked to be an id OpenAI could mint)."""
        return self.run_event.object_id


Outcome = Literal["ignored", "not_ours", "unknown_response", "unknown_run"]
"""What the bridge did with an event it did not signal (each has its counter)."""


@dataclass(frozen=True)
class Unrouted:
    """A verified event the bridge acknowledges without signalling anything.

    Attributes:
        outcome: `ignored` (a type we do not route), `not_ours` (no workflow of ours named),
            `unknown_response` (the API does not know the id) or `unknown_run` (the named
            workflow is closed or absent).
        reason: For the log.
    """

    outcome: Outcome
    reason: str


def route(
    event: WebhookEvent, *, webhook_id: str, signal_progress: bool = False
) -> Target | Lookup | Unrouted:
    """Decide where an event goes, from the event alone (no I/O).

    Args:
        event: The verified event.
        webhook_id: The delivery's `webhook-id`, the workflow's dedup key.
        signal_progress: Route progress-only run events too.

    Returns:
        A `Target` for a run event naming its workflow, a `Lookup` for a response event, and
        `Unrouted` for progress-only run events (unless `signal_progress`), runs that name no
        workflow, and any other type.

    Raises:
        EventDataError: A `thread.run.*` event whose data is not a run, or a `response.*`
            event without a well-formed id.
    """
    if _RUN_EVENT.match(event.type):
        try:
            run = Run.model_validate(event.data)
        except ValidationError as exc:
            raise EventDataError(f"{event.type} data is not a run: {exc}") from exc
        if run.status in PROGRESS_STATUSES and not signal_progress:
            return Unrouted("ignored", f"{event.type} only reports progress")
        owner = (run.metadata or {}).get(WORKFLOW_ID_METADATA_KEY)
        if not isinstance(owner, str) or not owner:
            return Unrouted("not_ours", f"run {run.id} names no workflow in its metadata")
        run_event = _run_event(event, webhook_id, run.id, snapshot=snapshot_from_run(run))
        return Target(run_event=run_event, workflow_id=owner)
    if _RESPONSE_EVENT.match(event.type):
        object_id = event.data.get("id")
        if not isinstance(object_id, str):
            raise EventDataError(f"{event.type} data has no id")
        return Lookup(run_event=_run_event(event, webhook_id, object_id))
    return Unrouted("ignored", f"event type {event.type} is not routed")


def _run_event(
    event: WebhookEvent, webhook_id: str, object_id: str, *, snapshot: RunSnapshot | None = None
) -> RunEvent:
    if not _OBJECT_ID.match(object_id):
        # It goes into a URL path or a visibility query: accept only the ids OpenAI mints.
        raise EventDataError(f"unexpected object id {object_id!r}")
    return RunEvent(
        event_id=webhook_id,
        type=event.type,
        object_id=object_id,
        snapshot=snapshot,
        created_at=event.created_at,
    )
