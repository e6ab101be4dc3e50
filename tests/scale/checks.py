"""What a scale-out run must show, counted from the runs' results and the emulator's records.

The duplicate count is the soak's (`bench.soak.duplicate_causes`: objects beyond one per
workflow step, by cause); here every cause counts, since the kills of the scale test land while
no create is in flight.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bench.soak import Kill, duplicate_causes
from durable_runs.models import RunResult


def scale_problems(
    expected: Mapping[str, str],
    results: Mapping[str, RunResult],
    stats: dict[str, Any],
    kills: Sequence[Kill],
) -> dict[str, int]:
    """Counts that must all be 0.

    Args:
        expected: The answer each workflow must end with (the emulator's deterministic one).
        results: The results that arrived, by workflow id.
        stats: The emulator's `/_emulator/stats`.
        kills: When workers were killed (for the soak's duplicate causes).

    Returns:
        `lost` (no result), `wrong_result` (not completed with the expected answer),
        `duplicate_creates` (more than one create per step, any cause), `missing_creates`
        (a workflow the emulator never saw), `events_applied_twice` (a run that applied
        more events than its responses' terminal events: one per response).
    """
    by_workflow: dict[str, list[str]] = stats["responses_by_workflow"]
    wrong = sum(
        1
        for workflow_id, result in results.items()
        if (result.status, result.answer) != ("completed", expected.get(workflow_id))
    )
    return {
        "lost": sum(1 for workflow_id in expected if workflow_id not in results),
        "wrong_result": wrong,
        "duplicate_creates": sum(
            duplicate_causes("responses", stats, dict(results), kills).values()
        ),
        "missing_creates": sum(1 for workflow_id in expected if not by_workflow.get(workflow_id)),
        "events_applied_twice": sum(
            1 for r in results.values() if r.events_applied > len(r.response_ids)
        ),
    }
