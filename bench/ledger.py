"""The soak's tool: a side effect made idempotent by a ledger keyed by `idempotency_key`.

The soak's worker subprocess loads `bench.ledger:ledger_registry` (`DURABLE_RUNS_TOOLS`); the
ledger is a SQLite file named by `BENCH_LEDGER`, so it outlives killed workers. Every call is
an `attempts` row (with the worker's pid, and `finished` once its work is done); every
application of the effect is an `applications` row. The idempotent tool applies the effect only
when its key is new in `keys`, in the same transaction; `non_idempotent_registry` plants a tool
that applies it on every attempt, so the soak's check can be shown to catch a doubled effect.

The effect is applied first, then the tool works for `work_s(item)` (0.3–1 s), so a worker kill
often lands while a tool runs: the retried attempt then finds its effect already applied.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import time
import zlib
from dataclasses import dataclass
from pathlib import Path

from durable_runs.activities.tools import ToolRegistry

LEDGER_ENV = "BENCH_LEDGER"
TOOL_NAME = "record_effect"

SCHEMA = """
CREATE TABLE IF NOT EXISTS attempts (
    key TEXT NOT NULL, item TEXT NOT NULL, pid INTEGER NOT NULL, at REAL NOT NULL, finished REAL
);
CREATE TABLE IF NOT EXISTS keys (key TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS applications (key TEXT NOT NULL, item TEXT NOT NULL, at REAL NOT NULL);
"""


@dataclass(frozen=True)
class Application:
    """One application of the effect: the tool call's key and the item it recorded."""

    key: str
    item: str


def connect(path: Path) -> sqlite3.Connection:
    """Open (and create) the ledger database in autocommit mode."""
    conn = sqlite3.connect(path, timeout=30, isolation_level=None)
    conn.executescript(SCHEMA)
    return conn


def work_s(item: str) -> float:
    """How long the tool works on `item`: 0.3 to 1 s, fixed per item."""
    return 0.3 + (zlib.crc32(item.encode()) % 8) / 10


def _begin(item: str, key: str, *, idempotent: bool) -> int:
    """Record the attempt and apply the effect (once per key when `idempotent`)."""
    conn = connect(Path(os.environ[LEDGER_ENV]))
    try:
        now = time.time()
        conn.execute("BEGIN IMMEDIATE")
        row = conn.execute(
            "INSERT INTO attempts (key, item, pid, at) VALUES (?, ?, ?, ?)",
            (key, item, os.getpid(), now),
        )
        fresh = conn.execute("INSERT OR IGNORE INTO keys VALUES (?)", (key,)).rowcount == 1
        if fresh or not idempotent:
            conn.execute("INSERT INTO applications VALUES (?, ?, ?)", (key, item, now))
        conn.execute("COMMIT")
        return int(row.lastrowid or 0)
    finally:
        conn.close()


def _finish(attempt: int) -> None:
    conn = connect(Path(os.environ[LEDGER_ENV]))
    try:
        conn.execute("UPDATE attempts SET finished = ? WHERE rowid = ?", (time.time(), attempt))
    finally:
        conn.close()


async def record_effect(item: str, idempotency_key: str) -> dict[str, object]:
    """Record `item` once per tool call, however often the call is retried.

    Args:
        item: What to record.
        idempotency_key: Stable per tool call (workflow id + tool call id), given by the worker.

    Returns:
        The item recorded.
    """
    attempt = _begin(item, idempotency_key, idempotent=True)
    await asyncio.sleep(work_s(item))  # the tool's work, after its effect
    _finish(attempt)
    return {"item": item}


async def record_effect_every_time(item: str, idempotency_key: str) -> dict[str, object]:
    """Record `item` on every attempt: a deliberately non-idempotent tool.

    Args:
        item: What to record.
        idempotency_key: Given by the worker, and ignored: that is the planted defect.

    Returns:
        The item recorded.
    """
    attempt = _begin(item, idempotency_key, idempotent=False)
    await asyncio.sleep(work_s(item))
    _finish(attempt)
    return {"item": item}


def ledger_registry() -> ToolRegistry:
    """The soak's tools: the idempotent `record_effect` and nothing else."""
    registry = ToolRegistry()
    registry.register(record_effect)
    return registry


def non_idempotent_registry() -> ToolRegistry:
    """`record_effect` replaced by a tool that applies its effect on every attempt."""
    registry = ToolRegistry()
    registry.register(record_effect_every_time, name=TOOL_NAME)
    return registry


def applications(path: Path) -> list[Application]:
    """Every application of the effect, in order."""
    conn = connect(path)
    try:
        rows = conn.execute("SELECT key, item FROM applications ORDER BY rowid").fetchall()
    finally:
        conn.close()
    return [Application(key=str(key), item=str(item)) for key, item in rows]


def attempt_count(path: Path) -> int:
    """Tool attempts recorded (every call, retried ones included)."""
    conn = connect(path)
    try:
        return int(conn.execute("SELECT COUNT(*) FROM attempts").fetchone()[0])
    finally:
        conn.close()


def running_attempts(path: Path, pid: int) -> int:
    """Attempts of process `pid` that started and have not finished their work."""
    conn = connect(path)
    try:
        query = "SELECT COUNT(*) FROM attempts WHERE pid = ? AND finished IS NULL"
        return int(conn.execute(query, (pid,)).fetchone()[0])
    finally:
        conn.close()
