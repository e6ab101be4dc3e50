"""Connecting to Temporal: Temporal's own env config plus our pydantic data converter."""

from __future__ import annotations

from collections.abc import Sequence

from temporalio.client import Client, Plugin
from temporalio.envconfig import ClientConfig, ClientConnectConfig
from temporalio.runtime import Runtime

from durable_runs.payloads import data_converter
from durable_runs.settings import Settings


class TemporalConfigError(ValueError):
    """Temporal's client config cannot be read (e.g. `TEMPORAL_PROFILE` names no profile)."""


def connect_config(settings: Settings) -> ClientConnectConfig:
    """The keyword arguments of `Client.connect` for `settings`, the environment and profile.

    Temporal's env config reads the `temporal.toml` profile (`TEMPORAL_PROFILE` of
    `TEMPORAL_CONFIG_FILE`, else the `default` profile at Temporal's default location) with
    `TEMPORAL_*` variables over it (`TEMPORAL_API_KEY`, `TEMPORAL_TLS*`, ...). The address and
    namespace are then: the settings' field when set (by the environment, `.env` or the caller),
    else the profile's, else the settings' default.

    Args:
        settings: Address, namespace, profile name and config file.

    Returns:
        `target_host`, `namespace`, and whatever the profile or environment adds (API key, TLS,
        gRPC metadata).

    Raises:
        TemporalConfigError: The config file or the named profile cannot be read.
    """
    try:
        config = ClientConfig.load_client_connect_config(
            profile=settings.temporal_profile, config_file=settings.temporal_config_file
        )
    except RuntimeError as err:  # the SDK's config errors derive from RuntimeError
        raise TemporalConfigError(f"cannot read Temporal's client config: {err}") from err
    chosen = settings.model_fields_set
    if "temporal_address" in chosen or "target_host" not in config:
        config["target_host"] = settings.temporal_address
    if "temporal_namespace" in chosen or "namespace" not in config:
        config["namespace"] = settings.temporal_namespace
    return config


async def connect(
    settings: Settings,
    *,
    lazy: bool = False,
    plugins: Sequence[Plugin] = (),
    runtime: Runtime | None = None,
) -> Client:
    """Connect a Temporal client configured like the `temporal` CLI (see `connect_config`).

    The same process works against a local dev server and Temporal Cloud.

    Args:
        settings: Address and namespace (see `connect_config` for their precedence).
        lazy: Connect on first use instead of now (the bridge starts even while Temporal is down).
        plugins: Client plugins. The pydantic data converter is passed as the client's
            converter; a plugin's `configure_client` runs after that and may replace it.
        runtime: Temporal runtime (telemetry: `durable_runs.telemetry.metrics`); the
            process's default runtime when None.

    Returns:
        A client whose payloads are typed pydantic models (unless a plugin says otherwise).

    Raises:
        TemporalConfigError: Temporal's client config cannot be read.
        RuntimeError: The connection failed (not raised when `lazy`).
    """
    return await Client.connect(
        **connect_config(settings),
        data_converter=data_converter(settings),
        plugins=plugins,
        lazy=lazy,
        runtime=runtime,
    )
