"""In-memory objects of the Assistants API and their JSON views."""

from __future__ import annotations

import asyncio
import math
import time
from dataclasses import dataclass, field
from typing import Any

from durable_runs_emulator.brain import AnsweredCall
from durable_runs_emulator.errors import not_found
from durable_runs_emulator.ids import new_id
from durable_runs_emulator.scenario import Scenario
from durable_runs_emulator.stats import ObjectRef

ACTIVE_RUN_STATUSES = frozenset({"queued", "in_progress", "requires_action", "cancelling"})
"""Run statuses that block a second run on the same thread."""

TERMINAL_RUN_STATUSES = frozenset({"completed", "failed", "cancelled", "expired", "incomplete"})
"""Run statuses after which nothing changes."""


def _seconds(at: float | None) -> int | None:
    return None if at is None else int(at)


def text_content(value: str) -> dict[str, Any]:
    """A message text content part."""
    return {"type": "text", "text": {"value": value, "annotations": []}}


@dataclass
class AssistantRecord:
    """An assistant (`asst_...`)."""

    id: str
    created_at: float
    model: str
    name: str | None = None
    description: str | None = None
    instructions: str | None = None
    tools: list[dict[str, Any]] = field(default_factory=list)
    metadata: dict[str, str] = field(default_factory=dict)
    temperature: float | None = 1.0
    top_p: float | None = 1.0
    response_format: Any = "auto"
    tool_resources: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The `assistant` object."""
        return {
            "id": self.id,
            "object": "assistant",
            "created_at": int(self.created_at),
            "name": self.name,
            "description": self.description,
            "model": self.model,
            "instructions": self.instructions,
            "tools": self.tools,
            "top_p": self.top_p,
            "temperature": self.temperature,
            "tool_resources": self.tool_resources,
            "metadata": self.metadata,
            "response_format": self.response_format,
        }


@dataclass
class MessageRecord:
    """A thread message (`msg_...`)."""

    id: str
    created_at: float
    thread_id: str
    role: str
    content: list[dict[str, Any]]
    assistant_id: str | None = None
    run_id: str | None = None
    attachments: list[dict[str, Any]] = field(default_factory=list)
    metadata: dict[str, str] = field(default_factory=dict)

    @property
    def text(self) -> str:
        """Concatenated text parts."""
        return "\n".join(
            part["text"]["value"] for part in self.content if part.get("type") == "text"
        )

    def to_dict(self) -> dict[str, Any]:
        """The `thread.message` object."""
        return {
            "id": self.id,
            "object": "thread.message",
            "created_at": int(self.created_at),
            "assistant_id": self.assistant_id,
            "thread_id": self.thread_id,
            "run_id": self.run_id,
            "status": "completed",
            "incomplete_details": None,
            "incomplete_at": None,
            "completed_at": int(self.created_at),
            "role": self.role,
            "content": self.content,
            "attachments": self.attachments,
            "metadata": self.metadata,
        }


@dataclass
class ThreadRecord:
    """A thread (`thread_...`) and its messages, oldest first."""

    id: str
    created_at: float
    metadata: dict[str, str] = field(default_factory=dict)
    tool_resources: dict[str, Any] = field(default_factory=dict)
    messages: list[MessageRecord] = field(default_factory=list)
    runs: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The `thread` object."""
        return {
            "id": self.id,
            "object": "thread",
            "created_at": int(self.created_at),
            "metadata": self.metadata,
            "tool_resources": self.tool_resources,
        }


@dataclass
class RunRecord:
    """A run (`run_...`) with its scenario and the state of its lifecycle task."""

    id: str
    thread_id: str
    assistant_id: str
    created_at: float
    model: str
    instructions: str
    tools: list[dict[str, Any]]
    metadata: dict[str, str]
    scenario: Scenario
    options: dict[str, Any]
    status: str = "queued"
    started_at: float | None = None
    completed_at: float | None = None
    cancelled_at: float | None = None
    failed_at: float | None = None
    expires_at: float | None = None
    last_error: dict[str, str] | None = None
    incomplete_details: dict[str, str] | None = None
    usage: dict[str, int] | None = None
    pending_calls: list[dict[str, Any]] = field(default_factory=list)
    rounds: list[list[AnsweredCall]] = field(default_factory=list)
    rate_limit_left: int = 0
    server_error_left: int = 0
    cancel_requested: bool = False
    submitted: bool = False
    wake: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def ref(self) -> ObjectRef:
        """Stats reference."""
        return ObjectRef("run", self.id, self.thread_id, self.metadata)

    @property
    def is_active(self) -> bool:
        """True while the run blocks its thread."""
        return self.status in ACTIVE_RUN_STATUSES

    def to_dict(self) -> dict[str, Any]:
        """The `thread.run` object."""
        required_action = None
        if self.status == "requires_action":
            required_action = {
                "type": "submit_tool_outputs",
                "submit_tool_outputs": {"tool_calls": self.pending_calls},
            }
        return {
            "id": self.id,
            "object": "thread.run",
            "created_at": int(self.created_at),
            "assistant_id": self.assistant_id,
            "thread_id": self.thread_id,
            "status": self.status,
            "started_at": _seconds(self.started_at),
            "expires_at": (
                None
                if self.expires_at is None or self.status in TERMINAL_RUN_STATUSES
                else math.ceil(self.expires_at)
            ),
            "cancelled_at": _seconds(self.cancelled_at),
            "failed_at": _seconds(self.failed_at),
            "completed_at": _seconds(self.completed_at),
            "required_action": required_action,
            "last_error": self.last_error,
            "model": self.model,
            "instructions": self.instructions,
            "tools": self.tools,
            "tool_resources": {},
            "metadata": self.metadata,
            "temperature": self.options.get("temperature", 1.0),
            "top_p": self.options.get("top_p", 1.0),
            "max_completion_tokens": self.options.get("max_completion_tokens"),
            "max_prompt_tokens": self.options.get("max_prompt_tokens"),
            "truncation_strategy": self.options.get("truncation_strategy")
            or {"type": "auto", "last_messages": None},
            "incomplete_details": self.incomplete_details,
            "usage": self.usage,
            "response_format": self.options.get("response_format", "auto"),
            "tool_choice": self.options.get("tool_choice", "auto"),
            "parallel_tool_calls": self.options.get("parallel_tool_calls", True),
        }


class Store:
    """All Assistants objects, by id."""

    def __init__(self) -> None:
        self.assistants: dict[str, AssistantRecord] = {}
        self.threads: dict[str, ThreadRecord] = {}
        self.runs: dict[str, RunRecord] = {}
        self.create_attempts: dict[str, int] = {}

    def assistant(self, assistant_id: str) -> AssistantRecord:
        """Look up an assistant or raise the API's 404."""
        found = self.assistants.get(assistant_id)
        if found is None:
            raise not_found("assistant", assistant_id)
        return found

    def thread(self, thread_id: str) -> ThreadRecord:
        """Look up a thread or raise the API's 404."""
        found = self.threads.get(thread_id)
        if found is None:
            raise not_found("thread", thread_id)
        return found

    def run(self, thread_id: str, run_id: str) -> RunRecord:
        """Look up a run of a thread or raise the API's 404."""
        thread = self.thread(thread_id)
        found = self.runs.get(run_id)
        if found is None or found.thread_id != thread.id:
            raise not_found("run", run_id)
        return found

    def add_message(
        self,
        thread: ThreadRecord,
        *,
        role: str,
        content: list[dict[str, Any]],
        assistant_id: str | None = None,
        run_id: str | None = None,
        attachments: list[dict[str, Any]] | None = None,
        metadata: dict[str, str] | None = None,
    ) -> MessageRecord:
        """Append a message to a thread."""
        message = MessageRecord(
            id=new_id("msg"),
            created_at=time.time(),
            thread_id=thread.id,
            role=role,
            content=content,
            assistant_id=assistant_id,
            run_id=run_id,
            attachments=attachments or [],
            metadata=metadata or {},
        )
        thread.messages.append(message)
        return message

    def active_run(self, thread: ThreadRecord) -> RunRecord | None:
        """The thread's run that is still active, if any."""
        for run_id in reversed(thread.runs):
            run = self.runs[run_id]
            if run.is_active:
                return run
        return None
