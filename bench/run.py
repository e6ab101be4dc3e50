"""`python -m bench.run --size N`: the same workload in each mode of each backend, one report.

Tables: Responses first (the seed's loop ported to background responses, durable polling, durable
webhooks on the `response.*` events OpenAI sends), then Assistants (the seed's loop, the SDK's
`create_and_poll`, durable polling, durable webhooks on the emulator's `thread_run_webhooks`
extension). Each mode runs on processes started for it alone (emulator; Temporal dev server,
worker and, for webhook mode, the bridge), each of them metered. Prints the tables and the
targets, writes `<out>/bench-<N>.json` and `<out>/bench-<N>.png` (the first table), and exits 1
when a run was lost or did not complete; missed speed targets are printed, not fatal.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import secrets
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from bench.modes import (
    ALL_MODES,
    BACKEND_MODES,
    BACKENDS,
    DEFAULT_POLL,
    EXTRA_MODES,
    BenchConfig,
    Mode,
    run_mode,
)
from bench.report import Results, document, draw_chart, print_report, targets
from bench.workload import DURATION_RANGE_MS, NO_WEBHOOK_DELAY_MS, workload
from durable_runs.models import Backend, PollPolicy

DEFAULT_RPM = 0
"""Default API budget per minute: none, as a worker is configured by default (the README's
1,000-run figures use `--rpm 3000`, which binds)."""


def new_webhook_secret() -> str:
    """A fresh `whsec_...` secret for the emulator and the bridge."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def _bounds(text: str, *, allow_zero: bool, single: bool) -> tuple[int, int] | None:
    low, sep, high = text.partition("-")
    if not sep and single:
        high = low
    try:
        bounds = (int(low), int(high))
    except ValueError:
        return None
    floor = 0 if allow_zero else 1
    return bounds if floor <= bounds[0] <= bounds[1] else None


def duration_range(text: str) -> tuple[int, int]:
    """Parse `--durations LOW-HIGH` (milliseconds, 0 < LOW <= HIGH)."""
    bounds = _bounds(text, allow_zero=False, single=False)
    if bounds is None:
        raise argparse.ArgumentTypeError(
            f"expected LOW-HIGH in milliseconds with 0 < LOW <= HIGH, e.g. 200-5000; got {text!r}"
        )
    return bounds


def delay_range(text: str) -> tuple[int, int]:
    """Parse `--webhook-delay-ms N` (every event) or `LOW-HIGH` (uniform), milliseconds >= 0."""
    bounds = _bounds(text, allow_zero=True, single=True)
    if bounds is None:
        raise argparse.ArgumentTypeError(
            f"expected N or LOW-HIGH in milliseconds with 0 <= LOW <= HIGH, e.g. 50-500; "
            f"got {text!r}"
        )
    return bounds


def poll_policy(text: str) -> PollPolicy:
    """Parse `--poll JSON`: fields of the durable runs' `PollPolicy`."""
    try:
        return PollPolicy.model_validate_json(text)
    except ValidationError as err:
        raise argparse.ArgumentTypeError(f"not a PollPolicy: {err}") from err


def backend_list(text: str) -> list[Backend]:
    """Parse `--backends responses,assistants` (printed Responses first whatever the order)."""
    names = {part.strip() for part in text.split(",") if part.strip()}
    unknown = sorted(names - set(BACKENDS))
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"expected a comma-separated list of {', '.join(BACKENDS)}; got {text!r}"
        )
    return [b for b in BACKENDS if b in names]


async def benchmark(
    *,
    size: int,
    backends: Sequence[Backend],
    modes: Sequence[Mode],
    out_dir: Path,
    rpm: int = DEFAULT_RPM,
    durations: tuple[int, int] = DURATION_RANGE_MS,
    webhook_delay_ms: tuple[int, int] = NO_WEBHOOK_DELAY_MS,
    poll: PollPolicy = DEFAULT_POLL,
) -> Results:
    """Run the workload of `size` runs in each of `modes` that exists on each backend.

    Returns:
        The figures per backend (Responses first) and mode, in the order run.
    """
    specs = workload(size, durations, webhook_delay_ms)
    config = BenchConfig(out_dir=out_dir, rpm=rpm, webhook_secret=new_webhook_secret(), poll=poll)
    results: Results = {}
    for backend in [b for b in BACKENDS if b in backends]:
        for mode in [m for m in BACKEND_MODES[backend] if m in modes]:
            print(f"· {backend} {mode}: {size} runs …", file=sys.stderr, flush=True)
            results.setdefault(backend, {})[mode] = await run_mode(config, backend, mode, specs)
    return results


def run_benchmark(
    *,
    size: int,
    out_dir: Path,
    backends: Sequence[Backend] = BACKENDS,
    modes: Sequence[Mode] = ALL_MODES,
    rpm: int = DEFAULT_RPM,
    durations: tuple[int, int] = DURATION_RANGE_MS,
    webhook_delay_ms: tuple[int, int] = NO_WEBHOOK_DELAY_MS,
    poll: PollPolicy = DEFAULT_POLL,
) -> dict[str, Any]:
    """Run the benchmark, print the tables, write `bench-<size>.json` and `.png` in `out_dir`.

    Returns:
        The JSON document (its `ok` is False when a run was lost or did not complete).
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    results = asyncio.run(
        benchmark(
            size=size,
            backends=backends,
            modes=modes,
            out_dir=out_dir,
            rpm=rpm,
            durations=durations,
            webhook_delay_ms=webhook_delay_ms,
            poll=poll,
        )
    )
    params: dict[str, Any] = {
        "size": size,
        "rpm": rpm,
        "durations": durations,
        "webhook_delay_ms": webhook_delay_ms,
        "poll": poll,
    }
    checks = targets(results, size=size, rpm=rpm, longest_s=durations[1] / 1000, poll=poll)
    doc = document(results, checks, **params)
    print_report(results, checks, titles={t["backend"]: t["title"] for t in doc["tables"]})
    (out_dir / f"bench-{size}.json").write_text(json.dumps(doc, indent=2) + "\n")
    if any(results.values()):
        draw_chart(results, out_dir / f"bench-{size}.png", size=size)
    return doc


def main(argv: Sequence[str] | None = None) -> int:
    """Command line; returns the exit status (1 when a run was lost or did not complete)."""
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    parser.add_argument("--size", type=int, default=10, help="concurrent runs (10, 100, 1000)")
    parser.add_argument(
        "--backends",
        type=backend_list,
        default=list(BACKENDS),
        metavar="responses,assistants",
        help="which tables to measure (default both; Responses is always printed first)",
    )
    parser.add_argument(
        "--modes",
        nargs="+",
        choices=ALL_MODES + EXTRA_MODES,
        default=list(ALL_MODES),
        help="modes to run on each backend (default: all but webhooks_lost; sdk exists on "
        "Assistants only, webhooks_lost on Responses only)",
    )
    parser.add_argument("--out", type=Path, default=Path("bench/out"))
    parser.add_argument(
        "--rpm", type=int, default=DEFAULT_RPM, help="API budget per minute (0: unlimited)"
    )
    parser.add_argument(
        "--durations",
        type=duration_range,
        default=DURATION_RANGE_MS,
        metavar="LOW-HIGH",
        help="model time of the runs without tools, spread evenly over LOW-HIGH ms "
        "(default %(default)s)",
    )
    parser.add_argument(
        "--webhook-delay-ms",
        type=delay_range,
        default=NO_WEBHOOK_DELAY_MS,
        metavar="N|LOW-HIGH",
        help="hold each webhook event N ms (or uniform over LOW-HIGH, drawn per run) before "
        "its first delivery attempt (default 0)",
    )
    parser.add_argument(
        "--poll",
        type=poll_policy,
        default=DEFAULT_POLL,
        metavar="JSON",
        help="the durable runs' PollPolicy fields as JSON, e.g. "
        '\'{"initial_interval_s": 10, "backoff": 2, "max_interval_s": 120, "deadline_s": 1800}\' '
        "(default: the defaults; webhook modes set webhooks)",
    )
    args = parser.parse_args(argv)
    if args.size < 1:
        parser.error("--size must be at least 1")
    doc = run_benchmark(
        size=args.size,
        out_dir=args.out,
        backends=args.backends,
        modes=args.modes,
        rpm=args.rpm,
        durations=args.durations,
        webhook_delay_ms=args.webhook_delay_ms,
        poll=args.poll,
    )
    return 0 if doc["ok"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
