"""Helpers for CLI tests: run `durable-runs` in-process (in a thread) or as a subprocess."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

from durable_runs.cli import main
from durable_runs.settings import get_settings

PROJECT_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class CliResult:
    """Exit code and captured output of one CLI call."""

    code: int
    out: str
    err: str


async def cli(argv: Sequence[str], capsys: pytest.CaptureFixture[str]) -> CliResult:
    """Run `durable-runs ARGV` in-process.

    The CLI calls `asyncio.run`, so it runs in a worker thread, beside the test's event loop
    (which keeps serving the fixtures' worker and emulator).
    """
    capsys.readouterr()
    get_settings.cache_clear()
    try:
        code = await asyncio.to_thread(main, list(argv))
    finally:
        get_settings.cache_clear()
    captured = capsys.readouterr()
    return CliResult(code=code, out=captured.out, err=captured.err)


def port_open(port: int) -> bool:
    """True when something accepts connections on 127.0.0.1:port."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def subprocess_env(**extra: str) -> dict[str, str]:
    """The environment for a `python -m durable_runs.cli` child: ours, plus the project path."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(PROJECT_ROOT)
    env.update(extra)
    return env


def cli_args(*argv: str) -> list[str]:
    """Command line of `durable-runs ARGV` as a child process."""
    return [sys.executable, "-m", "durable_runs.cli", *argv]


def processes_with_env(name: str, value: str) -> list[psutil.Process]:
    """Live processes whose environment holds `name=value` (children inherit it)."""
    found: list[psutil.Process] = []
    for process in psutil.process_iter():
        try:
            if process.environ().get(name) == value and process.status() != "zombie":
                found.append(process)
        except (psutil.AccessDenied, psutil.NoSuchProcess, psutil.ZombieProcess):
            continue
    return found


@contextmanager
def env_vars(monkeypatch: pytest.MonkeyPatch, **values: str | None) -> Iterator[None]:
    """Set (or, with None, remove) environment variables for the block."""
    with monkeypatch.context() as patch:
        for key, value in values.items():
            if value is None:
                patch.delenv(key, raising=False)
            else:
                patch.setenv(key, value)
        yield
