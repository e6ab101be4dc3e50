"""How payloads are kept in Temporal: the data converter every client and worker uses."""

from __future__ import annotations

import dataclasses

from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter

from durable_runs.payloads.storage import external_storage
from durable_runs.settings import Settings


def data_converter(settings: Settings) -> DataConverter:
    """The data converter of a client configured by `settings`.

    Typed pydantic payloads; those above the threshold in the S3 bucket when
    `DURABLE_RUNS_PAYLOAD_BUCKET` is set (`durable_runs.payloads.storage`).

    Args:
        settings: The environment's configuration.
    """
    return dataclasses.replace(pydantic_data_converter, external_storage=external_storage(settings))
