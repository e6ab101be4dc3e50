"""Smoke test of the benchmark and the soak through their Python entry points (small sizes)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.figures import ModeResult
from bench.modes import ALL_MODES, BACKEND_MODES
from bench.run import run_benchmark
from bench.soak import run_soak
from durable_runs.models import PollPolicy

pytestmark = pytest.mark.timeout(400)

DELAY_MS = (60, 120)


def test_bench_both_backends_responses_first(tmp_path: Path) -> None:
    """Both tables, Responses first; every run completes; webhook modes report notice from
    delivery; every mode reports the CPU of every process it needs; the delivery delay is
    applied (no webhook run is noticed sooner after completion than its event was held)."""
    doc = run_benchmark(
        size=3, out_dir=tmp_path, rpm=6000, durations=(200, 1000), webhook_delay_ms=DELAY_MS
    )
    written = json.loads((tmp_path / "bench-3.json").read_text())
    assert written == json.loads(json.dumps(doc))
    assert written["durations_ms"] == [200, 1000]
    assert written["webhook_delay_ms"] == list(DELAY_MS)
    assert [t["backend"] for t in written["tables"]] == ["responses", "assistants"]
    for table in written["tables"]:
        backend = table["backend"]
        assert list(table["modes"]) == [m for m in BACKEND_MODES[backend] if m in ALL_MODES]
        assert table["thread_run_webhooks"] is (backend == "assistants")
        for mode, figures in table["modes"].items():
            result = ModeResult.model_validate(figures)
            assert (result.completed, result.lost) == (3, 0), (backend, mode, result.statuses)
            assert result.latency_p50_ms is not None
            needs = {"emulator", "client loop" if mode in ("naive", "sdk") else "worker"}
            if mode in ("polling", "webhooks"):
                needs.add("Temporal server")
            if mode == "webhooks":
                needs.add("bridge")
            assert set(result.cpu_s_by_process) == needs, (backend, mode)
            assert result.system_cpu_s >= result.cpu_s > 0
            assert result.system_cpu_s_per_100 > 0
            if mode == "webhooks":
                assert result.terminal_events_delivered == 3
                assert result.delivery_p50_ms is not None
                assert result.latency_p50_ms >= DELAY_MS[0]
            else:
                assert result.delivery_p50_ms is None
                assert table["event_shape"][mode] == "none"
            if mode != "naive":
                assert table["ratios_vs_loop"][mode]["status_reads_per_run"] is not None
    shapes = [t["event_shape"]["webhooks"] for t in written["tables"]]
    assert "data.id only" in shapes[0] and "thread_run_webhooks" in shapes[1]
    responses_hook = written["tables"][0]["modes"]["webhooks"]
    assert responses_hook["status_reads_per_object_max"] <= 1
    assert (tmp_path / "bench-3.png").stat().st_size > 0
    assert doc["ok"] is True


def test_bench_lost_webhooks_end_on_the_safety_poll(tmp_path: Path) -> None:
    """With the bridge down, webhook-mode runs end on their safety checks, within the bound
    the targets print (a short safety poll here, so the test takes seconds)."""
    poll = PollPolicy(safety_poll_s=1, safety_poll_backoff=2, safety_poll_max_s=2)
    doc = run_benchmark(
        size=3,
        out_dir=tmp_path,
        backends=["responses"],
        modes=["webhooks_lost"],
        durations=(200, 1000),
        poll=poll,
    )
    (table,) = doc["tables"]
    lost = table["modes"]["webhooks_lost"]
    assert (lost["completed"], lost["lost"]) == (3, 0)
    assert not lost["terminal_events_delivered"]
    assert lost["status_reads_per_object"] >= 1  # made by the worker: no bridge read them
    assert doc["poll_policy"]["safety_poll_s"] == 1
    (bound,) = [t for t in doc["targets"] if "noticed within" in t["name"]]
    assert bound["ok"] is True, bound
    assert doc["ok"] is True


def test_soak_small_has_zero_lost_and_duplicates(tmp_path: Path) -> None:
    """A small soak (faults and worker kills) on both backends: nothing that must be zero isn't."""
    doc = run_soak(runs=6, kills=2, kill_every_s=2.0, out_dir=tmp_path, bound_s=150)
    written = json.loads((tmp_path / "soak-6.json").read_text())
    assert list(written["backends"]) == ["responses", "assistants"]
    for backend, phase in written["backends"].items():
        assert phase["runs_started"] == 6, backend
        assert sum(phase["finished_by_status"].values()) == 6, backend
        assert not any(phase["must_be_zero"].values()), (backend, phase["must_be_zero"])
        assert phase["tool_ledger"]["applications"] > 0, backend
    assert doc["ok"] is True
