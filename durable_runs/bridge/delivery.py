"""The bridge's I/O: finding the workflow of an id-only event, and signalling it.

Two ways to find the workflow of a `response.*` event (`DURABLE_RUNS_BRIDGE_ROUTING`):

- `retrieve` (the default): read the response from the API. Its metadata names the workflow
  (`temporal_workflow_id`, written by our create activity) and the read becomes the event's
  snapshot, so the workflow applies it without a read of its own: one status read per response
  either way, made by the bridge instead of the worker. A response without that metadata
  belongs to no run of ours and costs no Temporal call. Nothing here waits on an index.
- `visibility`: one list call on the `OpenAIRunId` search attribute; the workflow then reads the
  response itself. The index is eventually consistent, so a miss cannot tell a stranger from a
  run whose attribute is not indexed yet. A miss is answered 202 (counted `unknown_run`, left to
  the run's safety poll): asking the sender to retry would make it retry every stranger until
  its schedule gives up.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Literal

from openai import APIConnectionError, APIStatusError, AsyncOpenAI, NotFoundError
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from durable_runs.activities.snapshots import poll_after_ms, snapshot_from_response
from durable_runs.bridge.routing import Lookup, Target, Unrouted
from durable_runs.bridge.state import BridgeStats
from durable_runs.models import WORKFLOW_ID_METADATA_KEY
from durable_runs.search_attributes import OPENAI_RUN_ID
from durable_runs.workflows.run import RunWorkflow

REGISTER_COMMAND = (
    f"temporal operator search-attribute create --name {OPENAI_RUN_ID.name} --type Keyword"
)
"""What registers the one search attribute the visibility routing queries."""


class Unavailable(Exception):
    """A service the delivery needs did not answer usably now; the sender should retry (503).

    Attributes:
        service: `OpenAI` or `Temporal`.
    """

    def __init__(self, service: Literal["OpenAI", "Temporal"], detail: str) -> None:
        super().__init__(f"{service}: {detail}")
        self.service = service


class _WorkflowGone(Exception):
    """The signalled workflow does not exist or has closed."""


async def retrieve_owner(
    openai: AsyncOpenAI, lookup: Lookup, stats: BridgeStats
) -> Target | Unrouted:
    """Find the owner of a response event by reading the response (routing `retrieve`).

    Args:
        openai: The bridge's client (SDK retries off: the sender's retry is the retry).
        lookup: The event.
        stats: Counts the read (`api_reads`).

    Returns:
        The owning workflow with the response's snapshot on the event; `not_ours` when its
        metadata names no workflow; `unknown_response` when the API does not know the id.

    Raises:
        Unavailable: Rate limited, a server error, no connection, or the API refused the key
            (an operator's fix, after which the sender's retry delivers).
    """
    stats.api_reads += 1
    try:
        raw = await openai.responses.with_raw_response.retrieve(lookup.object_id)
    except NotFoundError:
        return Unrouted("unknown_response", f"the API knows no response {lookup.object_id}")
    except APIStatusError as exc:
        raise Unavailable("OpenAI", f"retrieve answered {exc.status_code}: {exc.message}") from exc
    except APIConnectionError as exc:  # timeouts included
        raise Unavailable("OpenAI", f"retrieve failed: {exc}") from exc
    # Routing needs only the metadata: the SDK's model is built for our own responses alone
    # (in a shared project most events may be strangers').
    metadata = raw.http_response.json().get("metadata")
    owner = metadata.get(WORKFLOW_ID_METADATA_KEY) if isinstance(metadata, dict) else None
    if not isinstance(owner, str) or not owner:
        return Unrouted("not_ours", f"response {lookup.object_id} names no workflow of ours")
    response = raw.parse()
    snapshot = snapshot_from_response(response, poll_after_ms=poll_after_ms(raw.headers))
    run_event = lookup.run_event.model_copy(update={"snapshot": snapshot})
    return Target(run_event=run_event, workflow_id=owner)


async def visibility_owner(
    client: Client, lookup: Lookup, stats: BridgeStats, *, timeout_s: float
) -> Target | Unrouted:
    """Find the owner of a response event in Temporal's visibility index (routing `visibility`).

    Exactly one list call, no retry: see the module docstring for what a miss means.

    Args:
        client: Temporal client.
        lookup: The event.
        stats: Counts the call (`temporal_calls`).
        timeout_s: Bound on the call.

    Returns:
        The most recently started workflow with that `OpenAIRunId` (the event without a
        snapshot: the workflow reads the response), or `unknown_run`.

    Raises:
        Unavailable: Temporal is unreachable, failing, slower than the bound, or lacks the
            search attribute.
    """
    query = f'{OPENAI_RUN_ID.name} = "{lookup.object_id}"'
    rpc_timeout = timedelta(seconds=timeout_s)
    async with _temporal_call(stats, timeout_s):
        async for execution in client.list_workflows(query, limit=1, rpc_timeout=rpc_timeout):
            return Target(run_event=lookup.run_event, workflow_id=execution.id)
    return Unrouted(
        "unknown_run", f"no workflow indexed with {query} (a stranger, or not indexed yet)"
    )


async def signal(client: Client, target: Target, stats: BridgeStats, *, timeout_s: float) -> bool:
    """Signal `run_event` to the target's workflow: one Temporal call.

    Args:
        client: Temporal client.
        target: Workflow and event.
        stats: Counts the call (`temporal_calls`).
        timeout_s: Bound on the call.

    Returns:
        True when signalled; False when the workflow does not exist or has closed.

    Raises:
        Unavailable: Temporal is unreachable, failing, or slower than the bound.
    """
    handle = client.get_workflow_handle(target.workflow_id)
    try:
        async with _temporal_call(stats, timeout_s):
            await handle.signal(
                RunWorkflow.run_event,
                target.run_event,
                rpc_timeout=timedelta(seconds=timeout_s),
            )
    except _WorkflowGone:
        return False
    return True


@asynccontextmanager
async def _temporal_call(stats: BridgeStats, timeout_s: float) -> AsyncIterator[None]:
    """Count one Temporal call and map its failures to `Unavailable` (or `_WorkflowGone`)."""
    stats.temporal_calls += 1
    try:
        # The client retries an unavailable server on its own: bound the whole call.
        async with asyncio.timeout(timeout_s):
            yield
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            raise _WorkflowGone from exc
        if exc.status == RPCStatusCode.INVALID_ARGUMENT and OPENAI_RUN_ID.name in exc.message:
            raise Unavailable(
                "Temporal", f"{exc.message}; register the attribute: {REGISTER_COMMAND}"
            ) from exc
        raise Unavailable("Temporal", f"{exc.status.name}: {exc.message}") from exc
    except TimeoutError as exc:
        raise Unavailable("Temporal", "no answer in time") from exc
    except RuntimeError as exc:
        # A lazy client that cannot connect raises a plain RuntimeError from its core.
        if str(exc).startswith("Failed client connect"):
            raise Unavailable("Temporal", str(exc)) from exc
        raise
