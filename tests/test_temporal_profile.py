"""Where a client connects: the environment over a `temporal.toml` profile over the defaults."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.api.workflowservice.v1 import GetSystemInfoRequest
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from durable_runs.client import DurableRunsError, TemporalUnreachableError, connect_client
from durable_runs.processes import free_port
from durable_runs.settings import Settings
from durable_runs.temporal import TemporalConfigError, connect, connect_config

PROFILES = """
[profile.default]
address = "profile-host:7100"
namespace = "profile-ns"

[profile.other]
address = "other-host:7200"
"""

TEMPORAL_VARIABLES = (
    "TEMPORAL_ADDRESS",
    "TEMPORAL_NAMESPACE",
    "TEMPORAL_PROFILE",
    "TEMPORAL_CONFIG_FILE",
    "TEMPORAL_API_KEY",
    "TEMPORAL_TLS",
    "TEMPORAL_GRPC_META",
)


@pytest.fixture
def config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A `temporal.toml` named by `TEMPORAL_CONFIG_FILE`; no other Temporal variable set."""
    for name in TEMPORAL_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    path = tmp_path / "temporal.toml"
    path.write_text(PROFILES)
    monkeypatch.setenv("TEMPORAL_CONFIG_FILE", str(path))
    return path


def only_default_profile(path: Path, address: str) -> None:
    """Rewrite the config file: one `default` profile naming `address` (and no namespace)."""
    path.write_text(f'[profile.default]\naddress = "{address}"\n')


def from_env() -> Settings:
    """Settings read from the environment alone (no `.env` file)."""
    return Settings(_env_file=None)


def resolved(settings: Settings | None = None) -> tuple[str, str]:
    """Address and namespace a client of `settings` (default `from_env()`) connects to."""
    config = connect_config(settings or from_env())
    return config["target_host"], config["namespace"]


def test_the_profile_beats_the_defaults(config_file: Path) -> None:
    assert resolved() == ("profile-host:7100", "profile-ns")


def test_the_environment_beats_the_profile(
    config_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEMPORAL_ADDRESS", "env-host:7300")
    assert resolved() == ("env-host:7300", "profile-ns")
    monkeypatch.setenv("TEMPORAL_NAMESPACE", "env-ns")
    assert resolved() == ("env-host:7300", "env-ns")


def test_the_namespace_alone_from_the_environment(
    config_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEMPORAL_NAMESPACE", "env-ns")
    assert resolved() == ("profile-host:7100", "env-ns")


def test_temporal_profile_picks_a_profile_and_defaults_fill_its_gaps(
    config_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEMPORAL_PROFILE", "other")
    assert resolved() == ("other-host:7200", "default")


def test_settings_given_by_the_caller_win(config_file: Path) -> None:
    given = Settings(_env_file=None, TEMPORAL_ADDRESS="mine:1")
    assert resolved(given) == ("mine:1", "profile-ns")
    given = Settings(_env_file=None, temporal_namespace="ns")
    assert resolved(given) == ("profile-host:7100", "ns")


def test_without_a_config_file_the_defaults_apply(
    config_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEMPORAL_CONFIG_FILE", str(config_file.with_name("absent.toml")))
    assert resolved() == ("localhost:7233", "default")


async def test_an_unknown_profile_is_a_config_error_not_an_unreachable_server(
    config_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEMPORAL_PROFILE", "nope")
    with pytest.raises(TemporalConfigError, match="nope"):
        resolved()
    with pytest.raises(DurableRunsError, match="nope") as raised:
        await connect_client(from_env())
    assert not isinstance(raised.value, TemporalUnreachableError)


async def test_an_unreachable_server_names_the_address_it_tried(
    config_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    address = f"127.0.0.1:{free_port()}"
    only_default_profile(config_file, address)
    with pytest.raises(TemporalUnreachableError, match=f"cannot reach Temporal at {address}"):
        await connect_client(from_env())


async def test_connect_uses_the_profile(
    config_file: Path, temporal_env: WorkflowEnvironment
) -> None:
    """A real connection to the address only the profile names."""
    address = temporal_env.client.service_client.config.target_host
    only_default_profile(config_file, address)
    client = await connect(from_env())
    assert (client.service_client.config.target_host, client.namespace) == (address, "default")
    await client.workflow_service.get_system_info(GetSystemInfoRequest())
    assert client.data_converter is pydantic_data_converter
