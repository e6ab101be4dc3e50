"""The benchmark workload: the same runs in every mode, durations spread over their range."""

from __future__ import annotations

import argparse

import pytest

from bench.run import backend_list, delay_range, duration_range
from bench.run import main as bench_main
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


def test_a_chosen_duration_range_is_spread_over_the_same_way() -> None:
    plain = [
        int(s.metadata["emu_duration_ms"]) for s in workload(60, (500, 20_000)) if not s.tool_rounds
    ]
    assert min(plain) < 2_500 and max(plain) > 18_000
    assert all(500 <= d <= 20_000 for d in plain)


@pytest.mark.parametrize("text", ["5000", "0-100", "300-200", "a-b", "-5-10"])
def test_a_range_that_cannot_be_spread_is_refused(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="LOW-HIGH"):
        duration_range(text)


def test_the_command_line_reads_the_range_and_says_what_it_expects(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert duration_range("500-20000") == (500, 20_000)
    with pytest.raises(SystemExit):
        bench_main(["--durations", "20000-500"])
    assert "0 < LOW <= HIGH" in capsys.readouterr().err


def test_no_delivery_delay_adds_no_webhook_knob() -> None:
    assert all("emu_webhook" not in s.metadata for s in workload(30))


def test_a_delivery_delay_range_is_drawn_per_run_uniformly_and_reproducibly() -> None:
    specs = workload(200, webhook_delay_ms=(50, 500))
    assert specs == workload(200, webhook_delay_ms=(50, 500))
    delays = [int(s.metadata["emu_webhook"].removeprefix("delay_ms:")) for s in specs]
    assert all(50 <= d <= 500 for d in delays)
    # Uniform over the range: each half holds a fair share, and the delays are not the
    # durations' spread in disguise (same index, same fraction of its range).
    low_half = sum(d < 275 for d in delays)
    assert 60 <= low_half <= 140, low_half
    durations = [int(s.metadata["emu_duration_ms"]) for s in specs if not s.tool_rounds]
    plain = [d for s, d in zip(specs, delays, strict=True) if not s.tool_rounds]
    assert sorted(range(len(plain)), key=plain.__getitem__) != sorted(
        range(len(durations)), key=durations.__getitem__
    )


def test_a_fixed_delivery_delay_is_the_same_for_every_run() -> None:
    assert {s.metadata["emu_webhook"] for s in workload(12, webhook_delay_ms=(80, 80))} == {
        "delay_ms:80"
    }


@pytest.mark.parametrize(
    ("text", "bounds"), [("0", (0, 0)), ("250", (250, 250)), ("50-500", (50, 500))]
)
def test_a_delivery_delay_is_n_or_a_range(text: str, bounds: tuple[int, int]) -> None:
    assert delay_range(text) == bounds


@pytest.mark.parametrize("text", ["-5", "500-50", "x", "1-y"])
def test_a_delivery_delay_that_is_no_range_is_refused(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="N or LOW-HIGH"):
        delay_range(text)


def test_backends_print_responses_first_whatever_the_order_asked() -> None:
    assert backend_list("assistants,responses") == ["responses", "assistants"]
    assert backend_list("assistants") == ["assistants"]
    with pytest.raises(argparse.ArgumentTypeError, match="responses, assistants"):
        backend_list("responses,bogus")
