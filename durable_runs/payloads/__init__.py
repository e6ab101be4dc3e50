"""How payloads are kept in Temporal: the data converter every client and worker uses."""

from __future__ import annotations

from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter

from durable_runs.settings import Settings


def data_converter(settings: Settings) -> DataConverter:
    """The data converter of a client configured by `settings`: typed pydantic payloads.

    Args:
        settings: The environment's configuration.
    """
    del settings
    return pydantic_data_converter
