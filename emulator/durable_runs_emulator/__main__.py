"""`durable-runs-emulator` (`python -m durable_runs_emulator`): serve the emulator until stopped."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from durable_runs_emulator.config import EmulatorConfig
from durable_runs_emulator.server import DEFAULT_PORT, serve


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line, with `--webhook-secret` defaulting to `OPENAI_WEBHOOK_SECRET`."""
    parser = argparse.ArgumentParser(
        prog="durable-runs-emulator",
        description="Serve the OpenAI-compatible emulator (Assistants and Responses APIs, "
        "scenario knobs, signed webhooks). Point OPENAI_BASE_URL at http://HOST:PORT/v1.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="default %(default)s")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="default %(default)s")
    parser.add_argument("--webhook-url", help="POST signed webhook events here (the bridge)")
    parser.add_argument(
        "--webhook-secret",
        help="whsec_ signing secret (default: OPENAI_WEBHOOK_SECRET; prefer the env variable)",
    )
    parser.add_argument(
        "--assistants-removed",
        action="store_true",
        help="answer 404 on every Assistants path, as after the API's shutdown",
    )
    parser.add_argument(
        "--thread-run-webhooks",
        action="store_true",
        help="emulator extension: also send thread.run.* events with the run in the body "
        "(OpenAI sends none; for tests of the seed's Assistants backend)",
    )
    parser.add_argument(
        "--quiet", action="store_true", help="no access log (it costs CPU under load)"
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Serve until interrupted; 2 with a message when the flags do not fit together."""
    args = parse_args(argv)
    secret = args.webhook_secret or os.environ.get("OPENAI_WEBHOOK_SECRET")
    if args.webhook_url and not secret:
        print(
            "error: --webhook-url needs a signing secret: pass --webhook-secret or set "
            "OPENAI_WEBHOOK_SECRET",
            file=sys.stderr,
        )
        return 2
    config = EmulatorConfig(
        webhook_url=args.webhook_url,
        webhook_secret=secret if args.webhook_url else None,
        assistants_removed=args.assistants_removed,
        thread_run_webhooks=args.thread_run_webhooks,
    )
    serve(config, host=args.host, port=args.port, quiet=args.quiet)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
