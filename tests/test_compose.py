"""The compose files: a real Compose implementation accepts them, they hold what an operator needs,
and their one-shot Temporal jobs really work.

No Docker engine runs here. `docker-compose config` (Debian's package, installed by
`make compose-tool`) validates each file and combination against the Compose schema, the
depends_on graph and the required variables, and prints the resolved model the other tests read;
planted faults show that it rejects a broken file. The namespace and search-attribute jobs' scripts
run with the real `temporal` CLI against a real dev server.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import tomllib
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from durable_runs.devserver import temporal_cli
from durable_runs.search_attributes import ALL_KEYS

ROOT = Path(__file__).resolve().parent.parent
LOCAL = "docker-compose.yml"
CLOUD = "docker-compose.cloud.yml"
WEBHOOKS = "docker-compose.webhooks.yml"
PUBLISH_GRPC = "deploy/publish-temporal-grpc.yml"
SEARCH_ATTRIBUTE_JOB = "temporal-admin-tools"
NAMESPACE_JOB = "temporal-namespace"
INSTALL_HINT = "`make test` installs it: make compose-tool (Debian's docker-compose)"

BASE_ENV = {"OPENAI_API_KEY": "sk-test"}
WEBHOOK_ENV = {**BASE_ENV, "OPENAI_WEBHOOK_SECRET": "whsec_dGVzdA=="}
CLOUD_ENV = {
    **BASE_ENV,
    "TEMPORAL_ADDRESS": "ns.acct.tmprl.cloud:7233",
    "TEMPORAL_NAMESPACE": "ns.acct",
    "TEMPORAL_API_KEY": "cloud-key",
}
OPERATOR_SETTINGS = {
    "DURABLE_RUNS_LOG_FORMAT",
    "OTEL_TRACES_EXPORTER",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_SERVICE_NAME",
    "DURABLE_RUNS_CODEC_KEYS",
    "DURABLE_RUNS_PAYLOAD_BUCKET",
    "AWS_ENDPOINT_URL_S3",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
}
"""What every process that reads or writes payloads needs (encryption, storage, telemetry)."""


def compose_tool() -> str:
    """The `docker-compose` executable, or a failure naming how to install it (never a skip)."""
    found = shutil.which("docker-compose")
    if found is None:
        pytest.fail(f"docker-compose is missing: {INSTALL_HINT}")
    return found


def compose_config(
    files: Sequence[str],
    env: dict[str, str],
    *,
    profiles: Sequence[str] = (),
    cwd: Path = ROOT,
) -> subprocess.CompletedProcess[str]:
    """Run `docker-compose config` in a clean environment (nothing leaks in from the shell)."""
    args = [compose_tool()]
    for name in files:
        args += ["-f", name]
    for profile in profiles:
        args += ["--profile", profile]
    clean = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp"), **env}
    return subprocess.run(
        [*args, "config"], cwd=cwd, env=clean, capture_output=True, text=True, timeout=60
    )


def resolved(files: Sequence[str], env: dict[str, str], **kwargs: Any) -> dict[str, Any]:
    """The resolved model of `files`, which must be valid."""
    result = compose_config(files, env, **kwargs)
    assert result.returncode == 0, result.stderr
    model = yaml.safe_load(result.stdout)
    assert isinstance(model, dict)
    services = model["services"]
    assert isinstance(services, dict)
    return services


VALID = [
    pytest.param([LOCAL], BASE_ENV, (), id="self-hosted, polling only, no webhook secret"),
    pytest.param([LOCAL], BASE_ENV, ("codec",), id="self-hosted + codec profile"),
    pytest.param([LOCAL, WEBHOOKS], WEBHOOK_ENV, (), id="self-hosted + webhooks"),
    pytest.param([LOCAL, PUBLISH_GRPC], BASE_ENV, (), id="self-hosted + published gRPC"),
    pytest.param([CLOUD], CLOUD_ENV, ("codec",), id="cloud + codec profile"),
    pytest.param([CLOUD, WEBHOOKS], {**CLOUD_ENV, **WEBHOOK_ENV}, (), id="cloud + webhooks"),
]


@pytest.mark.parametrize(("files", "env", "profiles"), VALID)
def test_a_real_compose_accepts_every_variant(
    files: list[str], env: dict[str, str], profiles: tuple[str, ...]
) -> None:
    result = compose_config(files, env, profiles=profiles)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("files", "env", "missing"),
    [
        pytest.param([LOCAL], {}, "OPENAI_API_KEY", id="api key"),
        pytest.param([LOCAL, WEBHOOKS], BASE_ENV, "OPENAI_WEBHOOK_SECRET", id="webhook secret"),
        pytest.param(
            [CLOUD], {**CLOUD_ENV, "TEMPORAL_ADDRESS": ""}, "TEMPORAL_ADDRESS", id="cloud address"
        ),
        pytest.param(
            [CLOUD], {**CLOUD_ENV, "TEMPORAL_NAMESPACE": ""}, "TEMPORAL_NAMESPACE", id="namespace"
        ),
    ],
)
def test_a_missing_required_variable_stops_compose(
    files: list[str], env: dict[str, str], missing: str
) -> None:
    result = compose_config(files, {k: v for k, v in env.items() if v})
    assert result.returncode != 0
    assert missing in result.stderr


@pytest.mark.parametrize(
    ("original", "planted", "named"),
    [
        pytest.param(
            "    stop_grace_period:", "    stop_grace_perod:", "stop_grace_perod", id="key"
        ),
        pytest.param(
            "      temporal-namespace:\n        condition",
            "      temporal-namespaces:\n        condition",
            "temporal-namespaces",
            id="unknown dependency",
        ),
        pytest.param(
            "condition: service_completed_successfully",
            "condition: service_finished",
            "service_finished",
            id="bad condition",
        ),
        pytest.param(
            "replicas: ${DURABLE_RUNS_WORKERS:-2}",
            "replicas: ${DURABLE_RUNS_WORKERS:-two}",
            "two",
            id="bad type",
        ),
    ],
)
def test_the_check_catches_a_planted_fault(
    tmp_path: Path, original: str, planted: str, named: str
) -> None:
    """The same check on a copy of the file with one fault fails and names the fault."""
    text = (ROOT / LOCAL).read_text()
    assert original in text
    (tmp_path / LOCAL).write_text(text.replace(original, planted))
    shutil.copytree(ROOT / "deploy", tmp_path / "deploy")
    result = compose_config([LOCAL], BASE_ENV, cwd=tmp_path)
    assert result.returncode != 0
    assert named in result.stderr
    # The unchanged copy passes: the failure is the fault's, not the copy's.
    (tmp_path / LOCAL).write_text(text)
    assert compose_config([LOCAL], BASE_ENV, cwd=tmp_path).returncode == 0


@pytest.fixture(scope="module")
def local() -> dict[str, Any]:
    """The self-hosted stack, resolved, with the codec profile."""
    return resolved([LOCAL], BASE_ENV, profiles=("codec",))


@pytest.fixture(scope="module")
def webhooks() -> dict[str, Any]:
    """The self-hosted stack with the webhook bridges."""
    return resolved([LOCAL, WEBHOOKS], WEBHOOK_ENV)


@pytest.fixture(scope="module")
def cloud() -> dict[str, Any]:
    """The Temporal Cloud stack with the webhook bridges and the codec profile."""
    return resolved([CLOUD, WEBHOOKS], {**CLOUD_ENV, **WEBHOOK_ENV}, profiles=("codec",))


def _depends(service: dict[str, Any]) -> dict[str, str]:
    return {name: dep["condition"] for name, dep in service.get("depends_on", {}).items()}


def test_self_hosted_temporal_is_built_like_temporals_samples(local: dict[str, Any]) -> None:
    assert set(local) == {
        "postgres",
        "temporal-schema",
        "temporal",
        NAMESPACE_JOB,
        SEARCH_ATTRIBUTE_JOB,
        "temporal-ui",
        "worker",
        "codec-server",
    }
    server_tag = local["temporal"]["image"].removeprefix("temporalio/server:")
    assert re.fullmatch(r"1\.\d+\.\d+", server_tag)
    for job in ("temporal-schema", NAMESPACE_JOB, SEARCH_ATTRIBUTE_JOB):
        assert local[job]["image"] == f"temporalio/admin-tools:{server_tag}"
    schema_script = local["temporal-schema"]["command"][-1]
    for step in ("create", "setup-schema -v 0.0", "update-schema -d"):
        assert step in schema_script
    assert "--plugin postgres12" in schema_script and "visibility" in schema_script
    assert local["temporal"]["environment"]["DB"] == "postgres12"
    assert local["temporal"]["environment"]["POSTGRES_SEEDS"] == "postgres"
    # Ordered by health and by finished jobs, not by start order.
    assert _depends(local["temporal-schema"]) == {"postgres": "service_healthy"}
    assert _depends(local["temporal"]) == {"temporal-schema": "service_completed_successfully"}
    assert _depends(local[NAMESPACE_JOB]) == {"temporal": "service_healthy"}
    assert _depends(local[SEARCH_ATTRIBUTE_JOB]) == {
        NAMESPACE_JOB: "service_completed_successfully"
    }
    assert _depends(local["temporal-ui"]) == {"temporal": "service_healthy"}
    # The workers start once the search attributes exist (a run upserts them on its first task).
    assert _depends(local["worker"]) == {
        "temporal": "service_healthy",
        SEARCH_ATTRIBUTE_JOB: "service_completed_successfully",
    }
    for name in ("postgres", "temporal", "codec-server"):
        assert local[name]["healthcheck"]["test"]
    assert "auto-setup" not in (ROOT / LOCAL).read_text()


def _port(port: str | dict[str, Any]) -> str:
    """`host_ip:published:target/protocol`, from the short or the long syntax."""
    if isinstance(port, str):
        return port
    return f"{port['host_ip']}:{port['published']}:{port['target']}/{port['protocol']}"


def _published(services: dict[str, Any]) -> dict[str, list[str]]:
    return {name: [_port(p) for p in s.get("ports", [])] for name, s in services.items()}


@pytest.mark.parametrize(("files", "env", "profiles"), VALID)
def test_every_published_port_is_on_localhost_unless_opted_in(
    files: list[str], env: dict[str, str], profiles: tuple[str, ...]
) -> None:
    ports = _published(resolved(files, env, profiles=profiles))
    assert all(p.startswith("127.0.0.1:") for published in ports.values() for p in published)
    assert ports.get("temporal", []) == (
        ["127.0.0.1:7233:7233/tcp"] if PUBLISH_GRPC in files else []
    )
    opted_in = _published(resolved(files, {**env, "DURABLE_RUNS_BIND": "0.0.0.0"}))
    assert all(p.startswith("0.0.0.0:") for published in opted_in.values() for p in published)


def test_workers_scale_and_get_every_operator_setting(local: dict[str, Any]) -> None:
    worker = local["worker"]
    assert worker["command"] == ["worker"]
    assert worker["build"]["context"] == str(ROOT)
    assert worker["deploy"]["replicas"] >= 2
    assert "ports" not in worker  # metrics on the compose network only
    env = worker["environment"]
    assert env["TEMPORAL_ADDRESS"] == "temporal:7233"
    assert env["DURABLE_RUNS_BACKEND"] == "responses"
    assert OPERATOR_SETTINGS | {"DURABLE_RUNS_METRICS_BIND"} <= set(env)
    # An empty TEMPORAL_API_KEY would turn TLS on against the local plain-text server.
    assert "TEMPORAL_API_KEY" not in env
    grace = float(env["DURABLE_RUNS_SHUTDOWN_GRACE_S"])
    assert _seconds(worker["stop_grace_period"]) > grace
    # Unset optional settings stay unset in the container rather than empty.
    assert env.get("DURABLE_RUNS_CODEC_KEYS") is None


def _seconds(duration: str) -> float:
    match = re.fullmatch(r"(\d+)(s|m)", duration)
    assert match, duration
    return int(match[1]) * (60 if match[2] == "m" else 1)


def test_polling_only_starts_no_bridge(local: dict[str, Any]) -> None:
    assert not any("bridge" in s.get("command", []) for s in local.values())
    assert "OPENAI_WEBHOOK_SECRET" not in local["worker"]["environment"]


def test_webhooks_run_several_bridges_behind_a_load_balancer(webhooks: dict[str, Any]) -> None:
    bridge, balancer = webhooks["bridge"], webhooks["webhooks-lb"]
    assert bridge["command"] == ["bridge", "--host", "0.0.0.0", "--port", "8000"]
    assert bridge["deploy"]["replicas"] >= 2
    assert "ports" not in bridge  # only the balancer is published
    assert "/readyz" in " ".join(bridge["healthcheck"]["test"])
    assert bridge["environment"]["OPENAI_WEBHOOK_SECRET"] == WEBHOOK_ENV["OPENAI_WEBHOOK_SECRET"]
    assert bridge["environment"]["TEMPORAL_ADDRESS"] == "temporal:7233"
    assert OPERATOR_SETTINGS <= set(bridge["environment"])
    assert _depends(balancer) == {"bridge": "service_healthy"}
    assert balancer["image"].startswith("nginx:")
    assert [_port(p) for p in balancer["ports"]] == ["127.0.0.1:8000:8000/tcp"]
    mounts = [str(v) for v in balancer["volumes"]]
    assert any("deploy/nginx.conf:/etc/nginx/nginx.conf" in m for m in mounts)
    conf = (ROOT / "deploy" / "nginx.conf").read_text()
    assert re.search(r"server bridge:8000 resolve;", conf)
    assert "location = /webhooks/openai" in conf


def test_cloud_runs_only_our_services_with_the_operators_address_and_key(
    cloud: dict[str, Any],
) -> None:
    assert set(cloud) == {"worker", "bridge", "webhooks-lb", "codec-server"}
    for name in ("worker", "bridge"):
        env = cloud[name]["environment"]
        assert env["TEMPORAL_ADDRESS"] == CLOUD_ENV["TEMPORAL_ADDRESS"]
        assert env["TEMPORAL_NAMESPACE"] == CLOUD_ENV["TEMPORAL_NAMESPACE"]
        assert env["TEMPORAL_API_KEY"] == CLOUD_ENV["TEMPORAL_API_KEY"]
        # mTLS instead: the paths name the mounted certificate directory.
        assert {"TEMPORAL_TLS_CLIENT_CERT_PATH", "TEMPORAL_TLS_CLIENT_KEY_PATH"} <= set(env)
        assert any("/run/secrets/temporal-tls" in str(v) for v in cloud[name]["volumes"])
    text = (ROOT / CLOUD).read_text()
    assert "tmprl.cloud:7233}" not in text  # no address hard-coded as a default
    assert "tcld namespace search-attributes add" in text


def test_cloud_and_self_hosted_workers_get_the_same_settings(
    local: dict[str, Any], cloud: dict[str, Any]
) -> None:
    tls = {k for k in cloud["worker"]["environment"] if k.startswith("TEMPORAL_TLS")}
    assert set(cloud["worker"]["environment"]) - tls - {"TEMPORAL_API_KEY"} == set(
        local["worker"]["environment"]
    )
    assert cloud["worker"]["command"] == local["worker"]["command"]
    assert cloud["codec-server"]["command"] == local["codec-server"]["command"]


def test_the_ui_decrypts_through_the_codec_server(local: dict[str, Any]) -> None:
    assert "TEMPORAL_CODEC_ENDPOINT" in local["temporal-ui"]["environment"]
    codec = local["codec-server"]
    assert codec["command"][0] == "codec-server"
    assert codec["environment"]["DURABLE_RUNS_CODEC_CORS_ORIGINS"] == "http://localhost:8080"
    assert codec["profiles"] == ["codec"]


def test_the_image_installs_runtime_dependencies_only_as_a_non_root_user() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    install = re.search(r"^RUN pip install (.*)$", dockerfile, re.MULTILINE)
    assert install is not None
    assert install[1].startswith("-c constraints.txt . ")  # no extras: no dev or test tools
    assert "[" not in install[1]
    assert re.search(r"^USER (?!root)\w+", dockerfile, re.MULTILINE)
    assert 'ENTRYPOINT ["durable-runs"]' in dockerfile
    copied = set(re.findall(r"^COPY (\S+) ", dockerfile, re.MULTILINE))
    # What the wheel is built from (tests/test_packaging.py builds it from these alone).
    assert {"durable_runs", "workflows", "activities"} <= copied
    assert re.search(r"^COPY .*\bconstraints\.txt\b", dockerfile, re.MULTILINE)


def test_the_image_installs_pinned_versions_of_every_runtime_dependency() -> None:
    """Each runtime dependency of the package is pinned in constraints.txt, which the image
    installs with."""
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
    assert {".git", ".venv", ".env", "tests", "emulator", "docs", "bench", "deploy"} <= ignored
    copied = set(re.findall(r"^COPY (\S+) ", (ROOT / "Dockerfile").read_text(), re.MULTILINE))
    assert not copied & ignored  # nothing the image copies is left out of the context


def canonical(name: str) -> str:
    """A distribution name as pip compares them (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


@pytest.fixture(scope="module")
async def dev_server() -> AsyncIterator[Client]:
    """A real dev server, without our search attributes."""
    async with await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(temporal_cli()), dev_server_log_level="error"
    ) as env:
        yield env.client


async def _run_job(local: dict[str, Any], job: str, client: Client, namespace: str) -> None:
    """Run a job's script (compose's `$$` unescaped) with the real CLI, twice (idempotent)."""
    # `config` prints `$$` as written (its output is a compose file too): unescape as `up` does.
    script = local[job]["command"][-1].replace("$$", "$")
    child_env = {
        **os.environ,
        "PATH": f"{temporal_cli().parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "TEMPORAL_ADDRESS": client.service_client.config.target_host,
        "TEMPORAL_NAMESPACE": namespace,
        "TEMPORAL_RETENTION": local[job]["environment"].get("TEMPORAL_RETENTION", ""),
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


async def test_namespace_job_creates_the_namespace_with_its_retention(
    local: dict[str, Any], dev_server: Client
) -> None:
    await _run_job(local, NAMESPACE_JOB, dev_server, "compose-ns")
    described = await dev_server.workflow_service.describe_namespace(
        DescribeNamespaceRequest(namespace="compose-ns")
    )
    assert described.config.workflow_execution_retention_ttl.ToSeconds() == 7 * 24 * 3600


async def test_search_attribute_job_registers_our_attributes(
    local: dict[str, Any], dev_server: Client
) -> None:
    script = local[SEARCH_ATTRIBUTE_JOB]["command"][-1]
    assert set(re.findall(r"\bOpenAI\w+", script)) == {key.name for key in ALL_KEYS}
    await _run_job(local, SEARCH_ATTRIBUTE_JOB, dev_server, "default")
    listed = await dev_server.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace="default")
    )
    for key in ALL_KEYS:
        assert listed.custom_attributes.get(key.name) == IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD
