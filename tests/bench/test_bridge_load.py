"""The bridge load script at a small size, and its verdict shown to fail on a missed target."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.bridge_load import Phase, run_load, verdict

pytestmark = pytest.mark.timeout(400)


def test_bridge_load_50_events_meets_the_targets_on_both_routings(tmp_path: Path) -> None:
    results = run_load(events=50, routings=("retrieve", "visibility"), log_dir=tmp_path)

    assert verdict(results) == []
    retrieve, visibility = results["retrieve"], results["visibility"]
    assert retrieve["strangers"].codes == {"200": 50}
    assert (retrieve["strangers"].temporal_calls, retrieve["strangers"].api_reads) == (0, 50)
    assert retrieve["live runs"].woken == 50
    assert retrieve["live runs"].worker_reads == 0  # the bridge's read was each run's only one
    assert visibility["strangers"].codes == {"202": 50}  # dropped, since a miss may be lag
    assert visibility["strangers"].temporal_calls == 50
    assert visibility["live runs"].worker_reads == 50


def _phases(**strangers: object) -> dict[str, dict[str, Phase]]:
    good = Phase(kind="strangers", events=2, codes={"200": 2}, latencies_ms=[10.0, 20.0])
    live = Phase(kind="live runs", events=2, codes={"200": 2}, latencies_ms=[10.0, 20.0], woken=2)
    for name, value in strangers.items():
        setattr(good, name, value)
    return {"retrieve": {"strangers": good, "live runs": live}}


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        ({"codes": {"200": 1, "503": 1}}, "strangers answered"),
        ({"latencies_ms": [10.0, 1500.0]}, "p99"),
        ({"temporal_calls": 3}, "Temporal calls"),
    ],
)
def test_verdict_catches_each_missed_stranger_target(
    fault: dict[str, object], message: str
) -> None:
    assert verdict(_phases()) == []
    [failure] = verdict(_phases(**fault))
    assert message in failure


def test_verdict_catches_a_live_run_not_woken() -> None:
    phases = _phases()
    phases["retrieve"]["live runs"].woken = 1
    [failure] = verdict(phases)
    assert "1 of 2 live runs woken" in failure
