"""Serve the emulator in its own process, so its CPU time is its own (`process_cpu_seconds`)."""

from __future__ import annotations

import argparse

import uvicorn

from emulator.app import create_app
from emulator.config import EmulatorConfig


def main() -> None:
    """Parse `--port` and serve on 127.0.0.1 until terminated (no access log: it costs CPU)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    uvicorn.run(
        create_app(EmulatorConfig()),
        host="127.0.0.1",
        port=args.port,
        log_level="warning",
        access_log=False,
        backlog=4096,
    )


if __name__ == "__main__":
    main()
