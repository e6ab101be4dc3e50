"""Smoke test of the benchmark and the soak through their Python entry points (small sizes)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.modes import ALL_MODES, ModeResult
from bench.run import run_benchmark
from bench.soak import run_soak

pytestmark = pytest.mark.timeout(400)


def test_bench_size_3_writes_every_mode(tmp_path: Path) -> None:
    """Every mode runs 3 runs to completion; the JSON and PNG are written with the right shape."""
    doc = run_benchmark(size=3, modes=ALL_MODES, out_dir=tmp_path, rpm=6000, durations=(200, 1000))
    written = json.loads((tmp_path / "bench-3.json").read_text())
    assert written["size"] == 3
    assert written["durations_ms"] == [200, 1000]
    assert {"platform", "cpu_count"} <= set(written["machine"])
    assert list(written["modes"]) == list(ALL_MODES)
    for mode, figures in written["modes"].items():
        result = ModeResult.model_validate(figures)
        assert result.completed == 3, (mode, result.statuses)
        assert result.lost == 0
        assert result.latency_p50_ms is not None
        assert written["ratios_vs_naive"][mode]["status_reads_per_run"] is not None or (
            mode == "naive"
        )
    assert written["modes"]["webhooks"]["status_reads_per_run"] <= 1
    assert (tmp_path / "bench-3.png").stat().st_size > 0
    assert doc["ok"] is True


def test_soak_small_has_zero_lost_and_duplicates(tmp_path: Path) -> None:
    """A small soak (faults and worker kills) finishes every run, none twice, no double effects."""
    doc = run_soak(runs=6, kills=2, kill_every_s=2.0, out_dir=tmp_path, bound_s=150)
    written = json.loads((tmp_path / "soak-6.json").read_text())
    assert written["runs_started"] == 6
    assert sum(written["finished_by_status"].values()) == 6
    assert written["must_be_zero"] == {
        "lost": 0,
        "duplicate_runs": 0,
        "duplicate_tool_effects": 0,
        "failed_workflows": 0,
    }
    assert written["tool_ledger"]["effects"] > 0
    assert doc["ok"] is True
