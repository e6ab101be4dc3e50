"""Which workflow a verified event is for, and the `RunEvent` it becomes.

- `thread.run.<status>` events carry the whole run in `data`; its metadata names the owning
  workflow (`temporal_workflow_id`, written by our create-run activity), and the run becomes the
  event's snapshot.
- `response.<status>` events carry only `data.id`: the owner is found by the `OpenAIRunId`
  search attribute, and the workflow reads the response itself.
- Progress-only run events (`thread.run.queued`, `in_progress`, `cancelling`) are acknowledged
  and ignored unless asked for: nothing in the run's loop waits for them, and each signal costs
  the workflow a task (two of the seven a webhook-mode run had).
- Everything else (`batch.*`, `thread.run.step.*`, evals, fine-tuning...) is acknowledged and
  ignored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from openai.types.beta.threads import Run
from pydantic import ValidationError

from activities.snapshots import snapshot_from_run
from bridge.verify import WebhookEvent
from durable_runs.models import WORKFLOW_ID_METADATA_KEY, RunEvent, RunSnapshot
from durable_runs.search_attributes import OPENAI_RUN_ID

_RUN_EVENT = re.compile(r"^thread\.run\.[a-z_]+$")  # not thread.run.step.*
_RESPONSE_EVENT = re.compile(r"^response\.[a-z_]+$")
_OBJECT_ID = re.compile(r"^[A-Za-z0-9_\-]{1,128}$")
PROGRESS_STATUSES = frozenset({"queued", "in_progress", "cancelling"})
"""Run statuses whose events only report progress: the loop keeps waiting on each."""


class EventDataError(ValueError):
    """A routed event type whose `data` is not what that type carries (answer 400)."""


@dataclass(frozen=True)
class Target:
    """Where a routable event goes.

    Attributes:
        run_event: The signal's argument.
        workflow_id: The owner named by the object's metadata; None when it must be found by
            the `OpenAIRunId` search attribute.
    """

    run_event: RunEvent
    workflow_id: str | None

    @property
    def visibility_query(self) -> str:
        """The list filter that finds the owner of `run_event.object_id`."""
        return f'{OPENAI_RUN_ID.name} = "{self.run_event.object_id}"'


@dataclass(frozen=True)
class Ignored:
    """An event type the bridge acknowledges and drops."""

    reason: str


def route(
    event: WebhookEvent, *, webhook_id: str, signal_progress: bool = False
) -> Target | Ignored:
    """Decide where an event goes.

    Args:
        event: The verified event.
        webhook_id: The delivery's `webhook-id`, the workflow's dedup key.
        signal_progress: Route progress-only run events too.

    Returns:
        A `Target` for run and response events, `Ignored` for progress-only run events (unless
        `signal_progress`) and for any other type.

    Raises:
        EventDataError: A `thread.run.*` event whose data is not a run, or a `response.*`
            event without a usable `data.id`.
    """
    if _RUN_EVENT.match(event.type):
        try:
            run = Run.model_validate(event.data)
        except ValidationError as exc:
            raise EventDataError(f"{event.type} data is not a run: {exc}") from exc
        if run.status in PROGRESS_STATUSES and not signal_progress:
            return Ignored(reason=f"{event.type} only reports progress")
        snapshot = snapshot_from_run(run)
        owner = (run.metadata or {}).get(WORKFLOW_ID_METADATA_KEY)
        return _target(event, webhook_id, run.id, snapshot=snapshot, owner=owner)
    if _RESPONSE_EVENT.match(event.type):
        object_id = event.data.get("id")
        if not isinstance(object_id, str):
            raise EventDataError(f"{event.type} data has no id")
        metadata = event.data.get("metadata")
        owner = metadata.get(WORKFLOW_ID_METADATA_KEY) if isinstance(metadata, dict) else None
        return _target(event, webhook_id, object_id, snapshot=None, owner=owner)
    return Ignored(reason=f"event type {event.type} is not routed")


def _target(
    event: WebhookEvent,
    webhook_id: str,
    object_id: str,
    *,
    snapshot: RunSnapshot | None,
    owner: object,
) -> Target:
    if not _OBJECT_ID.match(object_id):
        # It is interpolated into a visibility query: accept only the ids OpenAI mints.
        raise EventDataError(f"unexpected object id {object_id!r}")
    run_event = RunEvent(
        event_id=webhook_id,
        type=event.type,
        object_id=object_id,
        snapshot=snapshot,
        created_at=event.created_at,
    )
    workflow_id = owner if isinstance(owner, str) and owner else None
    return Target(run_event=run_event, workflow_id=workflow_id)
