"""Tools for crash tests, loaded by worker subprocesses through `DURABLE_RUNS_TOOLS`.

They answer like the demo tools (so the emulator's weather brain works) and keep a ledger in the
directory named by `CRASH_LEDGER_DIR`:

- `invocations.jsonl`: one line per raw invocation phase (`started`, `applied`, `done`), with the
  pid: shows at-least-once execution across crashes.
- `effects/<digest>`: one file per idempotency key, holding the effect, published atomically
  (`link`). A retried call with the same key applies nothing.

`CRASH_TOOL_MODE` chooses how this process's tools behave:

- `run` (default): apply the effect and answer.
- `block`: record `started`, then block (until `CRASH_LEDGER_DIR/release` exists, at most
  `BLOCK_BOUND_S`) before the effect, so the test can kill the worker inside the tool.
- `die_after_effect`: apply the effect, record `applied`, then SIGKILL this very process: the
  effect happened but the activity's output never reaches Temporal.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

from durable_runs.activities import demo_tools
from durable_runs.activities.tools import ToolRegistry

LEDGER_ENV = "CRASH_LEDGER_DIR"
MODE_ENV = "CRASH_TOOL_MODE"
BLOCK_BOUND_S = 120.0
"""A blocked tool gives up after this long (the test kills it well before)."""


class Ledger:
    """The on-disk record of tool invocations and effects (shared by processes)."""

    def __init__(self, directory: Path) -> None:
        """Args: directory: the ledger directory (created if missing)."""
        self.directory = directory
        (directory / "effects").mkdir(parents=True, exist_ok=True)

    @classmethod
    def from_env(cls) -> Ledger:
        """The ledger named by `CRASH_LEDGER_DIR`."""
        return cls(Path(os.environ[LEDGER_ENV]))

    def _append(self, name: str, record: dict[str, Any]) -> None:
        line = (json.dumps(record) + "\n").encode()
        fd = os.open(self.directory / name, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            os.write(fd, line)  # one small O_APPEND write: atomic between processes
        finally:
            os.close(fd)

    def record(self, tool: str, key: str, phase: str) -> None:
        """Append one raw invocation phase."""
        self._append(
            "invocations.jsonl",
            {"tool": tool, "key": key, "phase": phase, "pid": os.getpid(), "at": time.time()},
        )

    def apply_effect(self, tool: str, key: str, value: Any) -> bool:
        """Apply the tool's effect once per key; True when this call applied it.

        The effect is one file per key, published whole by `link` (atomic, and it fails when
        the key already has one), so a process killed at any instant leaves no half effect.
        """
        effects = self.directory / "effects"
        final = effects / hashlib.sha256(key.encode()).hexdigest()
        draft = effects / f".draft-{os.getpid()}-{threading.get_ident()}"
        draft.write_text(json.dumps({"tool": tool, "key": key, "value": value}))
        try:
            os.link(draft, final)
        except FileExistsError:
            return False
        finally:
            draft.unlink()
        return True

    def _read(self, name: str) -> list[dict[str, Any]]:
        path = self.directory / name
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line]

    def invocations(self, phase: str | None = None) -> list[dict[str, Any]]:
        """Raw invocation records, optionally of one phase."""
        records = self._read("invocations.jsonl")
        return [r for r in records if phase is None or r["phase"] == phase]

    def effects(self) -> list[dict[str, Any]]:
        """Effects applied (one per key when idempotency holds)."""
        published = sorted((self.directory / "effects").glob("[!.]*"), key=os.path.getmtime)
        return [json.loads(path.read_text()) for path in published]

    def release(self) -> None:
        """Let blocked tools go on."""
        (self.directory / "release").touch()

    @property
    def released(self) -> bool:
        """True once `release()` was called."""
        return (self.directory / "release").exists()


def _call(tool: str, key: str, value: Any) -> Any:
    ledger = Ledger.from_env()
    mode = os.environ.get(MODE_ENV, "run")
    ledger.record(tool, key, "started")
    if mode == "block":
        deadline = time.monotonic() + BLOCK_BOUND_S
        while not ledger.released and time.monotonic() < deadline:
            time.sleep(0.05)  # a slow tool: the crash test kills the process meanwhile
    ledger.apply_effect(tool, key, value)
    ledger.record(tool, key, "applied")
    if mode == "die_after_effect":
        os.kill(os.getpid(), signal.SIGKILL)
    ledger.record(tool, key, "done")
    return value


def get_weather(city: str, idempotency_key: str) -> dict[str, object]:
    """Current weather for a city: temperature in Celsius and conditions."""
    return dict(_call("get_weather", idempotency_key, demo_tools.get_weather(city)))


def celsius_to_fahrenheit(celsius: float, idempotency_key: str) -> dict[str, float]:
    """Convert a temperature from Celsius to Fahrenheit."""
    value = demo_tools.celsius_to_fahrenheit(celsius)
    return dict(_call("celsius_to_fahrenheit", idempotency_key, value))


def refund_order(order_id: str, amount: float, idempotency_key: str) -> dict[str, object]:
    """Refund an order; a person approves it first."""
    return dict(_call("refund_order", idempotency_key, {"order_id": order_id, "amount": amount}))


def registry() -> ToolRegistry:
    """The crash tools, under the demo tools' names."""
    tools = ToolRegistry()
    tools.register(get_weather)
    tools.register(celsius_to_fahrenheit)
    tools.register(refund_order, requires_approval=True)
    return tools


def weather_answer(cities: list[str]) -> str:
    """The answer the emulator's brain gives for these cities in Fahrenheit (two tool rounds)."""
    parts = []
    for city in cities:
        report = demo_tools.get_weather(city)
        celsius = report["celsius"]
        assert isinstance(celsius, float)
        fahrenheit = demo_tools.celsius_to_fahrenheit(celsius)["fahrenheit"]
        shown = int(fahrenheit) if fahrenheit == int(fahrenheit) else fahrenheit
        parts.append(f"{city}: {shown}°F, {report['conditions']}")
    return "; ".join(parts)
