"""`python -m bench.run --size N`: the same workload in each mode, one process run, one report.

Starts its own Temporal dev server, emulator (child process) and bridge, runs the modes one
after the other (each with a fresh worker or client-loop process), prints the table, writes
`<out>/bench-<N>.json` and `<out>/bench-<N>.png`, stops everything, and exits 1 when a must-hold
target fails.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import secrets
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from openai import AsyncOpenAI

from bench.modes import ALL_MODES, Mode, ModeResult, Stack, run_mode
from bench.procs import API_KEY, emulator_process, temporal_server
from bench.report import document, draw_chart, print_report, targets
from bench.workload import DURATION_RANGE_MS, weather_tool_definition, workload
from bridge.server import running_bridge
from durable_runs.settings import Settings

DEFAULT_RPM = 0
"""Default API budget per minute: none, as a worker is configured by default (the README's
1,000-run figures use `--rpm 3000`, which binds)."""


def new_webhook_secret() -> str:
    """A fresh `whsec_...` secret for the emulator and the bridge."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


async def create_assistant(base_url: str) -> str:
    """The one assistant every mode's runs use (created before the counters are reset)."""
    client = AsyncOpenAI(base_url=base_url, api_key=API_KEY, max_retries=0)
    try:
        # The Assistants API is deprecated upstream; the benchmark drives it on purpose.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            assistant = await client.beta.assistants.create(
                model="gpt-4o-mini",
                name="bench",
                tools=[weather_tool_definition()],  # type: ignore[list-item]
            )
    finally:
        await client.close()
    return assistant.id


def duration_range(text: str) -> tuple[int, int]:
    """Parse `--durations LOW-HIGH` (milliseconds, 0 < LOW <= HIGH)."""
    low, sep, high = text.partition("-")
    try:
        bounds = (int(low), int(high))
    except ValueError:
        bounds = (0, 0)
    if not sep or not 0 < bounds[0] <= bounds[1]:
        raise argparse.ArgumentTypeError(
            f"expected LOW-HIGH in milliseconds with 0 < LOW <= HIGH, e.g. 200-5000; got {text!r}"
        )
    return bounds


async def benchmark(
    *,
    size: int,
    modes: Sequence[Mode],
    out_dir: Path,
    rpm: int = DEFAULT_RPM,
    durations: tuple[int, int] = DURATION_RANGE_MS,
) -> dict[str, ModeResult]:
    """Run the workload of `size` runs in each of `modes` (logs and scratch files in `out_dir`).

    Returns:
        The figures of each mode, in the order run.
    """
    specs = workload(size, durations)
    secret = new_webhook_secret()
    results: dict[str, ModeResult] = {}
    for mode in modes:
        # Fresh servers per mode: no mode runs on the threads, runs and objects the emulator
        # holds, or the history, visibility rows and task backlog Temporal holds, from an
        # earlier mode (with them, the last mode's emulator used about a quarter more CPU).
        async with emulator_process(out_dir) as emu, temporal_server() as client:
            assistant_id = await create_assistant(emu.base_url)
            address = client.service_client.config.target_host
            settings = Settings(OPENAI_WEBHOOK_SECRET=secret, TEMPORAL_ADDRESS=address)
            async with running_bridge(settings) as bridge:
                stack = Stack(
                    client=client,
                    temporal_address=address,
                    emulator=emu,
                    bridge_url=bridge.url,
                    webhook_secret=secret,
                    assistant_id=assistant_id,
                    out_dir=out_dir,
                    rpm=rpm,
                )
                print(f"· {mode}: {size} runs …", file=sys.stderr, flush=True)
                results[mode] = await run_mode(stack, mode, specs)
    return results


def run_benchmark(
    *,
    size: int,
    modes: Sequence[Mode],
    out_dir: Path,
    rpm: int = DEFAULT_RPM,
    durations: tuple[int, int] = DURATION_RANGE_MS,
) -> dict[str, Any]:
    """Run the benchmark, print the table, write `bench-<size>.json` and `.png` in `out_dir`.

    Returns:
        The JSON document (its `ok` is False when a must-hold target failed).
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    results = asyncio.run(
        benchmark(size=size, modes=modes, out_dir=out_dir, rpm=rpm, durations=durations)
    )
    checks = targets(results, size=size, rpm=rpm)
    print_report(results, checks, size=size, rpm=rpm, durations=durations)
    doc = document(results, checks, size=size, rpm=rpm, durations=durations)
    (out_dir / f"bench-{size}.json").write_text(json.dumps(doc, indent=2) + "\n")
    draw_chart(results, out_dir / f"bench-{size}.png", size=size, rpm=rpm)
    return doc


def main(argv: Sequence[str] | None = None) -> int:
    """Command line; returns the exit status (1 when a must-hold target fails)."""
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    parser.add_argument("--size", type=int, default=10, help="concurrent runs (10, 100, 1000)")
    parser.add_argument("--modes", nargs="+", choices=ALL_MODES, default=list(ALL_MODES))
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
    args = parser.parse_args(argv)
    if args.size < 1:
        parser.error("--size must be at least 1")
    doc = run_benchmark(
        size=args.size, modes=args.modes, out_dir=args.out, rpm=args.rpm, durations=args.durations
    )
    return 0 if doc["ok"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
