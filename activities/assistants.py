"""The Assistants backend: threads and runs (`client.beta.threads.runs.*`).

Served by our emulator and by Assistants-compatible servers; api.openai.com shut this API down on
2026-08-26 (use the Responses backend there).
"""

from __future__ import annotations

import warnings
from typing import Any

import openai
from openai import AsyncOpenAI
from openai.types.beta.threads import Run
from temporalio import activity

from durable_runs.activities.contract import BackendActivities
from durable_runs.activities.errors import ASSISTANTS_GONE_HINT, not_retryable, to_application_error
from durable_runs.activities.polling import poll_until_changed
from durable_runs.activities.snapshots import poll_after_ms, snapshot_from_run
from durable_runs.activities.tools import ToolRegistry, UnknownToolsError
from durable_runs.models import (
    STEP_METADATA_KEY,
    WORKFLOW_ID_METADATA_KEY,
    Answer,
    AssistantSpec,
    Conversation,
    ObjectRef,
    PolledSnapshot,
    PollInput,
    PrepareInput,
    RunSnapshot,
    StartInput,
    SubmitInput,
    metadata_for,
)

# The SDK marks the whole Assistants API deprecated (it is, upstream). This backend exists on
# purpose for Assistants-compatible servers, so the warning is noise here and only here.
warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"activities\.assistants")
warnings.filterwarnings(
    "ignore", message="The Assistants API is deprecated", category=DeprecationWarning
)

RUN_LOOKUP_PAGE = 20
"""How many recent runs of a thread a retried create looks through for its own run."""


class AssistantsActivities:
    """Assistants API calls as activities; the worker constructs it with its client."""

    def __init__(
        self, client: AsyncOpenAI, tools: ToolRegistry, *, answer_with_read: bool = False
    ) -> None:
        """Args:
        client: An `AsyncOpenAI` with `max_retries=0` (Temporal owns retries).
        tools: Registry whose definitions are sent with runs and new assistants.
        answer_with_read: The read that sees a run `completed` also lists its messages, so
            the workflow needs no `answer` activity (one activity and one workflow task fewer
            between completion and result). That read is then two API requests; leave it off
            under an API budget, which counts activities.
        """
        self._client = client
        self._tools = tools
        self._answer_with_read = answer_with_read
        # The SDK imports an API's modules on first use: load the ones this backend calls now,
        # with the worker, not in the first run's first call.
        _ = client.beta.assistants, client.beta.threads.runs, client.beta.threads.messages

    def _tool_params(self, names: list[str], *, operation: str) -> list[Any]:
        try:
            tools = self._tools.definitions(names)
        except UnknownToolsError as err:
            raise not_retryable(err, operation=operation) from err
        return [{"type": "function", "function": tool.function_definition()} for tool in tools]

    @activity.defn(name="assistants.prepare")
    async def prepare(self, input: PrepareInput) -> Conversation:
        """Create the assistant (if only a spec is given) and the thread with its messages.

        A retry after a lost response can leave an unused empty thread or assistant behind;
        it never creates a run, so nothing is done twice.
        """
        request = input.request
        metadata = {WORKFLOW_ID_METADATA_KEY: input.workflow_id}
        try:
            assistant_id = request.assistant_id
            if assistant_id is None:
                spec = request.assistant or AssistantSpec()
                assistant = await self._client.beta.assistants.create(
                    model=spec.model,
                    name=spec.name,
                    instructions=spec.instructions,
                    tools=self._tool_params(request.tools, operation="prepare"),
                    metadata=metadata,
                )
                assistant_id = assistant.id
            thread_id = request.thread_id
            if thread_id is None:
                thread = await self._client.beta.threads.create(
                    messages=[{"role": "user", "content": m} for m in request.messages],
                    metadata=metadata,
                )
                thread_id = thread.id
        except openai.NotFoundError as err:
            raise to_application_error(err, operation=f"prepare ({ASSISTANTS_GONE_HINT})") from err
        except openai.OpenAIError as err:
            raise to_application_error(err, operation="prepare") from err
        return Conversation(assistant_id=assistant_id, thread_id=thread_id)

    @activity.defn(name="assistants.start")
    async def start(self, input: StartInput) -> RunSnapshot:
        """Create the run for this step, or find the one a previous attempt created."""
        thread_id, assistant_id = input.conversation.thread_id, input.conversation.assistant_id
        assert thread_id is not None and assistant_id is not None, "prepare runs first"
        try:
            if activity.info().attempt > 1:
                existing = await self._find_run(thread_id, input.workflow_id, input.step)
                if existing is not None:
                    activity.logger.info(
                        "reusing run %s created by an earlier attempt", existing.id
                    )
                    return snapshot_from_run(existing)
            kwargs: dict[str, Any] = {}
            if input.request.tools:
                kwargs["tools"] = self._tool_params(input.request.tools, operation="create run")
            if input.request.instructions:
                kwargs["additional_instructions"] = input.request.instructions
            if input.request.thread_id is not None and input.step == 1:
                # An existing thread gets the request's messages with its first run only:
                # a restarted run (a later step) finds them on the thread already.
                kwargs["additional_messages"] = [
                    {"role": "user", "content": m} for m in input.request.messages
                ]
            run = await self._client.beta.threads.runs.create(
                thread_id,
                assistant_id=assistant_id,
                metadata=metadata_for(input.workflow_id, input.step, input.request.metadata),
                **kwargs,
            )
        except openai.NotFoundError as err:
            raise to_application_error(
                err, operation=f"create run ({ASSISTANTS_GONE_HINT})"
            ) from err
        except openai.OpenAIError as err:
            raise to_application_error(err, operation="create run") from err
        return snapshot_from_run(run)

    async def _find_run(self, thread_id: str, workflow_id: str, step: int) -> Run | None:
        page = await self._client.beta.threads.runs.list(
            thread_id, limit=RUN_LOOKUP_PAGE, order="desc"
        )
        for run in page.data:
            metadata = run.metadata or {}
            if metadata.get(WORKFLOW_ID_METADATA_KEY) == workflow_id and metadata.get(
                STEP_METADATA_KEY
            ) == str(step):
                return run
        return None

    @activity.defn(name="assistants.read")
    async def read(self, ref: ObjectRef) -> RunSnapshot:
        """Retrieve the run once; the snapshot carries the server's poll-after hint.

        One API request (the OpenAI queue's rate limit counts activities), unless built with
        `answer_with_read`: then a `completed` run's snapshot carries its answer too.
        """
        assert ref.thread_id is not None
        try:
            raw = await self._client.beta.threads.runs.with_raw_response.retrieve(
                ref.object_id, thread_id=ref.thread_id
            )
        except openai.OpenAIError as err:
            raise to_application_error(err, operation="retrieve run") from err
        snapshot = snapshot_from_run(raw.parse(), poll_after_ms=poll_after_ms(raw.headers))
        if self._answer_with_read and snapshot.status == "completed":
            return snapshot.model_copy(update={"answer": await self._answer_text(ref)})
        return snapshot

    @activity.defn(name="assistants.poll")
    async def poll(self, input: PollInput) -> PolledSnapshot:
        """Read once per attempt until the run changes; Temporal's retries space the reads."""
        return await poll_until_changed(self.read, input)

    @activity.defn(name="assistants.submit_tool_outputs")
    async def submit_tool_outputs(self, input: SubmitInput) -> RunSnapshot:
        """Submit the step's tool outputs.

        A 400 ("do not accept tool outputs") can mean an earlier attempt already went through,
        or that the run moved on (expired, cancelled): the run is read to tell which, and only a
        run still waiting for these very calls makes it an error.
        """
        run = input.run
        assert run.thread_id is not None
        try:
            submitted = await self._client.beta.threads.runs.submit_tool_outputs(
                run.object_id,
                thread_id=run.thread_id,
                tool_outputs=[
                    {"tool_call_id": o.tool_call_id, "output": o.output} for o in input.outputs
                ],
            )
            return snapshot_from_run(submitted)
        except openai.BadRequestError as err:
            current = await self.read(run)
            waiting_for = {c.id for c in current.tool_calls}
            if current.needs_tool_outputs and waiting_for == {
                o.tool_call_id for o in input.outputs
            }:
                raise to_application_error(err, operation="submit tool outputs") from err
            return current
        except openai.OpenAIError as err:
            raise to_application_error(err, operation="submit tool outputs") from err

    @activity.defn(name="assistants.cancel")
    async def cancel(self, ref: ObjectRef) -> RunSnapshot:
        """Cancel the run; a run that already ended is returned as it is."""
        assert ref.thread_id is not None
        try:
            return snapshot_from_run(
                await self._client.beta.threads.runs.cancel(ref.object_id, thread_id=ref.thread_id)
            )
        except openai.BadRequestError:
            return await self.read(ref)
        except openai.OpenAIError as err:
            raise to_application_error(err, operation="cancel run") from err

    @activity.defn(name="assistants.answer")
    async def answer(self, ref: ObjectRef) -> Answer:
        """The assistant messages the run added to the thread, joined as text."""
        return Answer(text=await self._answer_text(ref))

    async def _answer_text(self, ref: ObjectRef) -> str:
        assert ref.thread_id is not None
        try:
            page = await self._client.beta.threads.messages.list(
                ref.thread_id, run_id=ref.object_id, order="asc", limit=100
            )
        except openai.OpenAIError as err:
            raise to_application_error(err, operation="list messages") from err
        parts = [
            block.text.value
            for message in page.data
            if message.role == "assistant"
            for block in message.content
            if block.type == "text"
        ]
        return "\n".join(parts)


_CONTRACT: type[BackendActivities] = AssistantsActivities
"""mypy checks here that the class satisfies the backend contract the workflow calls."""
