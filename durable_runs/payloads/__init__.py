"""How payloads are kept in Temporal: the data converter every client and worker uses."""

from __future__ import annotations

import dataclasses

from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter, DefaultFailureConverterWithEncodedAttributes

from durable_runs.payloads.encryption import EncryptionCodec
from durable_runs.payloads.storage import external_storage
from durable_runs.settings import Settings


def data_converter(settings: Settings) -> DataConverter:
    """The data converter of a client configured by `settings`.

    Typed pydantic payloads; those above the threshold in the S3 bucket when
    `DURABLE_RUNS_PAYLOAD_BUCKET` is set (`durable_runs.payloads.storage`).

    With `DURABLE_RUNS_CODEC_KEYS` set, every payload is encrypted (`EncryptionCodec`), and so
    are failure messages and stack traces (moved into the failure's encoded attributes), since
    an error may quote a prompt or an answer.

    Args:
        settings: The environment's configuration.
    """
    converter = pydantic_data_converter
    storage = external_storage(settings)
    if storage is not None:
        converter = dataclasses.replace(converter, external_storage=storage)
    if settings.codec_keys:
        converter = dataclasses.replace(
            converter,
            payload_codec=EncryptionCodec(settings.codec_keys),
            failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
        )
    return converter
