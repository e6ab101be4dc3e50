"""Custom search attributes (Keyword) that make runs filterable in the Temporal UI.

Registered by `durable-runs dev` (`temporal server start-dev --search-attribute`), by the test
fixtures, and by docker-compose (`temporal operator search-attribute create`).
"""

from __future__ import annotations

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import (
    AddSearchAttributesRequest,
    ListSearchAttributesRequest,
)
from temporalio.client import Client
from temporalio.common import SearchAttributeKey, SearchAttributePair, TypedSearchAttributes
from temporalio.service import RPCError, RPCStatusCode

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


STARTING = "starting"
"""`OpenAIRunStatus` of a run whose object is not created yet."""


def at_start(backend: str) -> TypedSearchAttributes:
    """The attributes a run starts with (backend, status "starting").

    Starters set them with the workflow's start, so the workflow does not have to upsert them:
    every upsert is another visibility write on the server.
    """
    return TypedSearchAttributes(
        [
            SearchAttributePair(OPENAI_BACKEND, backend),
            SearchAttributePair(OPENAI_RUN_STATUS, STARTING),
        ]
    )


def dev_server_args() -> list[str]:
    """`--search-attribute NAME=Keyword` arguments for `temporal server start-dev`."""
    args: list[str] = []
    for key in ALL_KEYS:
        args += ["--search-attribute", f"{key.name}=Keyword"]
    return args


class SearchAttributesMissingError(RuntimeError):
    """The namespace lacks our search attributes and they could not be registered."""


async def ensure_registered(client: Client) -> None:
    """Register any of our search attributes the client's namespace lacks.

    A workflow that upserts an unregistered attribute is stuck retrying its task, so the worker
    checks before it polls. Works on the dev server and self-hosted clusters; on Temporal Cloud
    register them with `tcld` (the error says which are missing).

    Raises:
        SearchAttributesMissingError: Some are missing and the server refused to add them.
    """
    namespace = client.namespace
    missing = [k.name for k in ALL_KEYS]
    try:
        listed = await client.operator_service.list_search_attributes(
            ListSearchAttributesRequest(namespace=namespace)
        )
        missing = [name for name in missing if name not in listed.custom_attributes]
    except RPCError as err:
        # The time-skipping test server cannot list them, but it can add them.
        if err.status != RPCStatusCode.UNIMPLEMENTED:
            raise
    if not missing:
        return
    try:
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(
                namespace=namespace,
                search_attributes=dict.fromkeys(
                    missing, IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD
                ),
            )
        )
    except RPCError as err:
        if err.status == RPCStatusCode.ALREADY_EXISTS:
            return
        raise SearchAttributesMissingError(
            f"namespace {namespace!r} lacks the Keyword search attributes {missing} and the server "
            f"refused to add them ({err.message}); register them, e.g. `temporal operator "
            f"search-attribute create --name {missing[0]} --type Keyword`"
        ) from err
