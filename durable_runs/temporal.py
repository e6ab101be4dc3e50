"""Connecting to Temporal: Temporal's own env config plus our pydantic data converter."""

from __future__ import annotations

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.envconfig import ClientConfig

from durable_runs.settings import Settings


async def connect(settings: Settings, *, lazy: bool = False) -> Client:
    """Connect a Temporal client configured like the `temporal` CLI.

    Reads Temporal's env-config names (`TEMPORAL_ADDRESS`, `TEMPORAL_NAMESPACE`,
    `TEMPORAL_API_KEY`, `TEMPORAL_TLS*`, and a `temporal.toml` profile if present), so the same
    process works against a local dev server and Temporal Cloud.

    Args:
        settings: Address and namespace used when the environment names none.
        lazy: Connect on first use instead of now (the bridge starts even while Temporal is down).

    Returns:
        A client whose payloads are typed pydantic models.
    """
    config = ClientConfig.load_client_connect_config()
    # Settings read the same TEMPORAL_ADDRESS / TEMPORAL_NAMESPACE, and tests override them.
    config["target_host"] = settings.temporal_address
    config["namespace"] = settings.temporal_namespace
    return await Client.connect(**config, data_converter=pydantic_data_converter, lazy=lazy)
