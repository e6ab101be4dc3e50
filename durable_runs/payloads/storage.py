"""Large payloads out of history: Temporal's external storage on an S3 bucket.

A payload of at least `DURABLE_RUNS_PAYLOAD_THRESHOLD_BYTES` (a big tool output, a long answer,
a run's result) is written to `DURABLE_RUNS_PAYLOAD_BUCKET` by the SDK's S3 driver, and history
keeps a small reference to it. Every client and worker that reads such a payload needs the same
bucket (they all get their converter from `durable_runs.payloads.data_converter`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from temporalio.contrib.aws.s3driver import S3StorageDriver, S3StorageDriverClient
from temporalio.converter import ExternalStorage

from durable_runs.settings import Settings

if TYPE_CHECKING:
    import aioboto3
    from types_aiobotocore_s3.client import S3Client


class S3Objects(S3StorageDriverClient):
    """The S3 driver's object operations, each on an aioboto3 client of its own.

    A client opened per operation lives and dies inside it: nothing outlives the event loop
    that opened it, so the converter needs no lifetime of its own and works in any process and
    loop (worker, CLI, bridge). The session is shared: it keeps the credentials and the loaded
    service model, so opening a client is cheap next to moving a payload of this size.
    """

    def __init__(self, session: aioboto3.Session | None = None) -> None:
        """Args:
        session: The aioboto3 session; by default one configured by the `AWS_*` variables
            and files, as boto reads them.
        """
        if session is None:
            # boto takes a noticeable share of a second to import: only processes with a
            # bucket set pay for it.
            import aioboto3

            session = aioboto3.Session()
        self._session = session

    async def put_object(self, *, bucket: str, key: str, data: bytes) -> None:
        """Upload `data` to `bucket`/`key`."""
        async with self._session.client("s3") as s3:
            await _adapter(s3).put_object(bucket=bucket, key=key, data=data)

    async def object_exists(self, *, bucket: str, key: str) -> bool:
        """True when `bucket`/`key` exists."""
        async with self._session.client("s3") as s3:
            return await _adapter(s3).object_exists(bucket=bucket, key=key)

    async def get_object(self, *, bucket: str, key: str) -> bytes:
        """The bytes at `bucket`/`key`."""
        async with self._session.client("s3") as s3:
            return await _adapter(s3).get_object(bucket=bucket, key=key)

    def describe(self) -> Mapping[str, str]:
        """The region, for the driver's error messages (a wrong one answers 403)."""
        region = self._session.region_name
        return {"client_region": region} if region else {}


def external_storage(settings: Settings) -> ExternalStorage | None:
    """The external storage `settings` configure: the S3 bucket, or None when none is set.

    Args:
        settings: `payload_bucket` and `payload_threshold_bytes`.
    """
    if not settings.payload_bucket:
        return None
    driver = S3StorageDriver(client=S3Objects(), bucket=settings.payload_bucket)
    return ExternalStorage(
        drivers=[driver], payload_size_threshold=settings.payload_threshold_bytes
    )


def _adapter(s3: S3Client) -> S3StorageDriverClient:
    """The SDK's adapter of an open aioboto3 client (imported with boto, on first use)."""
    from temporalio.contrib.aws.s3driver.aioboto3 import new_aioboto3_client

    return new_aioboto3_client(s3)
