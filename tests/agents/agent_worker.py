"""A worker process with `DurableRunsAgentsPlugin` and the example agents (for the crash test).

Configured by the environment, like production: `TEMPORAL_ADDRESS`, `TEMPORAL_NAMESPACE`,
`DURABLE_RUNS_TASK_QUEUE`, `OPENAI_BASE_URL`, `OPENAI_API_KEY`.
"""

from __future__ import annotations

import asyncio

from openai import AsyncOpenAI
from temporalio.client import Client
from temporalio.worker import Worker

from durable_runs.agents import DurableRunsAgentsPlugin
from durable_runs.settings import Settings
from durable_runs.workflows.agents_example import AgentsExampleWorkflow
from tests.agents.conftest import FAST_POLL


async def main() -> None:
    """Run the worker until killed."""
    settings = Settings()
    key = settings.openai_api_key
    openai = AsyncOpenAI(
        base_url=settings.openai_base_url,
        api_key=key.get_secret_value() if key else None,
        max_retries=0,
    )
    plugin = DurableRunsAgentsPlugin(openai=openai, poll=FAST_POLL)
    client = await Client.connect(
        settings.temporal_address, namespace=settings.temporal_namespace, plugins=[plugin]
    )
    worker = Worker(client, task_queue=settings.task_queue, workflows=[AgentsExampleWorkflow])
    await worker.run()


if __name__ == "__main__":
    asyncio.run(main())
