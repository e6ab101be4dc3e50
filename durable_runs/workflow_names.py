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

DECIDE_UPDATE: Final = "decide"
"""Workflow Update of a run workflow: a person's decision on a tool call (`ApprovalDecision`)."""
