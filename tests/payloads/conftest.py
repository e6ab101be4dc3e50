"""A real S3-compatible server (moto's server mode, a child process) and a bucket per test."""

from __future__ import annotations

import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from durable_runs.processes import Part, child_env, free_port, http_check

REGION = "us-east-1"


@dataclass(frozen=True)
class S3Server:
    """The running server: where it listens, and a client of it."""

    endpoint: str
    s3: Any
    """A boto3 S3 client of it."""


@pytest.fixture(scope="session")
async def s3_server(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[S3Server]:
    """moto's S3 server as its own process on a free port (`python -m moto.server`)."""
    port = free_port()
    logs: Path = tmp_path_factory.mktemp("moto")
    argv = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    endpoint = f"http://127.0.0.1:{port}"
    part = Part("moto", argv, logs / "moto.log", child_env(), http_check(f"{endpoint}/moto-api/"))
    await part.launch(bound_s=30)
    try:
        s3 = boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        yield S3Server(endpoint=endpoint, s3=s3)
    finally:
        await part.stop()


@pytest.fixture
def bucket(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A new bucket, and boto's standard variables pointing this process at the server."""
    name = f"payloads-{uuid.uuid4().hex[:12]}"
    s3_server.s3.create_bucket(Bucket=name)
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", s3_server.endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_REGION", REGION)
    yield name
