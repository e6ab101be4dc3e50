"""durable-runs: OpenAI background responses (and Assistants runs) as durable Temporal workflows.

`from durable_runs import DurableRunsPlugin` adds everything to a Temporal client and worker of
your own; `durable_runs.client` starts, waits for, queries and cancels runs; `durable_runs.models`
holds the typed inputs and results.

The package root is the public front, not a layer: it names `DurableRunsPlugin` on first use
(PEP 562) instead of importing it here, because every module of the package runs this file
first, and the workflow sandbox re-imports the workflow modules for every run: an import of the
plugin here would pull the worker, the OpenAI client and every activity into each of them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from durable_runs.plugin import DurableRunsPlugin

__all__ = ["DurableRunsPlugin"]


def __getattr__(name: str) -> object:
    if name == "DurableRunsPlugin":
        from durable_runs.plugin import DurableRunsPlugin

        return DurableRunsPlugin
    raise AttributeError(f"module 'durable_runs' has no attribute {name!r}")
