"""`durable-runs --help` and every subcommand's help, and the worker's missing-key exit."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from durable_runs.cli import main
from tests.cli.helpers import PROJECT_ROOT, cli_args

SUBCOMMANDS = [
    "dev",
    "worker",
    "bridge",
    "codec-server",
    "run",
    "status",
    "cancel",
    "list",
    "demo",
    "chat",
]


def test_top_level_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    """`durable-runs --help` names every subcommand."""
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for name in SUBCOMMANDS:
        assert name in out


@pytest.mark.parametrize("name", SUBCOMMANDS)
def test_subcommand_help(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Each subcommand's `--help` explains it (a description, not only the usage line)."""
    with pytest.raises(SystemExit) as exit_info:
        main([name, "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: durable-runs {name}")
    assert len(out.splitlines()) > 3


def test_emulator_help_as_its_own_command() -> None:
    """The emulator is its own package and command, not a subcommand of the product."""
    done = subprocess.run(
        [sys.executable, "-m", "durable_runs_emulator", "--help"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert done.stdout.startswith("usage: durable-runs-emulator")
    assert "--thread-run-webhooks" in done.stdout


def test_help_as_a_process() -> None:
    """`python -m durable_runs.cli --help` works as a real process (what the script runs)."""
    done = subprocess.run(
        cli_args("--help"), capture_output=True, text=True, timeout=30, cwd=PROJECT_ROOT
    )
    assert done.returncode == 0
    assert "durable-runs" in done.stdout


def test_no_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    """Without a subcommand argparse prints the usage and exits 2."""
    with pytest.raises(SystemExit) as exit_info:
        main([])
    assert exit_info.value.code == 2
    assert "usage: durable-runs" in capsys.readouterr().err


def test_worker_without_api_key_exits_at_once(tmp_path: Path) -> None:
    """`durable-runs worker` with no OPENAI_API_KEY: exits non-zero, naming the variable."""
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(PROJECT_ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "durable_runs.cli", "worker"],
        capture_output=True,
        text=True,
        timeout=30,
        env=env,
        cwd=str(tmp_path),
    )
    assert done.returncode != 0
    assert "OPENAI_API_KEY" in done.stderr
    assert "Traceback" not in done.stderr
