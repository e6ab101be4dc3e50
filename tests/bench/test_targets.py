"""The benchmark's read and notice bounds for webhook mode, from the run policy's safety poll."""

from __future__ import annotations

import pytest

from bench.report import lost_webhook_notice_bound_s, webhook_reads_allowed
from durable_runs.models import PollPolicy

POLICY = PollPolicy(webhooks=True)


@pytest.mark.parametrize(
    ("longest_s", "reads"),
    [(5, 1), (30, 1), (119, 1), (121, 2), (300, 2), (359, 2), (361, 3), (900, 4)],
)
def test_reads_allowed_are_the_event_and_the_safety_checks_due(
    longest_s: float, reads: int
) -> None:
    # Safety checks due 120, 360, 840, 1440 s after the create.
    assert webhook_reads_allowed(longest_s, POLICY) == reads


def test_runs_of_30_to_300_s_make_at_most_two_reads() -> None:
    assert webhook_reads_allowed(300, POLICY) == 2


@pytest.mark.parametrize(("longest_s", "bound_s"), [(30, 155), (300, 425), (3600, 605)])
def test_lost_webhooks_are_noticed_within_the_documented_bound(
    longest_s: float, bound_s: float
) -> None:
    assert lost_webhook_notice_bound_s(longest_s, POLICY) == bound_s
