"""Custom search attributes (Keyword) that make runs filterable in the Temporal UI.

Registered by `durable-runs dev` (`temporal server start-dev --search-attribute`), by the test
fixtures, and by docker-compose (`temporal operator search-attribute create`).
"""

from __future__ import annotations

from temporalio.common import SearchAttributeKey

OPENAI_RUN_ID = SearchAttributeKey.for_keyword("OpenAIRunId")
OPENAI_THREAD_ID = SearchAttributeKey.for_keyword("OpenAIThreadId")
OPENAI_RUN_STATUS = SearchAttributeKey.for_keyword("OpenAIRunStatus")
OPENAI_ASSISTANT_ID = SearchAttributeKey.for_keyword("OpenAIAssistantId")
OPENAI_BACKEND = SearchAttributeKey.for_keyword("OpenAIBackend")

ALL_KEYS: tuple[SearchAttributeKey[str], ...] = (
    OPENAI_RUN_ID,
    OPENAI_THREAD_ID,
    OPENAI_RUN_STATUS,
    OPENAI_ASSISTANT_ID,
    OPENAI_BACKEND,
)
"""Every custom search attribute, for registration."""


def dev_server_args() -> list[str]:
    """`--search-attribute NAME=Keyword` arguments for `temporal server start-dev`."""
    args: list[str] = []
    for key in ALL_KEYS:
        args += ["--search-attribute", f"{key.name}=Keyword"]
    return args
