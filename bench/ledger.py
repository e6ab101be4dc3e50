"""A tool with a side effect made idempotent by a ledger keyed by `idempotency_key`.

The soak's worker subprocess loads `bench.ledger:ledger_registry` (`DURABLE_RUNS_TOOLS`); the
ledger is a SQLite file named by `BENCH_LEDGER`, so it outlives killed workers. Every call is
recorded in `attempts`; the effect row in `effects` is written only when the key is new in
`ledger`, in the same transaction. Duplicate effects are keys with more than one `effects` row.
"""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path

from activities.tools import ToolRegistry

LEDGER_ENV = "BENCH_LEDGER"
TOOL_NAME = "record_effect"

SCHEMA = """
CREATE TABLE IF NOT EXISTS attempts (key TEXT NOT NULL, item TEXT NOT NULL, at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS ledger (key TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS effects (key TEXT NOT NULL, item TEXT NOT NULL, at REAL NOT NULL);
"""


def connect(path: Path) -> sqlite3.Connection:
    """Open (and create) the ledger database in autocommit mode."""
    conn = sqlite3.connect(path, timeout=30, isolation_level=None)
    conn.executescript(SCHEMA)
    return conn


async def record_effect(item: str, idempotency_key: str) -> dict[str, object]:
    """Record `item` once per tool call, however often the call is retried.

    Args:
        item: What to record.
        idempotency_key: Stable per tool call (workflow id + tool call id), given by the worker.

    Returns:
        Whether this call applied the effect or found it already applied.
    """
    # Deliberately synchronous and short: the ledger is a local file, and an async tool keeps
    # the time a killed worker could leave this activity half-done tiny.
    conn = connect(Path(os.environ[LEDGER_ENV]))
    try:
        now = time.time()
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO attempts VALUES (?, ?, ?)", (idempotency_key, item, now))
        fresh = conn.execute("INSERT OR IGNORE INTO ledger VALUES (?)", (idempotency_key,))
        applied = fresh.rowcount == 1
        if applied:
            conn.execute("INSERT INTO effects VALUES (?, ?, ?)", (idempotency_key, item, now))
        conn.execute("COMMIT")
    finally:
        conn.close()
    return {"item": item, "applied": applied}


def ledger_registry() -> ToolRegistry:
    """The soak's tools: `record_effect` plus nothing else."""
    registry = ToolRegistry()
    registry.register(record_effect)
    return registry


def ledger_counts(path: Path) -> dict[str, int]:
    """Attempts, effects, distinct keys, and keys whose effect happened more than once."""
    conn = connect(path)
    try:
        attempts = conn.execute("SELECT COUNT(*) FROM attempts").fetchone()[0]
        effects = conn.execute("SELECT COUNT(*) FROM effects").fetchone()[0]
        keys = conn.execute("SELECT COUNT(DISTINCT key) FROM effects").fetchone()[0]
        duplicates = conn.execute(
            "SELECT COUNT(*) FROM (SELECT key FROM effects GROUP BY key HAVING COUNT(*) > 1)"
        ).fetchone()[0]
    finally:
        conn.close()
    return {
        "attempts": int(attempts),
        "effects": int(effects),
        "keys": int(keys),
        "duplicate_effects": int(duplicates),
    }
