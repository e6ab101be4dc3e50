"""The names clients use to reach the run workflow: its type names, its query and its signal.

Defined here, apart from `durable_runs.workflows.run`, so that code that only starts, queries
or signals runs (the client, the command line) addresses them by name without importing the
workflow and, through it, every activity and the OpenAI SDK.
"""

from __future__ import annotations

from typing import Final

RUN_WORKFLOW_TYPE: Final = "RunWorkflow"
"""Workflow type of a run (Responses or Assistants backend)."""

LEGACY_TYPE_NAME: Final = "AssistantRunWorkflow"
"""The run workflow's type name before it covered both backends."""

STATUS_QUERY: Final = "status"
"""Query of a run workflow: what it knows about its run now (`RunStatusView`)."""

RUN_EVENT_SIGNAL: Final = "run_event"
"""Signal to a run workflow: a webhook event about its run (`RunEvent`)."""

CHAT_WORKFLOW_TYPE: Final = "ChatSessionWorkflow"
"""Workflow type of a chat session (one per conversation id)."""

CHAT_ID_PREFIX: Final = "chat-"
"""A chat session's workflow id is this prefix and the session id."""

SEND_UPDATE: Final = "send"
"""Update of a chat session: one user message in, the turn's `ChatReply` out."""

TURNS_QUERY: Final = "turns"
"""Query of a chat session: its recent turns in the current workflow run (`ChatTurnView`)."""

CHAT_TURN_PREFIX: Final = "turn-"
"""A chat turn's run is the session's child `turn-<n>` (id `chat-<session>/turn-<n>`)."""

CANCEL_TURN_SIGNAL: Final = "cancel_turn"
"""Signal to a chat session: cancel the turn that runs now (its run is cancelled at the API)."""


def chat_workflow_id(session_id: str) -> str:
    """The workflow id of chat session `session_id`."""
    return CHAT_ID_PREFIX + session_id


def chat_turn_workflow_id(session_id: str, turn: int) -> str:
    """The workflow id of turn `turn`'s run in chat session `session_id` (a child workflow)."""
    return f"{chat_workflow_id(session_id)}/{CHAT_TURN_PREFIX}{turn}"


DECIDE_UPDATE: Final = "decide"
"""Workflow Update of a run workflow: a person's decision on a tool call (`ApprovalDecision`)."""
