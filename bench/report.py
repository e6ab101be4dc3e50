"""Targets, the rich table, the JSON document and the PNG chart of a benchmark run."""

from __future__ import annotations

import datetime as dt
import os
import platform
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from rich.console import Console
from rich.table import Table

from bench.modes import MODE_LABELS, ModeResult

RSS_LIMIT_MIB = 512.0
WEBHOOK_P50_LIMIT_MS = 100.0
EMULATOR_BUSY_SHARE = 0.8
"""Emulator CPU seconds per wall second above which it may be the bottleneck."""


class Target(BaseModel):
    """One target: what was measured and whether it holds.

    Attributes:
        name: What it checks.
        measured: The figure(s), as text.
        ok: Whether it holds (None when a mode it needs did not run).
        must_hold: A failing must-hold target makes the command exit non-zero.
    """

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


def targets(results: dict[str, ModeResult], *, size: int, rpm: int) -> list[Target]:
    """Evaluate the issue's targets on the measured figures.

    Must hold at every size: every run completes and none is lost; webhook mode makes at most
    one status read per run. From 100 runs up, where noise no longer dominates: webhook p50
    under its limit, durable modes within the request budget. The memory bound must hold from
    1,000 runs. Polling's comparisons with the naive loop (reads, p50) are reported only: the
    README explains why both cannot hold run by run.
    """
    out: list[Target] = []
    for mode, r in results.items():
        out.append(
            Target(
                name=f"{mode}: all complete, 0 lost",
                measured=f"{r.completed}/{r.runs} completed, {r.lost} lost",
                ok=r.completed == r.runs and r.lost == 0,
                must_hold=True,
            )
        )
    naive = results.get("naive")
    hook = results.get("webhooks")
    poll = results.get("polling")
    if hook:
        out.append(
            Target(
                name="webhooks: ≤ 1 status read per run",
                measured=f"{hook.status_reads_per_run:g}",
                ok=hook.status_reads_per_run <= 1.0,
                must_hold=True,
            )
        )
        p50 = hook.latency_p50_ms
        out.append(
            Target(
                name=f"webhooks: p50 completion→notice < {WEBHOOK_P50_LIMIT_MS:g} ms",
                measured=f"{p50} ms",
                ok=p50 is not None and p50 < WEBHOOK_P50_LIMIT_MS,
                must_hold=size >= 100,
            )
        )
    if poll and naive:
        out.append(
            Target(
                name="polling: status reads ≤ naive loop's",
                measured=f"{poll.status_reads_per_run:g} vs {naive.status_reads_per_run:g}",
                ok=poll.status_reads_per_run <= naive.status_reads_per_run,
                must_hold=False,
            )
        )
        if poll.latency_p50_ms is not None and naive.latency_p50_ms is not None:
            out.append(
                Target(
                    name="polling: p50 completion→notice ≤ naive loop's",
                    measured=f"{poll.latency_p50_ms} vs {naive.latency_p50_ms} ms",
                    ok=poll.latency_p50_ms <= naive.latency_p50_ms,
                    must_hold=False,
                )
            )
    if rpm:
        for mode in ("polling", "webhooks"):
            found = results.get(mode)
            if found:
                out.append(
                    Target(
                        name=f"{mode}: peak requests/min within the {rpm} budget",
                        measured=str(found.requests_per_minute_peak),
                        ok=found.requests_per_minute_peak <= rpm,
                        must_hold=size >= 100,
                    )
                )
        for mode in ("naive", "sdk"):
            found = results.get(mode)
            if found:
                out.append(
                    Target(
                        name=f"{mode}: peak requests/min vs the {rpm} budget (no limiter)",
                        measured=(
                            f"{found.requests_per_minute_peak} "
                            + ("exceeds" if found.requests_per_minute_peak > rpm else "within")
                        ),
                        ok=None,
                        must_hold=False,
                    )
                )
    for mode in ("polling", "webhooks"):
        found = results.get(mode)
        if found:
            out.append(
                Target(
                    name=f"{mode}: worker peak RSS < {RSS_LIMIT_MIB:g} MiB",
                    measured=f"{found.peak_rss_mib} MiB",
                    ok=found.peak_rss_mib < RSS_LIMIT_MIB,
                    must_hold=size >= 1000,
                )
            )
    for mode, r in results.items():
        out.append(
            Target(
                name=f"{mode}: emulator not the bottleneck (CPU s / wall s)",
                measured=f"{r.emulator_cpu_share:g} ({r.emulator_cpu_s:g} s)",
                ok=r.emulator_cpu_share < EMULATOR_BUSY_SHARE,
                must_hold=False,
            )
        )
    return out


ROWS: list[tuple[str, str, bool]] = [
    # (field, label, lower is better)
    ("completed", "completed", False),
    ("lost", "lost", True),
    ("status_reads_per_run", "status reads / run", True),
    ("api_calls_per_run", "API calls / run", True),
    ("latency_p50_ms", "notice p50 (ms)", True),
    ("latency_p95_ms", "notice p95 (ms)", True),
    ("latency_max_ms", "notice max (ms)", True),
    ("runs_per_s", "runs / s", False),
    ("wall_s", "wall (s)", True),
    ("cpu_s_per_100", "CPU s / 100 runs", True),
    ("peak_rss_mib", "peak RSS (MiB)", True),
    ("rss_growth_mib_per_100", "RSS growth MiB / 100 runs", True),
    ("requests_per_minute_peak", "peak requests / min", True),
    ("emulator_cpu_s", "emulator CPU (s)", True),
]


def _cell(value: Any, base: Any, *, is_base: bool) -> str:
    if value is None:
        return "–"
    text = f"{value:g}" if isinstance(value, float) else str(value)
    if is_base or base in (None, 0) or not isinstance(value, int | float):
        return text
    return f"{text} [dim](×{float(value) / float(base):.2f})[/dim]"


def print_report(
    results: dict[str, ModeResult],
    checks: list[Target],
    *,
    size: int,
    rpm: int,
    durations: tuple[int, int],
) -> None:
    """Print the per-mode table (ratios against the naive loop) and the targets."""
    console = Console(width=160)
    low, high = durations
    budget = f"budget {rpm} rpm" if rpm else "no API budget"
    table = Table(
        title=f"durable-runs benchmark: {size} concurrent runs of {low / 1000:g}–{high / 1000:g} s,"
        f" {budget}"
    )
    table.add_column("metric")
    for mode in results:
        table.add_column(MODE_LABELS[mode], justify="right")
    base = results.get("naive")
    table.add_row("metered process", *(r.process for r in results.values()))
    for field, label, _ in ROWS:
        base_value = getattr(base, field) if base else None
        table.add_row(
            label,
            *(
                _cell(getattr(r, field), base_value, is_base=mode == "naive")
                for mode, r in results.items()
            ),
        )
    console.print(table)
    t = Table(title="targets")
    t.add_column("target")
    t.add_column("measured", justify="right")
    t.add_column("result")
    t.add_column("must hold")
    for c in checks:
        verdict = "–" if c.ok is None else ("[green]ok[/green]" if c.ok else "[red]FAIL[/red]")
        t.add_row(c.name, c.measured, verdict, "yes" if c.must_hold else "no")
    console.print(t)


def document(
    results: dict[str, ModeResult],
    checks: list[Target],
    *,
    size: int,
    rpm: int,
    durations: tuple[int, int],
) -> dict[str, Any]:
    """The JSON document: date, machine, parameters, per-mode figures, ratios and targets."""
    base = results.get("naive")
    ratios: dict[str, dict[str, float | None]] = {}
    for mode, r in results.items():
        ratios[mode] = {}
        for field, _, _ in ROWS:
            value, base_value = getattr(r, field), getattr(base, field) if base else None
            ok = isinstance(value, int | float) and isinstance(base_value, int | float)
            ratios[mode][field] = (
                round(float(value) / float(base_value), 3) if ok and base_value else None
            )
    return {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "size": size,
        "rpm_budget": rpm,
        "durations_ms": list(durations),
        "modes": {mode: r.model_dump() for mode, r in results.items()},
        "ratios_vs_naive": ratios,
        "targets": [c.model_dump() for c in checks],
        "ok": all(c.ok for c in checks if c.must_hold),
    }


def draw_chart(results: dict[str, ModeResult], path: Path, *, size: int, rpm: int) -> None:
    """A 2×3 bar chart of the main figures per mode (matplotlib, Agg)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [MODE_LABELS[m] for m in results]
    colors = ["#9e9e9e", "#bdbdbd", "#1f77b4", "#2ca02c"][: len(labels)]
    panels = [
        ("status_reads_per_run", "status reads / run"),
        ("api_calls_per_run", "API calls / run"),
        ("latency_p50_ms", "completion→notice p50 (ms)"),
        ("latency_p95_ms", "completion→notice p95 (ms)"),
        ("cpu_s_per_100", "CPU s / 100 runs (metered process)"),
        ("requests_per_minute_peak", "peak requests / min"),
    ]
    fig, axes = plt.subplots(2, 3, figsize=(15, 8))
    for ax, (field, title) in zip(axes.flat, panels, strict=True):
        values = [float(getattr(r, field) or 0) for r in results.values()]
        ax.bar(range(len(values)), values, color=colors)
        ax.set_xticks(range(len(values)), labels, rotation=20, ha="right", fontsize=8)
        ax.set_title(title, fontsize=10)
        for i, v in enumerate(values):
            ax.annotate(f"{v:g}", (i, v), ha="center", va="bottom", fontsize=8)
        if field == "requests_per_minute_peak" and rpm:
            ax.axhline(rpm, color="red", linestyle="--", linewidth=1, label=f"budget {rpm}")
            ax.legend(fontsize=8)
    fig.suptitle(f"durable-runs benchmark: {size} concurrent runs ({machine()['platform']})")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
