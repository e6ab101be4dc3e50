"""Settings read from the environment: an empty variable is an unset one."""

from __future__ import annotations

import pytest

from durable_runs.settings import Settings


def test_an_empty_variable_keeps_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    """Compose's `VAR: ${VAR:-}` passes "" when the operator set nothing: defaults apply."""
    monkeypatch.setenv("OPENAI_WEBHOOK_SECRET", "")
    monkeypatch.setenv("DURABLE_RUNS_LOG_FORMAT", "")
    monkeypatch.setenv("DURABLE_RUNS_CODEC_KEYS", "")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.openai_webhook_secret is None
    assert settings.log_format == "text"
    assert settings.codec_keys == ()


def test_a_set_variable_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DURABLE_RUNS_LOG_FORMAT", "json")
    assert Settings(_env_file=None).log_format == "json"  # type: ignore[call-arg]
