"""Typed values shared by every part: workflow and activity inputs, snapshots, events, results.

This module is imported inside Temporal's workflow sandbox: it holds plain pydantic models only,
no settings, no clients, no I/O.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from durable_runs.options import ActivityKind as ActivityKind
from durable_runs.options import ActivityOptions

Backend = Literal["assistants", "responses"]
"""Which OpenAI API drives the run: `responses` (background mode, what api.openai.com serves) or
`assistants` (threads and runs: the seed's API, for Assistants-compatible servers and the
emulator; api.openai.com shut it down on 2026-08-26)."""

RunStatus = Literal[
    "queued",
    "in_progress",
    "requires_action",
    "cancelling",
    "cancelled",
    "failed",
    "completed",
    "incomplete",
    "expired",
]
"""The union of the Assistants run and Responses statuses (each API's own vocabulary)."""

TERMINAL_STATUSES: frozenset[str] = frozenset(
    {"cancelled", "failed", "completed", "incomplete", "expired"}
)
"""Statuses after which the remote object never changes again."""

WORKFLOW_ID_METADATA_KEY = "temporal_workflow_id"
"""Metadata key on every run/response we create: the workflow that owns it (used for routing)."""

STEP_METADATA_KEY = "durable_runs_step"
"""Metadata key naming the step that created the object (used to find it again on retry)."""

RESERVED_METADATA_KEYS = frozenset({WORKFLOW_ID_METADATA_KEY, STEP_METADATA_KEY})
"""Metadata keys we write on every created object; a request may not set them."""

MAX_METADATA_KEYS = 16
"""The API's limit of metadata pairs on one object."""
MAX_USER_METADATA_KEYS = MAX_METADATA_KEYS - len(RESERVED_METADATA_KEYS)
"""Metadata pairs a request may add: the API's 16 minus our two."""
MAX_METADATA_KEY_CHARS = 64
"""The API's limit on a metadata key's length."""
MAX_METADATA_VALUE_CHARS = 512
"""The API's limit on a metadata value's length."""

NonEmpty = Annotated[str, StringConstraints(min_length=1)]
"""A string with at least one character."""
ToolName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
"""A function name as the API accepts it: letters, digits, `_` and `-`, at most 64."""
Seconds = Annotated[float, Field(gt=0, allow_inf_nan=False)]
"""A positive, finite number of seconds."""


class Frozen(BaseModel):
    """Base for immutable value objects."""

    model_config = ConfigDict(frozen=True)


MIN_WAIT_SHARE = 0.5
"""A check that ended late never brings the next one closer than this share of its interval,
so a slow API or a binding budget is not answered with more reads (the workflow's schedule in
`workflows.rules` and the `poll` activity's in `activities.polling` both keep it)."""


class PollPolicy(Frozen):
    """How often to check the run, and for how long.

    Every duration is a positive, finite number of seconds, the backoff at least 1 and
    `checks_per_history` at least 1; anything else is refused when the policy is built.

    Attributes:
        initial_interval_s: First wait between checks.
        backoff: Multiplier applied to the wait after each check that saw no change.
        max_interval_s: Cap on the wait between checks.
        deadline_s: Overall budget for the run; past it the run is cancelled at the API.
        webhooks: Webhook mode: events are the fast path, the timer is a slow safety poll.
        safety_poll_s: Webhook mode: the first safety check comes this long after the create.
        safety_poll_backoff: Webhook mode: multiplier of the wait after each safety check, so
            a long run costs a few reads, not one per `safety_poll_s`.
        safety_poll_max_s: Webhook mode: cap on the wait between safety checks. With webhooks
            lost, a run that ends T seconds after its create is noticed at most
            `T + safety_poll_s` seconds after it ended (with the default backoff of 2), and
            never more than this late.
        checks_per_history: Checks after which the workflow continues as new, so its history
            stays bounded (Temporal's own suggestion also triggers it).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    initial_interval_s: Seconds = 0.5
    backoff: float = Field(default=1.5, ge=1, allow_inf_nan=False)
    max_interval_s: Seconds = 5.0
    deadline_s: Seconds = 600.0
    webhooks: bool = False
    safety_poll_s: Seconds = 120.0
    safety_poll_backoff: float = Field(default=2.0, ge=1, allow_inf_nan=False)
    safety_poll_max_s: Seconds = 600.0

    def wait_after(self, reads: int, *, hint_ms: int | None = None) -> timedelta:
        """Polling: the wait after `reads` reads of one object saw no change.

        The first read follows one initial interval; each wait is `backoff` times the one
        before, up to `max_interval_s`; the server's poll-after hint is a lower bound.
        """
        interval_s = min(self.initial_interval_s * self.backoff**reads, self.max_interval_s)
        return timedelta(seconds=max(interval_s, (hint_ms or 0) / 1000))

    checks_per_history: int = Field(default=500, ge=1)


class AssistantSpec(Frozen):
    """An assistant to create when the request names none (Assistants backend)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = "durable-runs assistant"
    model: NonEmpty = "gpt-4o-mini"
    instructions: str = "You are a helpful assistant."


AWAITING_APPROVAL = "awaiting_approval"
"""`OpenAIRunStatus` (and `status` query status) of a run whose tool calls wait for a person."""


class ApprovalPolicy(Frozen):
    """Which tool calls wait for a person's decision, and what happens when none comes.

    Attributes:
        tools: Names of the tools whose calls need approval (`durable_runs.client.start_run`
            adds the tools the worker's registry marks `requires_approval`).
        on_no_decision: After `decide_within_s` with no decision: `reject` the calls (the
            model is told why) or `fail` the run (its API object is cancelled).
        decide_within_s: How long a decision may take (None: as long as it takes; an
            Assistants run still expires at its `expires_at`).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    tools: list[ToolName] = Field(default_factory=list)
    on_no_decision: Literal["reject", "fail"] = "reject"
    decide_within_s: Seconds | None = None


class RunRequest(BaseModel):
    """Input of `RunWorkflow`: what to ask, where, with which tools and policies.

    Validated when built (and when a workflow decodes it): an invalid request raises
    `pydantic.ValidationError` whose message names the field. `durable_runs.client.start_run`
    also checks the tool names against a registry.

    Attributes:
        backend: The API that runs it: `responses` (the default; background mode, what
            api.openai.com serves) or `assistants` (the seed's API, for Assistants-compatible
            servers and the emulator).
        messages: User messages to open the conversation with; on an existing `thread_id`
            (Assistants) they are added to the thread with the run. A request needs at least
            one, unless it names a `thread_id` (Assistants backend).
        assistant_id: Existing assistant (Assistants backend).
        assistant: Spec of an assistant to create when `assistant_id` is empty.
        thread_id: Existing thread to run on (Assistants backend).
        previous_response_id: Responses backend: the response this run's first response
            continues (`previous_response_id`), so the model sees that conversation.
        model: Model for the Responses backend.
        instructions: Instructions (Responses backend, or extra instructions for a run).
        tools: Names of registered tools the model may call (each once).
        poll: Backoff, deadline and webhook mode.
        on_expired: `fail` ends the workflow with status `expired`; `restart` starts a new run.
        max_restarts: Bound on restarts when `on_expired` is `restart` (0 or more).
        metadata: Extra metadata for the created run/response: at most 14 pairs (the API's 16
            minus our `temporal_workflow_id` and `durable_runs_step`, which it may not set),
            keys up to 64 characters, values up to 512.
        options: Timeouts, retry policies and priorities of this run's activities, in place of
            the worker's (see `durable_runs.options`).
        approval: Which tool calls wait for a person's decision (Workflow Update `decide`).
    """

    model_config = ConfigDict(extra="forbid")

    backend: Backend = "responses"
    messages: list[NonEmpty] = Field(default_factory=list)
    assistant_id: NonEmpty | None = None
    assistant: AssistantSpec | None = None
    thread_id: NonEmpty | None = None
    previous_response_id: NonEmpty | None = None
    model: NonEmpty = "gpt-4o-mini"
    instructions: str | None = None
    tools: list[ToolName] = Field(default_factory=list)
    poll: PollPolicy = PollPolicy()
    on_expired: Literal["fail", "restart"] = "fail"
    max_restarts: int = Field(default=2, ge=0)
    metadata: dict[str, str] = Field(default_factory=dict)
    options: ActivityOptions | None = None
    approval: ApprovalPolicy = ApprovalPolicy()

    @field_validator("tools")
    @classmethod
    def _tools_once_each(cls, tools: list[str]) -> list[str]:
        repeated = sorted({name for name in tools if tools.count(name) > 1})
        if repeated:
            raise ValueError(f"each tool once; repeated: {', '.join(repeated)}")
        return tools

    @field_validator("metadata")
    @classmethod
    def _metadata_fits_the_api(cls, metadata: dict[str, str]) -> dict[str, str]:
        if len(metadata) > MAX_USER_METADATA_KEYS:
            raise ValueError(
                f"at most {MAX_USER_METADATA_KEYS} keys (the API's {MAX_METADATA_KEYS} minus "
                f"{len(RESERVED_METADATA_KEYS)} of ours), got {len(metadata)}"
            )
        reserved = sorted(RESERVED_METADATA_KEYS & metadata.keys())
        if reserved:
            raise ValueError(f"{', '.join(reserved)} is set by durable-runs itself")
        for key, value in metadata.items():
            if not key or len(key) > MAX_METADATA_KEY_CHARS:
                raise ValueError(f"key {key!r} must have 1 to {MAX_METADATA_KEY_CHARS} characters")
            if len(value) > MAX_METADATA_VALUE_CHARS:
                raise ValueError(
                    f"value of {key!r} has {len(value)} characters, at most "
                    f"{MAX_METADATA_VALUE_CHARS}"
                )
        return metadata

    @model_validator(mode="after")
    def _has_input(self) -> RunRequest:
        if self.previous_response_id is not None and self.backend != "responses":
            raise ValueError("previous_response_id: Responses backend only (use thread_id)")
        if self.messages:
            return self
        if self.backend == "assistants" and self.thread_id is not None:
            return self
        if self.backend == "assistants":
            raise ValueError("messages: give at least one message, or a thread_id to run on")
        raise ValueError("messages: give at least one message (thread_id is Assistants only)")


class ToolCall(Frozen):
    """One function call the model asked for."""

    id: str
    name: str
    arguments: str = "{}"


class ToolOutput(Frozen):
    """The output of one tool call, as submitted back to the API."""

    tool_call_id: str
    output: str


class RunError(Frozen):
    """The API's `last_error` (or our own error when the run could not go on)."""

    code: str
    message: str


class Usage(Frozen):
    """Token usage, summed over every object of the run."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0

    def plus(self, other: Usage | None) -> Usage:
        """Return the sum of this usage and `other`."""
        if other is None:
            return self
        return Usage(
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
            total_tokens=self.total_tokens + other.total_tokens,
        )


class RunSnapshot(Frozen):
    """What one read of the remote run (or response) showed.

    Attributes:
        object_id: Run id (`run_...`) or response id (`resp_...`).
        thread_id: Thread of an Assistants run.
        status: The API's own status.
        needs_tool_outputs: The object waits for tool outputs (Assistants `requires_action`;
            a Responses object whose output holds function calls).
        tool_calls: Calls to run when `needs_tool_outputs`.
        last_error: The API's error, when the run failed.
        usage: Usage of this object, when known.
        poll_after_ms: The server's `openai-poll-after-ms` hint from this read.
        expires_at: Unix time after which a run waiting for tool outputs expires.
        assistant_id: Assistant of an Assistants run.
        answer: The final text, when the read that shows `completed` carries it (a Responses
            response does, and an Assistants read with no API budget set fetches it); the
            workflow then skips its `answer` activity.
        completed_at: Unix time the API says the object completed (whole seconds on OpenAI).
    """

    object_id: str
    thread_id: str | None = None
    status: RunStatus
    needs_tool_outputs: bool = False
    tool_calls: list[ToolCall] = Field(default_factory=list)
    last_error: RunError | None = None
    usage: Usage | None = None
    poll_after_ms: int | None = None
    expires_at: int | None = None
    assistant_id: str | None = None
    answer: str | None = None
    completed_at: float | None = None

    @property
    def is_terminal(self) -> bool:
        """True when the object is done and waits for nothing from us."""
        return self.status in TERMINAL_STATUSES and not self.needs_tool_outputs


class RunEvent(Frozen):
    """A webhook event routed to a run workflow (signal `run_event`).

    Attributes:
        event_id: The delivery's `webhook-id`; the workflow applies each id once.
        type: Event type, e.g. `thread.run.completed` or `response.completed`.
        object_id: The run or response the event is about.
        snapshot: The object as the event carried it (`thread.run.*`); None when the event
            carries only the id (`response.*`), so the workflow reads the object once.
        created_at: The event's own timestamp (unix seconds).
    """

    event_id: str
    type: str
    object_id: str
    snapshot: RunSnapshot | None = None
    created_at: int | None = None


class Conversation(Frozen):
    """Where a run happens: the result of the backend's `prepare` step."""

    assistant_id: str | None = None
    thread_id: str | None = None


class PrepareInput(Frozen):
    """Input of a backend's `prepare` activity."""

    workflow_id: str
    request: RunRequest


class StartInput(Frozen):
    """Input of a backend's `start` activity: create the run/response for one step.

    Attributes:
        workflow_id: Owner, written to metadata for routing and for finding the object on retry.
        step: Step number, unique per created object within the workflow.
        request: The workflow's request.
        conversation: What `prepare` returned.
        previous_object_id: Responses: the response a follow-up continues from.
        tool_outputs: Responses: outputs carried into a follow-up response.
    """

    workflow_id: str
    step: int
    request: RunRequest
    conversation: Conversation
    previous_object_id: str | None = None
    tool_outputs: list[ToolOutput] = Field(default_factory=list)


class ObjectRef(Frozen):
    """Input of `read`, `cancel` and `answer`: which remote object."""

    object_id: str
    thread_id: str | None = None


class PollInput(Frozen):
    """Input of a backend's `poll` activity: read until the object changes, on retries.

    Attributes:
        ref: The object to read.
        status: Its status as the workflow knows it; a read that shows another one returns.
        first_due_at: When the first read is due (the create plus the first interval); an
            attempt that starts sooner waits for it on the server, with no read.
        poll: The run's policy: the waits between reads grow as in a polling loop.
        reads_before: Reads of this object by earlier `poll` activities (the backoff goes on
            from there).
    """

    ref: ObjectRef
    status: str
    first_due_at: datetime
    poll: PollPolicy
    reads_before: int = 0


class PolledSnapshot(Frozen):
    """What a `poll` activity returns: the first read that showed a change.

    Attributes:
        snapshot: That read.
        reads: Reads the activity made in all its attempts (the last one included).
    """

    snapshot: RunSnapshot
    reads: int


class CreateOptions(Frozen):
    """What a follow-up create needs from the request: everything but the conversation.

    Attributes:
        model: The model of the run.
        tools: Names of the tools the model may call.
        metadata: The request's own metadata pairs.
        instructions: The request has instructions. A Responses follow-up does not inherit
            them from the response it continues, so it copies them from that response; the
            text itself is never repeated in an activity input.
    """

    model: NonEmpty
    tools: list[ToolName] = Field(default_factory=list)
    metadata: dict[str, str] = Field(default_factory=dict)
    instructions: bool = False

    @classmethod
    def of(cls, request: RunRequest) -> CreateOptions:
        """The create options of `request` (its prompt and instructions left out)."""
        return cls(
            model=request.model,
            tools=request.tools,
            metadata=request.metadata,
            instructions=bool(request.instructions),
        )


class SubmitInput(Frozen):
    """Input of a backend's `submit_tool_outputs` activity.

    For the Responses backend the submit creates a follow-up response: it needs the workflow
    id, the step and the request's `CreateOptions`, never its prompt, so a tool round does not
    record the prompt in history again.

    Attributes:
        workflow_id: Owner, written to the follow-up's metadata.
        step: Step number of the follow-up.
        run: The run or response waiting for the outputs.
        outputs: The round's tool outputs.
        create: What the follow-up create needs (set by today's workflow).
        request: The whole request, as workflows before `create` sent it: accepted so that a
            submit scheduled by such a workflow still runs.
    """

    workflow_id: str
    step: int
    run: ObjectRef
    outputs: list[ToolOutput]
    create: CreateOptions | None = None
    request: RunRequest | None = None

    @model_validator(mode="after")
    def _has_create_options(self) -> SubmitInput:
        if self.create is None and self.request is None:
            raise ValueError("create: give the create options (or, as before, the request)")
        return self

    @property
    def create_options(self) -> CreateOptions:
        """The create options, from `create` or from an older workflow's `request`."""
        if self.create is not None:
            return self.create
        assert self.request is not None
        return CreateOptions.of(self.request)


class Answer(Frozen):
    """The final answer: text and usage summed over the run's objects."""

    text: str
    usage: Usage | None = None


class ToolCallInput(Frozen):
    """Input of the tool activity: one call, with its stable idempotency key.

    Attributes:
        workflow_id: The run's workflow.
        call: The call (with a person's edited arguments, when they gave some).
        allowed: The tools the run may call.
        approved: A person approved the call (a tool that requires approval runs only then).
    """

    workflow_id: str
    call: ToolCall
    allowed: list[str]
    approved: bool = False

    @property
    def idempotency_key(self) -> str:
        """Stable per workflow and tool call: the same on every retry and after any crash."""
        return f"{self.workflow_id}/{self.call.id}"


class RunTimings(Frozen):
    """When the run started and ended (workflow time)."""

    started_at: datetime
    finished_at: datetime

    @property
    def duration_s(self) -> float:
        """Seconds from workflow start to result."""
        return (self.finished_at - self.started_at).total_seconds()


class RunResult(Frozen):
    """Output of `RunWorkflow`.

    Attributes:
        status: Final status: the API's (completed, failed, cancelled, incomplete, expired) or
            `timed_out` when our deadline cancelled it.
        answer: The assistant's final text (empty unless completed).
        backend: The backend that ran it.
        run_id: The last run/response id.
        thread_id: The thread (Assistants).
        assistant_id: The assistant that ran it (Assistants).
        response_ids: Every run/response created for this workflow, in order.
        last_error: Why it did not complete.
        usage: Usage summed over the run.
        api_calls: Number of API activities executed by kind (start, read, submit_tool_outputs...).
        checks: Status checks made (reads plus events applied).
        events_applied: Webhook events that changed what the workflow knew.
        tool_rounds: Number of tool rounds submitted.
        restarts: Runs restarted after expiry.
        timings: Start and end.
    """

    status: str
    answer: str = ""
    backend: Backend
    run_id: str | None = None
    thread_id: str | None = None
    assistant_id: str | None = None
    response_ids: list[str] = Field(default_factory=list)
    last_error: RunError | None = None
    usage: Usage | None = None
    api_calls: dict[str, int] = Field(default_factory=dict)
    checks: int = 0
    object_reads: int = 0
    """Reads of the current object by `poll` activities, which continue its backoff."""
    events_applied: int = 0
    tool_rounds: int = 0
    restarts: int = 0
    timings: RunTimings


class PendingApproval(Frozen):
    """A tool call that waits for a person's decision.

    Attributes:
        workflow_id: The run's workflow.
        call_id: The tool call's id (what `decide` names).
        tool: The tool's name.
        arguments: The JSON arguments the model sent.
        waiting_since: When the run began to wait (workflow time).
        expires_at: When the API object expires unless the calls are answered (Assistants).
    """

    workflow_id: str
    call_id: str
    tool: str
    arguments: str
    waiting_since: datetime
    expires_at: datetime | None = None


class ApprovalDecision(Frozen):
    """Argument of the Workflow Update `decide`: a person's decision on one tool call.

    Attributes:
        call_id: The pending call it decides.
        approve: Run the tool (True) or tell the model it was rejected (False).
        reason: Why; the model sees it with a rejection.
        edited_arguments: JSON object to run the tool with instead of the model's arguments.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    call_id: NonEmpty
    approve: bool
    reason: str = ""
    edited_arguments: str | None = None

    @field_validator("edited_arguments")
    @classmethod
    def _a_json_object(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            decoded = json.loads(value)
        except ValueError as err:
            raise ValueError(f"not JSON: {err}") from None
        if not isinstance(decoded, dict):
            raise ValueError(f"must be a JSON object, got {type(decoded).__name__}")
        return value


class RunStatusView(Frozen):
    """Answer of the `status` query: the run as the workflow knows it now."""

    status: str
    backend: Backend
    run_id: str | None = None
    thread_id: str | None = None
    checks: int = 0
    api_calls: dict[str, int] = Field(default_factory=dict)
    next_check_at: datetime | None = None
    last_error: RunError | None = None
    tool_rounds: int = 0
    pending_approvals: list[PendingApproval] = Field(default_factory=list)


class RunProgress(BaseModel):
    """Everything the run loop knows, carried across continue-as-new (internal to the workflow)."""

    started_at: datetime
    deadline_at: datetime
    conversation: Conversation | None = None
    snapshot: RunSnapshot | None = None
    step: int = 0
    delay_s: float = 0.0
    check_due_at: datetime | None = None
    """When the backoff schedule's next check is due (None in state carried by older runs)."""
    submitted_call_ids: list[str] = Field(default_factory=list)
    object_ids: list[str] = Field(default_factory=list)
    usage_by_object: dict[str, Usage] = Field(default_factory=dict)
    applied_event_ids: list[str] = Field(default_factory=list)
    pending_events: list[RunEvent] = Field(default_factory=list)
    api_calls: dict[str, int] = Field(default_factory=dict)
    checks: int = 0
    object_reads: int = 0
    """Reads of the current object by `poll` activities, which continue its backoff."""
    events_applied: int = 0
    tool_rounds: int = 0
    restarts: int = 0


class LegacyRunRequest(RunRequest):
    """Input of the run workflow under its former type name, `AssistantRunWorkflow` (internal).

    Runs started before the rename carry their loop state in the request itself when they
    continue as new; they keep that shape until they end.

    Attributes:
        progress: The loop state carried over by continue-as-new (empty in a first run).
    """

    progress: RunProgress | None = None

    def current(self) -> RunRequest:
        """The request without the carried state."""
        return RunRequest.model_validate({k: v for k, v in self if k != "progress"})


def metadata_for(workflow_id: str, step: int, extra: dict[str, str]) -> dict[str, str]:
    """Metadata written on each created run/response: user extras plus owner and step tags."""
    return {**extra, WORKFLOW_ID_METADATA_KEY: workflow_id, STEP_METADATA_KEY: str(step)}


def parse_tool_arguments(call: ToolCall) -> dict[str, Any]:
    """Decode a tool call's JSON arguments (an empty object when blank)."""
    value = json.loads(call.arguments or "{}")
    if not isinstance(value, dict):
        raise ValueError(f"tool arguments must be a JSON object, got {type(value).__name__}")
    return value


class ChatOptions(BaseModel):
    """How a chat session runs its turns: each turn is one `RunRequest` built from these.

    Attributes:
        backend: `responses` (turns chain by `previous_response_id`) or `assistants` (turns
            share one thread).
        model: Model of every turn.
        instructions: Instructions of every turn.
        tools: Names of registered tools the model may call in a turn.
        assistant_id: Assistants backend: the assistant (one is created with the first turn
            when empty).
        poll: Backoff, deadline and webhook mode of each turn's run.
        metadata: Extra metadata of every created response or run.
        options: Timeouts, retry policies and priorities of each turn's activities.
        idle_close_s: The session workflow closes after this long without a turn; a later
            message starts a new session run that continues the same chain.
        turns_per_run: Turns after which the session continues as new (Temporal's own
            suggestion also triggers it), so its history stays bounded.
        recent_turns: Turns the `turns` query shows (the latest, of the current run only).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    backend: Backend = "responses"
    model: NonEmpty = "gpt-4o-mini"
    instructions: str | None = None
    tools: list[ToolName] = Field(default_factory=list)
    assistant_id: NonEmpty | None = None
    poll: PollPolicy = PollPolicy()
    metadata: dict[str, str] = Field(default_factory=dict)
    options: ActivityOptions | None = None
    idle_close_s: Seconds = 3600.0
    turns_per_run: int = Field(default=100, ge=1)
    recent_turns: int = Field(default=20, ge=1)


class ChatChain(Frozen):
    """What one chat turn hands the next: ids and counters, never the transcript.

    Attributes:
        turns: Turns the session has run (the next turn is `turns + 1`).
        last_response_id: Responses: the last completed turn's final response.
        thread_id: Assistants: the session's thread.
        assistant_id: Assistants: the assistant that runs the thread.
    """

    turns: int = 0
    last_response_id: str | None = None
    thread_id: str | None = None
    assistant_id: str | None = None


class ChatSessionInput(BaseModel):
    """Input of `ChatSessionWorkflow`.

    Attributes:
        session_id: The conversation id (the workflow id is `chat-<session_id>`).
        options: How turns run.
        chain: Where the conversation stands: carried by continue-as-new, or from the
            session run that closed when idle (empty for a new conversation).
    """

    model_config = ConfigDict(extra="forbid")

    session_id: NonEmpty
    options: ChatOptions = ChatOptions()
    chain: ChatChain = ChatChain()


class ChatSessionEnd(Frozen):
    """Result of a `ChatSessionWorkflow` run that closed (idle): the chain to continue from."""

    session_id: str
    chain: ChatChain
    reason: str = "idle"


class ChatReply(Frozen):
    """The answer of one chat turn (the `send` Update's result).

    Attributes:
        session_id: The conversation id.
        turn: The turn's number in the session (from 1, across continue-as-new).
        answer: The assistant's text (empty unless `status` is `completed`).
        response_id: The turn's last response (Responses) or run (Assistants).
        status: The turn run's final status (`completed`, `cancelled`, `failed`, ...).
    """

    session_id: str
    turn: int
    answer: str
    response_id: str | None = None
    status: str = "completed"


class ChatTurnView(Frozen):
    """One recent turn, as the `turns` query shows it.

    Attributes:
        turn: The turn's number in the session.
        message: The user's message.
        answer: The answer, once the turn ended (None while it runs).
        status: `waiting` (behind another turn), `running`, or the run's final status.
    """

    turn: int
    message: str
    answer: str | None = None
    status: str
