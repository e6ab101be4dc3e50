"""The figures of one mode: what the caller saw joined with the emulator's per-object records."""

from __future__ import annotations

import statistics
from typing import Any

from pydantic import BaseModel

from bench.procs import MIB, Usage
from bench.workload import RunSpec

Seen = tuple[str, list[str], float | None]
"""One run as the caller saw it: final status (`lost` when none came), the ids of the objects
(runs or responses) it made in order, and when the caller held the result (unix seconds)."""

NO_USAGE = Usage(0.0, 0, 0)


class ModeResult(BaseModel):
    """Every figure of one mode on one backend.

    Attributes:
        backend: `responses` or `assistants`.
        mode: `naive`, `sdk`, `polling` or `webhooks`.
        label: The mode's column title.
        event_shape: The webhook events the mode ran on (`none` outside webhook mode).
        runs: Runs in the workload.
        completed: Runs that ended `completed`.
        lost: Runs the caller got no result for within the bound.
        statuses: Final statuses counted.
        objects_per_run: API objects (runs or responses) per run; a Responses tool round makes
            a follow-up response.
        status_reads_per_run: Status reads (`retrieve_run` / `retrieve_response`) per run, whoever
            made them (client loop, worker or bridge).
        status_reads_per_object: The same per API object.
        status_reads_per_object_max: The most any one object got.
        api_calls_per_run: Every `/v1` request the emulator served, per run.
        latency_p50_ms / latency_p95_ms / latency_max_ms: Notice from completion: the emulator
            marks the last object terminal → the result is there for the caller (a loop holds
            it; a run workflow has closed on the server).
        delivery_p50_ms / delivery_p95_ms / delivery_max_ms: Notice from delivery: the receiver
            acknowledged the terminal event (`delivered_at`) → the result is there for the
            caller (webhook modes only).
        terminal_events_delivered: Runs whose terminal event was delivered (webhook modes).
        wall_s: From the first create to the last result.
        runs_per_s: Runs divided by `wall_s`.
        process: The process doing the runs' work (worker or client loop).
        cpu_s / cpu_s_per_100: Its CPU seconds (and per 100 runs).
        system_cpu_s / system_cpu_s_per_100: CPU seconds of every process the mode needs.
        cpu_s_by_process: CPU seconds of each of them.
        peak_rss_mib: Peak resident memory of `process`.
        peak_in_flight: The most runs started and not yet ended at any one time.
        rss_growth_mib_per_100: Its (peak − RSS at start) per 100 runs.
        emulator_cpu_s: The emulator's CPU seconds.
        emulator_cpu_share: Emulator CPU seconds per wall second (1.0 = one core saturated).
        requests_per_minute_peak: Highest request count in any 60 s window (emulator).
        status_codes: HTTP status codes the emulator answered.
    """

    backend: str
    mode: str
    label: str
    event_shape: str
    runs: int
    completed: int
    lost: int
    statuses: dict[str, int]
    objects_per_run: float
    status_reads_per_run: float
    status_reads_per_object: float
    status_reads_per_object_max: int
    api_calls_per_run: float
    latency_p50_ms: float | None
    latency_p95_ms: float | None
    latency_max_ms: float | None
    delivery_p50_ms: float | None
    delivery_p95_ms: float | None
    delivery_max_ms: float | None
    terminal_events_delivered: int | None
    wall_s: float
    runs_per_s: float
    process: str
    cpu_s: float
    cpu_s_per_100: float
    system_cpu_s: float
    system_cpu_s_per_100: float
    cpu_s_by_process: dict[str, float]
    peak_rss_mib: float
    peak_in_flight: int = 0
    rss_growth_mib_per_100: float
    emulator_cpu_s: float
    emulator_cpu_share: float
    requests_per_minute_peak: int
    status_codes: dict[str, int]


def percentile(values: list[float], q: float) -> float | None:
    """The q-th percentile (0-100) by linear interpolation; None for no values."""
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def _ms(values_s: list[float], q: float | None) -> float | None:
    values = [v * 1000 for v in values_s]
    value = (max(values) if values else None) if q is None else percentile(values, q)
    return round(value, 1) if value is not None else None


def terminal_delivery(record: dict[str, Any], status: str) -> float | None:
    """When the receiver first acknowledged the object's `<kind>.<status>` event, if it did."""
    times = [
        float(w["delivered_at"])
        for w in record.get("webhooks", [])
        if str(w.get("type", "")).endswith("." + status) and w.get("delivered_at") is not None
    ]
    return min(times) if times else None


def summarize(
    *,
    backend: str,
    mode: str,
    label: str,
    shape: str,
    specs: list[RunSpec],
    seen: dict[int, Seen],
    stats: dict[str, Any],
    usages: dict[str, Usage],
    started: float,
    process: str,
) -> ModeResult:
    """Join what the caller saw with the emulator's per-object records and the meters."""
    records: dict[str, Any] = stats["responses" if backend == "responses" else "runs"]
    read_kind = "retrieve_response" if backend == "responses" else "retrieve_run"
    webhooks = shape != "none"
    reads_by_object: list[int] = []
    reads_by_run: list[int] = []
    from_completion: list[float] = []
    from_delivery: list[float] = []
    statuses: dict[str, int] = {}
    lost = delivered = 0
    ends: list[float] = []
    for spec in specs:
        status, ids, noticed_at = seen.get(spec.index, ("lost", [], None))
        statuses[status] = statuses.get(status, 0) + 1
        reads = [int(records.get(i, {}).get("calls", {}).get(read_kind, 0)) for i in ids]
        reads_by_object += reads
        reads_by_run.append(sum(reads))
        if noticed_at is None:
            lost += 1
            continue
        ends.append(noticed_at)
        last = records.get(ids[-1], {}) if ids else {}
        if status == "completed":
            completed_at = last.get("status_times", {}).get("completed")
            if completed_at is not None:
                from_completion.append(noticed_at - float(completed_at))
        if webhooks:
            delivered_at = terminal_delivery(last, status)
            if delivered_at is not None:
                delivered += 1
                from_delivery.append(noticed_at - delivered_at)
    n = len(specs)
    wall = (max(ends) - started) if ends else 0.0
    worker = usages.get(process, NO_USAGE)
    by_process = {name: round(u.cpu_seconds, 3) for name, u in usages.items()}
    system = sum(u.cpu_seconds for u in usages.values())
    emulator = usages.get("emulator", NO_USAGE).cpu_seconds
    return ModeResult(
        backend=backend,
        mode=mode,
        label=label,
        event_shape=shape,
        runs=n,
        completed=statuses.get("completed", 0),
        lost=lost,
        statuses=statuses,
        objects_per_run=round(len(reads_by_object) / n, 3),
        status_reads_per_run=round(statistics.fmean(reads_by_run), 3),
        status_reads_per_object=(
            round(statistics.fmean(reads_by_object), 3) if reads_by_object else 0.0
        ),
        status_reads_per_object_max=max(reads_by_object, default=0),
        api_calls_per_run=round(int(stats["total_requests"]) / n, 3),
        latency_p50_ms=_ms(from_completion, 50),
        latency_p95_ms=_ms(from_completion, 95),
        latency_max_ms=_ms(from_completion, None),
        delivery_p50_ms=_ms(from_delivery, 50) if webhooks else None,
        delivery_p95_ms=_ms(from_delivery, 95) if webhooks else None,
        delivery_max_ms=_ms(from_delivery, None) if webhooks else None,
        terminal_events_delivered=delivered if webhooks else None,
        wall_s=round(wall, 3),
        runs_per_s=round(n / wall, 3) if wall else 0.0,
        process=process,
        cpu_s=round(worker.cpu_seconds, 3),
        cpu_s_per_100=round(worker.cpu_seconds / n * 100, 3),
        system_cpu_s=round(system, 3),
        system_cpu_s_per_100=round(system / n * 100, 3),
        cpu_s_by_process=by_process,
        peak_rss_mib=round(worker.peak_rss_bytes / MIB, 1),
        rss_growth_mib_per_100=round(
            max(0, worker.peak_rss_bytes - worker.baseline_rss_bytes) / MIB / n * 100, 2
        ),
        emulator_cpu_s=round(emulator, 3),
        emulator_cpu_share=round(emulator / wall, 3) if wall else 0.0,
        requests_per_minute_peak=int(stats["requests_per_minute_peak"]),
        status_codes={str(k): int(v) for k, v in stats["status_codes"].items()},
    )
