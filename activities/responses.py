"""The Responses background backend: what api.openai.com serves today.

A run is a chain of background responses: the first from the user's messages, then one follow-up
per tool round (`previous_response_id` + `function_call_output` items), until a response with no
function calls finishes.

Idempotent create: the Responses API has no lookup by metadata, so `start` records the new
response id in the activity's heartbeat details the moment the API returns it; a retried attempt
(worker crash, timeout) reuses that id instead of creating another response. Limit: when the
API committed a response but its HTTP answer never reached us (a 5xx after commit, a connection
cut), no id was ever seen and a retry creates a second response. Each response still carries
`temporal_workflow_id` / `durable_runs_step` metadata, so such an orphan is visible in the
dashboard logs, and it is never routed to the workflow.
"""

from __future__ import annotations

from typing import Any

import openai
from openai import AsyncOpenAI
from temporalio import activity

from durable_runs.activities.contract import BackendActivities
from durable_runs.activities.errors import not_retryable, to_application_error
from durable_runs.activities.polling import poll_until_changed
from durable_runs.activities.snapshots import poll_after_ms, snapshot_from_response
from durable_runs.activities.tools import ToolRegistry, UnknownToolsError
from durable_runs.models import (
    Answer,
    Conversation,
    CreateOptions,
    ObjectRef,
    PolledSnapshot,
    PollInput,
    PrepareInput,
    RunSnapshot,
    StartInput,
    SubmitInput,
    ToolOutput,
    metadata_for,
)


class ResponsesActivities:
    """Responses API calls as activities; the worker constructs it with its client."""

    def __init__(self, client: AsyncOpenAI, tools: ToolRegistry) -> None:
        """Args:
        client: An `AsyncOpenAI` with `max_retries=0` (Temporal owns retries).
        tools: Registry whose definitions are sent with every response.
        """
        self._client = client
        self._tools = tools
        _ = client.responses  # loaded with the worker, as in `AssistantsActivities`

    @activity.defn(name="responses.prepare")
    async def prepare(self, input: PrepareInput) -> Conversation:
        """Nothing to create up front: the first response carries the conversation."""
        return Conversation()

    @activity.defn(name="responses.start")
    async def start(self, input: StartInput) -> RunSnapshot:
        """Create the step's background response (or reuse the one an earlier attempt made)."""
        request = input.request
        body: dict[str, Any] = {}
        if input.previous_object_id is None:
            body["input"] = [{"role": "user", "content": m} for m in request.messages]
            if request.previous_response_id is not None:
                body["previous_response_id"] = request.previous_response_id
        else:
            body["previous_response_id"] = input.previous_object_id
            body["input"] = _outputs_input(input.tool_outputs)
        if request.instructions:
            body["instructions"] = request.instructions
        return await self._create(input.workflow_id, input.step, CreateOptions.of(request), body)

    async def _create(
        self, workflow_id: str, step: int, options: CreateOptions, body: dict[str, Any]
    ) -> RunSnapshot:
        details = activity.info().heartbeat_details
        if details:
            reused = await self.read(ObjectRef(object_id=str(details[0])))
            activity.logger.info(
                "reusing response %s created by an earlier attempt", reused.object_id
            )
            return reused
        if options.tools:
            try:
                tools = self._tools.definitions(options.tools)
            except UnknownToolsError as err:
                raise not_retryable(err, operation="create response") from err
            body["tools"] = [
                {"type": "function", **tool.function_definition(), "strict": False}
                for tool in tools
            ]
        try:
            raw = await self._client.responses.with_raw_response.create(
                model=options.model,
                background=True,
                store=True,
                metadata=metadata_for(workflow_id, step, options.metadata),
                **body,
            )
        except openai.OpenAIError as err:
            raise to_application_error(err, operation="create response") from err
        response = raw.parse()
        activity.heartbeat(response.id)
        return snapshot_from_response(response, poll_after_ms=poll_after_ms(raw.headers))

    @activity.defn(name="responses.read")
    async def read(self, ref: ObjectRef) -> RunSnapshot:
        """Retrieve the response once; the snapshot carries the server's poll-after hint."""
        return await retrieve_snapshot(self._client, ref.object_id)

    @activity.defn(name="responses.poll")
    async def poll(self, input: PollInput) -> PolledSnapshot:
        """Read once per attempt until the response changes; Temporal's retries space the reads."""
        return await poll_until_changed(self.read, input)

    @activity.defn(name="responses.submit_tool_outputs")
    async def submit_tool_outputs(self, input: SubmitInput) -> RunSnapshot:
        """Start the follow-up background response that carries the tool outputs.

        The API does not carry `instructions` over to a follow-up: a run that has them gets
        them again, copied from the response it continues (one more read per tool round), so
        the workflow never sends their text with a round.
        """
        options = input.create_options
        body: dict[str, Any] = {
            "previous_response_id": input.run.object_id,
            "input": _outputs_input(input.outputs),
        }
        if input.request is not None and input.request.instructions:
            body["instructions"] = input.request.instructions
        elif options.instructions and not activity.info().heartbeat_details:
            instructions = await self._instructions_of(input.run)
            if instructions:
                body["instructions"] = instructions
        return await self._create(input.workflow_id, input.step, options, body)

    async def _instructions_of(self, ref: ObjectRef) -> str | None:
        try:
            response = await self._client.responses.retrieve(ref.object_id)
        except openai.OpenAIError as err:
            raise to_application_error(err, operation="retrieve response") from err
        return response.instructions if isinstance(response.instructions, str) else None

    @activity.defn(name="responses.cancel")
    async def cancel(self, ref: ObjectRef) -> RunSnapshot:
        """Cancel the background response; one that already ended is returned as it is."""
        return await cancel_response(self._client, ref.object_id)

    @activity.defn(name="responses.answer")
    async def answer(self, ref: ObjectRef) -> Answer:
        """The final response's output text."""
        try:
            response = await self._client.responses.retrieve(ref.object_id)
        except openai.OpenAIError as err:
            raise to_application_error(err, operation="retrieve response") from err
        return Answer(text=response.output_text)


async def retrieve_snapshot(client: AsyncOpenAI, response_id: str) -> RunSnapshot:
    """Retrieve a response once, as a snapshot carrying the server's poll-after hint.

    Raises:
        ApplicationError: The API call failed (retryable or not, as `to_application_error` says).
    """
    try:
        raw = await client.responses.with_raw_response.retrieve(response_id)
    except openai.OpenAIError as err:
        raise to_application_error(err, operation="retrieve response") from err
    return snapshot_from_response(raw.parse(), poll_after_ms=poll_after_ms(raw.headers))


async def cancel_response(client: AsyncOpenAI, response_id: str) -> RunSnapshot:
    """Cancel a background response; one that already ended (a 400) is read and returned.

    Raises:
        ApplicationError: The API call failed (retryable or not, as `to_application_error` says).
    """
    try:
        response = await client.responses.cancel(response_id)
    except openai.BadRequestError:
        return await retrieve_snapshot(client, response_id)
    except openai.OpenAIError as err:
        raise to_application_error(err, operation="cancel response") from err
    return snapshot_from_response(response)


def _outputs_input(outputs: list[ToolOutput]) -> list[dict[str, Any]]:
    """Tool outputs as the input items of a follow-up response."""
    return [
        {"type": "function_call_output", "call_id": o.tool_call_id, "output": o.output}
        for o in outputs
    ]


_CONTRACT: type[BackendActivities] = ResponsesActivities
"""mypy checks here that the class satisfies the backend contract the workflow calls."""
