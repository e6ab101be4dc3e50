"""docker-compose.yml: the production stack is complete, and its setup job really works.

No Docker engine is needed: the file is parsed with pyyaml, and the one-shot job's script
(which registers the search attributes) is run with the real `temporal` CLI against a real dev
server started without them.
"""

from __future__ import annotations

import asyncio
import os
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
from temporalio.testing import WorkflowEnvironment

from durable_runs.devserver import temporal_cli
from durable_runs.search_attributes import ALL_KEYS

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = ROOT / "docker-compose.yml"
SETUP_JOB = "temporal-admin-tools"


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    """The parsed compose file."""
    data = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(data, dict)
    return data


def _services(compose: dict[str, Any]) -> dict[str, Any]:
    services = compose["services"]
    assert isinstance(services, dict)
    return services


def _depends_on(service: dict[str, Any]) -> set[str]:
    depends = service.get("depends_on", [])
    return set(depends) if isinstance(depends, list | dict) else set()


def _setup_script(compose: dict[str, Any]) -> str:
    command = _services(compose)[SETUP_JOB]["command"]
    script = command[-1] if isinstance(command, list) else command
    assert isinstance(script, str)
    return script


def test_services_exist(compose: dict[str, Any]) -> None:
    services = _services(compose)
    assert {"postgres", "temporal", "temporal-ui", SETUP_JOB, "worker", "bridge"} <= set(services)
    assert services["temporal"]["environment"]["POSTGRES_SEEDS"] == "postgres"
    assert "postgres" in _depends_on(services["temporal"])
    assert "temporal" in _depends_on(services["temporal-ui"])


def test_search_attributes_are_registered_with_our_names(compose: dict[str, Any]) -> None:
    script = _setup_script(compose)
    assert "temporal operator search-attribute create" in script
    names = set(re.findall(r"\bOpenAI\w+", script))
    assert names == {key.name for key in ALL_KEYS}
    assert "--type Keyword" in script


@pytest.mark.parametrize("name", ["worker", "bridge"])
def test_worker_and_bridge_run_our_image_against_temporal(
    compose: dict[str, Any], name: str
) -> None:
    service = _services(compose)[name]
    assert service["build"] == "."
    depends = service["depends_on"]
    assert "temporal" in depends
    # They start once the search attributes exist (the workflow upserts them on its first task).
    assert depends[SETUP_JOB]["condition"] == "service_completed_successfully"
    env = service["environment"]
    assert env["TEMPORAL_ADDRESS"] == "temporal:7233"
    for variable in ("OPENAI_API_KEY", "OPENAI_WEBHOOK_SECRET", "DURABLE_RUNS_BACKEND"):
        assert variable in env
    # Runs default to the backend api.openai.com serves.
    assert env["DURABLE_RUNS_BACKEND"] == "${DURABLE_RUNS_BACKEND:-responses}"


def test_commands(compose: dict[str, Any]) -> None:
    services = _services(compose)
    assert services["worker"]["command"] == ["worker"]
    assert services["bridge"]["command"] == ["bridge", "--host", "0.0.0.0", "--port", "8000"]


def test_bridge_exposes_8000(compose: dict[str, Any]) -> None:
    ports = [str(port) for port in _services(compose)["bridge"]["ports"]]
    assert any(port.endswith(":8000") or port == "8000" for port in ports)


def test_dockerfile_installs_the_project_and_runs_the_cli() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^RUN pip install -c constraints\.txt \.", dockerfile, re.MULTILINE)
    assert 'ENTRYPOINT ["durable-runs"]' in dockerfile
    copied = set(re.findall(r"^COPY (\S+) ", dockerfile, re.MULTILINE))
    # What the wheel is built from (tests/test_packaging.py builds it from these alone).
    assert {"durable_runs", "workflows", "activities"} <= copied
    assert re.search(r"^COPY .*\bconstraints\.txt\b", dockerfile, re.MULTILINE)


def test_the_image_installs_pinned_versions_of_every_runtime_dependency() -> None:
    """Each runtime dependency of the package, and its extras' packages, is pinned in
    constraints.txt, which the image installs with."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    pins = {
        canonical(line.split("==")[0])
        for line in (ROOT / "constraints.txt").read_text().splitlines()
        if "==" in line and not line.startswith("#")
    }
    wanted = {
        canonical(re.split(r"[\[<>=!;~ ]", d, maxsplit=1)[0])
        for d in pyproject["project"]["dependencies"]
    }
    assert wanted and wanted <= pins, sorted(wanted - pins)


def test_the_build_context_leaves_out_what_the_image_does_not_need() -> None:
    ignored = set((ROOT / ".dockerignore").read_text().split())
    assert {".git", ".venv", "tests", "emulator", "docs", "bench"} <= ignored
    copied = set(re.findall(r"^COPY (\S+) ", (ROOT / "Dockerfile").read_text(), re.MULTILINE))
    assert not copied & ignored  # nothing the image copies is left out of the context


def canonical(name: str) -> str:
    """A distribution name as pip compares them (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


async def test_setup_job_registers_the_attributes_on_a_real_server(
    compose: dict[str, Any], tmp_path: Path
) -> None:
    """Run the job's script (compose's `$$` unescaped) with the real CLI, twice (idempotent)."""
    script = _setup_script(compose).replace("$$", "$")
    async with await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(temporal_cli()), dev_server_log_level="error"
    ) as env:
        target = env.client.service_client.config.target_host
        path_env = f"{temporal_cli().parent}{os.pathsep}{os.environ.get('PATH', '')}"
        child_env = {
            **os.environ,
            "PATH": path_env,
            "TEMPORAL_ADDRESS": target,
            "TEMPORAL_NAMESPACE": "default",
        }
        for _ in range(2):
            process = await asyncio.create_subprocess_exec(
                "/bin/sh",
                "-c",
                script,
                env=child_env,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
            )
            output, _ = await asyncio.wait_for(process.communicate(), timeout=60)
            assert process.returncode == 0, output.decode()
        listed = await env.client.operator_service.list_search_attributes(
            ListSearchAttributesRequest(namespace="default")
        )
    for key in ALL_KEYS:
        assert listed.custom_attributes.get(key.name) == IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD
