"""Targets, the tables (one per backend), the JSON document and the PNG chart of a benchmark run."""

from __future__ import annotations

import datetime as dt
import os
import platform
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from rich.console import Console
from rich.table import Table

from bench.figures import ModeResult
from bench.modes import BASELINE, DEFAULT_POLL, EVENT_SHAPES
from durable_runs.models import Backend, PollPolicy

Results = dict[Backend, dict[str, ModeResult]]
"""Per backend (in print order), per mode (in run order)."""

WEBHOOK_DELIVERY_P50_MS = 100.0
POLLING_READS_RATIO = 1.02
POLLING_P50_RATIO = 1.05
POLLING_RATIO_MAX_SIZE = 100
"""The polling ratios are the issue's targets at 10 and 100 runs; above, they are reported."""
RSS_LIMIT_MIB = 512.0
SCALE_RSS_LIMIT_MIB = 1024.0
"""The worker's memory bound above `SCALE_SIZE` runs in flight (10,000 long runs)."""
SCALE_SIZE = 1000
WEBHOOK_WORKER_CPU_RATIO = 1.2
WEBHOOK_SYSTEM_CPU_RATIO = 2.5
POLLING_WORKER_CPU_RATIO = 2.0
THROUGHPUT_MAX_SIZE = 100
"""Runs per second at least the loop's: a target up to 100 runs with no budget (above, or
under a budget, the durations and the budget set the pace; reported)."""
SAFETY_NOTICE_SLACK_S = 5.0
"""Lost webhooks: a run is noticed at the first safety check after its end, plus this."""
EMULATOR_BUSY_SHARE = 0.8
"""Emulator CPU seconds per wall second above which it may be the bottleneck."""

BACKEND_TITLES: dict[Backend, str] = {
    "responses": "Responses backend (background mode, what api.openai.com serves)",
    "assistants": "Assistants backend (the seed's API; webhook mode on the emulator extension "
    "thread_run_webhooks: OpenAI sends no thread.run.* events)",
}
CPU_NOTE = (
    "CPU metered per process over the mode: whole system = worker + Temporal server + bridge "
    "(webhook mode) + emulator for durable modes, client loop + emulator for loops; the caller "
    "that starts workflows and awaits their results is not metered."
)


class Target(BaseModel):
    """One target: what was measured and whether it holds.

    Attributes:
        backend: The table it belongs to.
        name: What it checks.
        measured: The figure(s), as text.
        ok: Whether it holds (None when it is reported but not a target here).
        must_hold: A failing must-hold target (a lost or unfinished run) makes the command exit
            non-zero; speed and read-count targets are measurements, printed met or missed.
    """

    backend: str
    name: str
    measured: str
    ok: bool | None
    must_hold: bool


def machine() -> dict[str, Any]:
    """Platform, CPU count and Python of this machine."""
    return {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
    }


def _ratio(value: float | None, base: float | None) -> float | None:
    if value is None or not base:
        return None
    return value / base


def webhook_reads_allowed(longest_s: float, poll: PollPolicy) -> int:
    """Status reads one response may get in webhook mode: the event's, plus every safety
    check due within the longest model time."""
    reads, due, wait = 1, poll.safety_poll_s, poll.safety_poll_s
    while due < longest_s:
        reads += 1
        wait = min(wait * poll.safety_poll_backoff, poll.safety_poll_max_s)
        due += wait
    return reads


def lost_webhook_notice_bound_s(longest_s: float, poll: PollPolicy) -> float:
    """The latest a run is noticed after its end with no event: the first safety check after
    it (the documented bound: its duration plus `safety_poll_s`, at most `safety_poll_max_s`
    with the default backoff), plus `SAFETY_NOTICE_SLACK_S`."""
    bound = min(longest_s + poll.safety_poll_s, poll.safety_poll_max_s)
    return bound + SAFETY_NOTICE_SLACK_S


def _cpu_targets(
    add: Callable[..., None], loop: ModeResult, poll: ModeResult | None, hook: ModeResult | None
) -> None:
    base, base_system = loop.cpu_s_per_100, loop.system_cpu_s_per_100
    checks = [
        (hook, "worker", WEBHOOK_WORKER_CPU_RATIO, "cpu_s_per_100"),
        (hook, "whole-system", WEBHOOK_SYSTEM_CPU_RATIO, "system_cpu_s_per_100"),
        (poll, "worker", POLLING_WORKER_CPU_RATIO, "cpu_s_per_100"),
    ]
    for mode, what, limit, field in checks:
        if mode is None:
            continue
        value = float(getattr(mode, field))
        ratio = _ratio(value, base_system if field == "system_cpu_s_per_100" else base)
        add(
            f"{mode.label}: {what} CPU per run ≤ ×{limit:g} the loop's",
            f"{value:g} vs {base_system if field == 'system_cpu_s_per_100' else base:g} s / 100"
            + (f" (×{ratio:.2f})" if ratio is not None else ""),
            ratio is not None and ratio <= limit,
        )


def _backend_targets(
    backend: Backend,
    modes: dict[str, ModeResult],
    *,
    size: int,
    rpm: int,
    longest_s: float,
    run_policy: PollPolicy,
) -> list[Target]:
    out: list[Target] = []

    def add(name: str, measured: str, ok: bool | None, *, must_hold: bool = False) -> None:
        out.append(
            Target(backend=backend, name=name, measured=measured, ok=ok, must_hold=must_hold)
        )

    finished = ", ".join(f"{r.label} {r.completed}/{r.runs}" for r in modes.values())
    lost = sum(r.lost for r in modes.values())
    add(
        "every run completes, none lost",
        f"{finished}; {lost} lost",
        lost == 0 and all(r.completed == r.runs for r in modes.values()),
        must_hold=True,
    )
    loop, poll, hook = modes.get(BASELINE), modes.get("polling"), modes.get("webhooks")
    policy = run_policy.model_copy(update={"webhooks": True})
    if hook and backend == "responses":
        allowed = webhook_reads_allowed(longest_s, policy)
        add(
            f"durable webhooks: ≤ {allowed} status read{'s' if allowed > 1 else ''} per "
            f"response object (runs up to {longest_s:g} s; safety checks at "
            f"{policy.safety_poll_s:g} s ×{policy.safety_poll_backoff:g})",
            f"max {hook.status_reads_per_object_max}, mean {hook.status_reads_per_object:g}",
            hook.status_reads_per_object_max <= allowed,
        )
        p50 = hook.delivery_p50_ms
        add(
            f"durable webhooks: notice p50 from delivery < {WEBHOOK_DELIVERY_P50_MS:g} ms",
            f"{p50} ms ({hook.terminal_events_delivered}/{hook.runs} terminal events delivered)",
            p50 is not None and p50 < WEBHOOK_DELIVERY_P50_MS,
        )
    lost_hooks = modes.get("webhooks_lost")
    if lost_hooks:
        bound_s = lost_webhook_notice_bound_s(longest_s, policy)
        worst = lost_hooks.latency_max_ms
        add(
            f"{lost_hooks.label}: every run noticed within {bound_s:g} s of its end",
            f"max {worst} ms, mean reads / object {lost_hooks.status_reads_per_object:g}",
            worst is not None and worst <= bound_s * 1000,
        )
    if loop and backend == "responses" and not rpm:
        _cpu_targets(add, loop, poll, hook)
        applies = size <= THROUGHPUT_MAX_SIZE
        note = "" if applies else f" (a target up to {THROUGHPUT_MAX_SIZE} runs; reported)"
        for mode in (m for m in (poll, hook) if m is not None):
            add(
                f"{mode.label}: runs / s ≥ the loop's{note}",
                f"{mode.runs_per_s:g} vs {loop.runs_per_s:g}",
                mode.runs_per_s >= loop.runs_per_s if applies else None,
            )
    if poll and loop:
        applies = size <= POLLING_RATIO_MAX_SIZE
        note = "" if applies else f" (a target up to {POLLING_RATIO_MAX_SIZE} runs; reported)"
        reads = _ratio(poll.status_reads_per_run, loop.status_reads_per_run)
        add(
            f"durable polling: status reads ≤ ×{POLLING_READS_RATIO:g} the loop's{note}",
            f"{poll.status_reads_per_run:g} vs {loop.status_reads_per_run:g}"
            + (f" (×{reads:.3f})" if reads is not None else ""),
            (reads is not None and reads <= POLLING_READS_RATIO) if applies else None,
        )
        p50 = _ratio(poll.latency_p50_ms, loop.latency_p50_ms)
        add(
            f"durable polling: notice p50 ≤ ×{POLLING_P50_RATIO:g} the loop's{note}",
            f"{poll.latency_p50_ms} vs {loop.latency_p50_ms} ms"
            + (f" (×{p50:.3f})" if p50 is not None else ""),
            (p50 is not None and p50 <= POLLING_P50_RATIO) if applies else None,
        )
    if rpm:
        for r in modes.values():
            within = r.requests_per_minute_peak <= rpm
            peak = r.requests_per_minute_peak
            if r.process == "worker":
                add(f"{r.label}: peak requests/min ≤ the {rpm} budget", str(peak), within)
            else:
                verdict = "within" if within else "exceeds"
                add(
                    f"{r.label}: peak requests/min vs the {rpm} budget (no limiter)",
                    f"{peak} ({verdict})",
                    None,
                )
    durable = [r for r in modes.values() if r.process == "worker"]
    if durable:
        rss = max(r.peak_rss_mib for r in durable)
        limit = SCALE_RSS_LIMIT_MIB if size > SCALE_SIZE else RSS_LIMIT_MIB
        add(f"worker peak RSS < {limit:g} MiB", f"max {rss} MiB", rss < limit)
    busiest = max(modes.values(), key=lambda r: r.emulator_cpu_share)
    add(
        f"emulator not the bottleneck (CPU s / wall s < {EMULATOR_BUSY_SHARE:g})",
        f"max {busiest.emulator_cpu_share:g} ({busiest.label})",
        busiest.emulator_cpu_share < EMULATOR_BUSY_SHARE,
    )
    return out


def targets(
    results: Results, *, size: int, rpm: int, longest_s: float, poll: PollPolicy = DEFAULT_POLL
) -> list[Target]:
    """Evaluate the issue's targets on the measured figures, table by table.

    Must hold (the exit status): every run completes and none is lost. Measured, printed met or
    missed: on Responses, webhook mode's status reads per response object and its notice p50
    from delivery; on both backends, polling's reads and notice p50 as ratios of the loop's (up
    to `POLLING_RATIO_MAX_SIZE` runs) and, with a budget, every durable mode's peak requests
    per minute; the worker's memory and whether the emulator was saturated.
    """
    out: list[Target] = []
    for backend, modes in results.items():
        out += _backend_targets(
            backend, modes, size=size, rpm=rpm, longest_s=longest_s, run_policy=poll
        )
    return out


ROWS: list[tuple[str, str]] = [
    ("completed", "completed"),
    ("lost", "lost"),
    ("peak_in_flight", "peak runs in flight"),
    ("objects_per_run", "API objects / run"),
    ("status_reads_per_run", "status reads / run"),
    ("status_reads_per_object", "status reads / object"),
    ("status_reads_per_object_max", "status reads / object (max)"),
    ("api_calls_per_run", "API calls / run"),
    ("latency_p50_ms", "notice p50 from completion (ms)"),
    ("latency_p95_ms", "notice p95 from completion (ms)"),
    ("latency_max_ms", "notice max from completion (ms)"),
    ("delivery_p50_ms", "notice p50 from delivery (ms)"),
    ("delivery_p95_ms", "notice p95 from delivery (ms)"),
    ("runs_per_s", "runs / s"),
    ("wall_s", "wall (s)"),
    ("system_cpu_s_per_100", "CPU s / 100 runs (whole system)"),
    ("cpu_s_per_100", "CPU s / 100 runs (worker or client loop)"),
    ("peak_rss_mib", "peak RSS MiB (worker or client loop)"),
    ("rss_growth_mib_per_100", "RSS growth MiB / 100 runs"),
    ("requests_per_minute_peak", "peak requests / min"),
]
PROCESSES = ("worker", "client loop", "Temporal server", "bridge", "emulator")
"""The per-process CPU rows, in print order."""


def _cell(value: Any, base: Any, *, is_base: bool) -> str:
    if value is None:
        return "–"
    text = f"{value:g}" if isinstance(value, float) else str(value)
    if is_base or base in (None, 0) or not isinstance(value, int | float):
        return text
    return f"{text} [dim](×{float(value) / float(base):.2f})[/dim]"


def table_title(
    backend: Backend,
    *,
    size: int,
    rpm: int,
    durations: tuple[int, int],
    webhook_delay_ms: tuple[int, int],
    poll: PollPolicy = DEFAULT_POLL,
) -> str:
    """The title of one backend's table: backend, size, durations, budget, delivery delay, and
    the durable runs' poll policy when it is not the default."""
    low, high = durations
    budget = f"budget {rpm} rpm" if rpm else "no API budget"
    d_low, d_high = webhook_delay_ms
    delay = f"{d_low} ms" if d_low == d_high else f"{d_low}–{d_high} ms uniform"
    changed = poll.model_dump(exclude_defaults=True)
    policy = f", durable PollPolicy {changed}" if changed else ""
    return (
        f"{BACKEND_TITLES[backend]}\n{size} concurrent runs of {low / 1000:g}–{high / 1000:g} s, "
        f"{budget}, webhook delivery delay {delay}{policy}"
    )


def print_report(results: Results, checks: list[Target], *, titles: dict[str, str]) -> None:
    """Print one table per backend (ratios against its loop), then the targets.

    Args:
        results: The figures per backend and mode.
        checks: The targets, evaluated.
        titles: Each backend's table title, as `document` wrote it.
    """
    console = Console(width=180)
    for backend, modes in results.items():
        title = titles[backend]
        table = Table(title=title, caption=f"webhook events: {EVENT_SHAPES[backend]}. {CPU_NOTE}")
        table.add_column("metric")
        for r in modes.values():
            table.add_column(r.label, justify="right")
        base = modes.get(BASELINE)
        table.add_row("metered process", *(r.process for r in modes.values()))
        for field, label in ROWS:
            base_value = getattr(base, field) if base else None
            table.add_row(
                label,
                *(
                    _cell(getattr(r, field), base_value, is_base=mode == BASELINE)
                    for mode, r in modes.items()
                ),
            )
        for name in PROCESSES:
            if any(name in r.cpu_s_by_process for r in modes.values()):
                cells = [
                    _cell(r.cpu_s_by_process.get(name), None, is_base=True) for r in modes.values()
                ]
                table.add_row(f"CPU s: {name}", *cells)
        console.print(table)
    t = Table(title="targets")
    for column in ("table", "target", "measured", "result", "if missed"):
        t.add_column(column, justify="right" if column == "measured" else "left")
    for c in checks:
        verdict = "–" if c.ok is None else ("[green]met[/green]" if c.ok else "[red]MISSED[/red]")
        t.add_row(c.backend, c.name, c.measured, verdict, "exit 1" if c.must_hold else "exit 0")
    console.print(t)


def _ratios(modes: dict[str, ModeResult]) -> dict[str, dict[str, float | None]]:
    base = modes.get(BASELINE)
    ratios: dict[str, dict[str, float | None]] = {}
    for mode, r in modes.items():
        ratios[mode] = {}
        for field, _ in ROWS:
            value, base_value = getattr(r, field), getattr(base, field) if base else None
            ok = isinstance(value, int | float) and isinstance(base_value, int | float)
            ratios[mode][field] = (
                round(float(value) / float(base_value), 3) if ok and base_value else None
            )
    return ratios


def document(
    results: Results,
    checks: list[Target],
    *,
    size: int,
    rpm: int,
    durations: tuple[int, int],
    webhook_delay_ms: tuple[int, int],
    poll: PollPolicy = DEFAULT_POLL,
) -> dict[str, Any]:
    """The JSON document: date, machine, parameters, one table per backend, targets."""
    tables = [
        {
            "backend": backend,
            "title": table_title(
                backend,
                size=size,
                rpm=rpm,
                durations=durations,
                webhook_delay_ms=webhook_delay_ms,
                poll=poll,
            ),
            "event_shape": {mode: r.event_shape for mode, r in modes.items()},
            "thread_run_webhooks": backend == "assistants" and "webhooks" in modes,
            "baseline": BASELINE,
            "modes": {mode: r.model_dump() for mode, r in modes.items()},
            "ratios_vs_loop": _ratios(modes),
        }
        for backend, modes in results.items()
    ]
    return {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "size": size,
        "rpm_budget": rpm,
        "durations_ms": list(durations),
        "webhook_delay_ms": list(webhook_delay_ms),
        "poll_policy": poll.model_dump(),
        "cpu_note": CPU_NOTE,
        "tables": tables,
        "targets": [c.model_dump() for c in checks],
        "ok": all(c.ok for c in checks if c.must_hold),
    }


def draw_chart(results: Results, path: Path, *, size: int) -> None:
    """A 2×3 bar chart of the first table's main figures (Responses when it ran)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    backend, modes = next(iter(results.items()))
    labels = [r.label for r in modes.values()]
    colors = ["#9e9e9e", "#bdbdbd", "#1f77b4", "#2ca02c"][-len(labels) :]
    panels = [
        ("status_reads_per_run", "status reads / run"),
        ("api_calls_per_run", "API calls / run"),
        ("latency_p50_ms", "notice p50 from completion (ms)"),
        ("delivery_p50_ms", "notice p50 from delivery (ms, webhooks)"),
        ("system_cpu_s_per_100", "CPU s / 100 runs (whole system)"),
        ("cpu_s_per_100", "CPU s / 100 runs (worker or client loop)"),
    ]
    fig, axes = plt.subplots(2, 3, figsize=(15, 8))
    for ax, (field, title) in zip(axes.flat, panels, strict=True):
        measured = [getattr(r, field) for r in modes.values()]
        values = [float(v or 0) for v in measured]
        ax.bar(range(len(values)), values, color=colors)
        ax.set_xticks(range(len(values)), labels, rotation=20, ha="right", fontsize=8)
        ax.set_title(title, fontsize=10)
        for i, v in enumerate(measured):
            text = "n/a" if v is None else f"{v:g}"
            ax.annotate(text, (i, float(v or 0)), ha="center", va="bottom", fontsize=8)
    fig.suptitle(
        f"durable-runs benchmark, {backend} backend: {size} concurrent runs "
        f"({machine()['platform']})"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
