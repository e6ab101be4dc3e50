"""Chat tests: `--chat-turns N` sets the long session's length (e.g. `--chat-turns 1000`)."""

from __future__ import annotations

import pytest

DEFAULT_TURNS = 200
"""The long session in CI: enough for two continue-as-new and a third run; history per run does
not depend on it (1,000 turns: `--chat-turns 1000`, figures in the README)."""


def pytest_addoption(parser: pytest.Parser) -> None:
    """Add `--chat-turns`."""
    parser.addoption(
        "--chat-turns",
        type=int,
        default=DEFAULT_TURNS,
        help=f"turns of the long chat session test (default {DEFAULT_TURNS})",
    )


@pytest.fixture
def chat_turns_count(request: pytest.FixtureRequest) -> int:
    """How many turns the long session test sends."""
    turns: int = request.config.getoption("--chat-turns")
    return turns
