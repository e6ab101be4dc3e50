"""One Agents SDK model call as a background response: create, read, poll, collect.

Temporal's OpenAI Agents integration runs a model call as one activity that holds its slot and
an open HTTP request while the model thinks. Here the call is a background response instead:
`create` sends the request the Agents SDK itself would send (its own request builder, fed the
integration's `ActivityModelInput`), with `background=True`, `store=True` and our routing
metadata added; `read`/`poll` wait like a run's; `model_response` turns the finished response
into the `ModelResponse` the SDK's runner continues from (every output item, and the usage).

Idempotent create as in `activities.responses`: the new response id goes into the heartbeat
details the moment the API returns it, and a retried attempt reads that response instead of
creating another one.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection

import openai
from agents import ModelResponse, ModelSettings, OpenAIResponsesModel
from agents.models import get_default_model
from agents.models.openai_responses import _usage_from_response
from openai import AsyncOpenAI
from pydantic import BaseModel
from temporalio import activity
from temporalio.exceptions import ApplicationError
from temporalio.openai_agents import AllowAllWorkerEnvVars
from temporalio.openai_agents._invoke_model_activity import (
    ActivityModelInput,
    _build_tools_and_handoffs,
)
from temporalio.openai_agents._temporal_worker_env_ref import _WorkerEnvRefResolver

from durable_runs.activities.errors import to_application_error
from durable_runs.activities.polling import poll_until_changed
from durable_runs.activities.responses import cancel_response, retrieve_snapshot
from durable_runs.activities.snapshots import poll_after_ms, snapshot_from_response
from durable_runs.models import (
    ObjectRef,
    PolledSnapshot,
    PollInput,
    RunSnapshot,
    metadata_for,
)

MODEL_CALL_STEP = 1
"""`durable_runs_step` of the one response a model-call workflow creates."""

FAILED_RESPONSE = "ModelResponseFailed"
"""Error type when the response ended failed, incomplete or cancelled (not retried)."""


class ModelCallStart(BaseModel):
    """Input of `create`: the integration's model input, and the workflow that owns the call.

    Attributes:
        call: What the Agents SDK asked the model (instructions, input items, settings, tools,
            handoffs, output schema, `previous_response_id`), as the integration carries it.
        workflow_id: The model-call workflow: written to the response's metadata, where the
            webhook bridge finds whom to signal.
    """

    call: ActivityModelInput
    workflow_id: str


class AgentModelActivities:
    """The API calls of an Agents SDK model call; the worker constructs it with its client."""

    def __init__(
        self,
        client: AsyncOpenAI,
        resolvable_worker_env_vars: Collection[str] | AllowAllWorkerEnvVars = (),
    ) -> None:
        """Args:
        client: An `AsyncOpenAI` with `max_retries=0` (Temporal owns retries).
        resolvable_worker_env_vars: As `OpenAIAgentsPlugin` takes them: worker environment
            variables that hosted tools' configs may name.
        """
        self._client = client
        self._env_refs = _WorkerEnvRefResolver(resolvable_worker_env_vars)
        _ = client.responses  # loaded with the worker, as in `ResponsesActivities`

    @activity.defn(name="agents.create_response")
    async def create(self, input: ModelCallStart) -> RunSnapshot:
        """Create the call's background response (or reuse the one an earlier attempt made)."""
        details = activity.info().heartbeat_details
        if details:
            reused = await self.read(ObjectRef(object_id=str(details[0])))
            activity.logger.info(
                "reusing response %s created by an earlier attempt", reused.object_id
            )
            return reused
        call = input.call
        settings: ModelSettings = call["model_settings"]
        metadata = metadata_for(input.workflow_id, MODEL_CALL_STEP, dict(settings.metadata or {}))
        background = dataclasses.replace(
            settings,
            metadata=metadata,
            store=True,
            extra_args={**(settings.extra_args or {}), "background": True},
        )
        tools, handoffs = _build_tools_and_handoffs(call, self._env_refs)
        model = OpenAIResponsesModel(
            model=call.get("model_name") or get_default_model(), openai_client=self._client
        )
        kwargs = model._build_response_create_kwargs(
            system_instructions=call.get("system_instructions"),
            input=call["input"],
            model_settings=background,
            tools=tools,
            output_schema=call.get("output_schema"),
            handoffs=handoffs,
            previous_response_id=call.get("previous_response_id"),
            conversation_id=call.get("conversation_id"),
            prompt=call.get("prompt"),
        )
        try:
            raw = await self._client.responses.with_raw_response.create(**kwargs)
        except openai.OpenAIError as err:
            raise to_application_error(err, operation="create response") from err
        response = raw.parse()
        activity.heartbeat(response.id)
        return snapshot_from_response(response, poll_after_ms=poll_after_ms(raw.headers))

    @activity.defn(name="agents.read_response")
    async def read(self, ref: ObjectRef) -> RunSnapshot:
        """Retrieve the response once; the snapshot carries the server's poll-after hint."""
        return await retrieve_snapshot(self._client, ref.object_id)

    @activity.defn(name="agents.poll_response")
    async def poll(self, input: PollInput) -> PolledSnapshot:
        """Read once per attempt until the response changes; Temporal's retries space reads."""
        return await poll_until_changed(self.read, input)

    @activity.defn(name="agents.cancel_response")
    async def cancel(self, ref: ObjectRef) -> RunSnapshot:
        """Cancel the background response; one that already ended is returned as it is."""
        return await cancel_response(self._client, ref.object_id)

    @activity.defn(name="agents.model_response")
    async def model_response(self, ref: ObjectRef) -> ModelResponse:
        """The finished response as the Agents SDK's `Model.get_response` returns it.

        Raises:
            ApplicationError: Not retryable, when the response failed or was cut short (the
                SDK's own model raises then too).
        """
        try:
            raw = await self._client.responses.with_raw_response.retrieve(ref.object_id)
        except openai.OpenAIError as err:
            raise to_application_error(err, operation="retrieve response") from err
        response = raw.parse()
        if response.status != "completed":
            snapshot = snapshot_from_response(response)
            error = snapshot.last_error
            raise ApplicationError(
                f"response {response.id} ended {response.status}"
                + (f": {error.message}" if error else ""),
                type=FAILED_RESPONSE,
                non_retryable=True,
            )
        return ModelResponse(
            output=response.output,
            usage=_usage_from_response(response),
            response_id=response.id,
            request_id=raw.request_id,
        )
