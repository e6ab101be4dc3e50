"""The scale-out suite: select it alone with `pytest tests/scale` (or `-m scale`)."""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    """Register the `scale` marker."""
    config.addinivalue_line(
        "markers", "scale: several worker and bridge processes under load, some killed"
    )
