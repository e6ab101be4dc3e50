"""The benchmark workload: the same runs in every mode, durations spread over their range."""

from __future__ import annotations

from bench.workload import DURATION_RANGE_MS, TOOL_DURATION_RANGE_MS, workload


def test_durations_cover_their_range_evenly() -> None:
    specs = workload(100)
    plain = [int(s.metadata["emu_duration_ms"]) for s in specs if not s.tool_rounds]
    low, high = DURATION_RANGE_MS
    assert all(low <= d <= high for d in plain)
    # Every tenth of the range holds some runs, and none holds a quarter of them.
    buckets = [0] * 10
    for duration in plain:
        buckets[min(9, (duration - low) * 10 // (high - low))] += 1
    assert min(buckets) >= 1 and max(buckets) <= len(plain) // 4, buckets
    assert len(set(plain)) == len(plain)  # no fixed values a check could sit next to
    tools = [int(s.metadata["emu_duration_ms"]) for s in specs if s.tool_rounds]
    assert all(TOOL_DURATION_RANGE_MS[0] <= d <= TOOL_DURATION_RANGE_MS[1] for d in tools)


def test_every_mode_gets_the_same_runs() -> None:
    assert workload(30) == workload(30)
    specs = workload(12)
    assert [s.tool_rounds for s in specs] == [0, 0, 1, 0, 0, 2] * 2
