"""The codec server over real HTTP (uvicorn on a free port): Temporal's remote codec protocol,
its bearer token, its namespace and CORS for the UI's origin; and the `temporal` CLI reading an
encrypted run's history through it."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from pydantic import SecretStr, ValidationError
from temporalio.api.common.v1 import Payload
from temporalio.client import Client

from durable_runs import client as api
from durable_runs.codec_keys import parse_codec_keys
from durable_runs.codec_server import create_app
from durable_runs.devserver import temporal_cli
from durable_runs.models import RunRequest
from durable_runs.payloads import data_converter
from durable_runs.payloads.encryption import EncryptionCodec
from durable_runs.serving import Served, serving
from durable_runs.settings import Settings
from tests.cli.helpers import cli, env_vars
from tests.conftest import WorkerFactory
from tests.workflows.helpers import FAST_POLL

TOKEN = "codec-test-token"
UI_ORIGIN = "http://localhost:8233"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
PROMPT = "Tell nobody: the heron flies at dawn"


def codec_settings(**overrides: Any) -> Settings:
    """Settings with a fresh key, the test token and the dev UI's origin."""
    key = base64.b64encode(os.urandom(32)).decode()
    fields: dict[str, Any] = {
        "codec_keys": parse_codec_keys(f"k1:{key}"),
        "codec_token": SecretStr(TOKEN),
        "codec_cors_origins": UI_ORIGIN,
        **overrides,
    }
    return Settings(**fields)


@pytest.fixture(scope="module")
def settings() -> Settings:
    return codec_settings()


@pytest.fixture(scope="module")
async def codec_server(settings: Settings) -> AsyncIterator[Served]:
    async with serving(create_app(settings)) as served:
        yield served


@pytest.fixture
async def http(codec_server: Served) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=codec_server.root_url) as client:
        yield client


def body_of(*payloads: Payload) -> dict[str, Any]:
    """`{"payloads": [...]}` in Temporal's protobuf JSON (bytes as base64), as the UI sends it."""
    return {
        "payloads": [
            {
                "metadata": {k: base64.b64encode(v).decode() for k, v in p.metadata.items()},
                "data": base64.b64encode(p.data).decode(),
            }
            for p in payloads
        ]
    }


def payloads_of(body: dict[str, Any]) -> list[Payload]:
    return [
        Payload(
            metadata={k: base64.b64decode(v) for k, v in p.get("metadata", {}).items()},
            data=base64.b64decode(p.get("data", "")),
        )
        for p in body["payloads"]
    ]


def payload_texts(node: Any) -> str:
    """The data of every payload in a history as JSON (where it is base64), decoded, one a line."""
    if isinstance(node, list):
        return "\n".join(payload_texts(item) for item in node)
    if not isinstance(node, dict):
        return ""
    if isinstance(node.get("metadata"), dict) and isinstance(node.get("data"), str):
        return base64.b64decode(node["data"]).decode(errors="replace")
    return "\n".join(payload_texts(value) for value in node.values())


async def test_encode_then_decode_round_trip(http: httpx.AsyncClient) -> None:
    original = Payload(metadata={"encoding": b"json/plain"}, data=json.dumps(PROMPT).encode())
    headers = {**AUTH, "X-Namespace": "default"}
    encoded = await http.post("/encode", json=body_of(original), headers=headers)
    assert encoded.status_code == 200, encoded.text
    [sealed] = payloads_of(encoded.json())
    assert sealed.metadata["encoding"] == b"binary/encrypted"
    assert PROMPT.encode() not in sealed.SerializeToString()
    decoded = await http.post("/decode", json=encoded.json(), headers=headers)
    assert decoded.status_code == 200, decoded.text
    assert payloads_of(decoded.json()) == [original]


async def test_decodes_what_a_worker_encrypted(http: httpx.AsyncClient, settings: Settings) -> None:
    [sealed] = await data_converter(settings).encode([RunRequest(messages=[PROMPT])])
    decoded = await http.post("/decode", json=body_of(sealed), headers=AUTH)
    [plain] = payloads_of(decoded.json())
    assert json.loads(plain.data)["messages"] == [PROMPT]


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}],
    ids=["no-token", "wrong-token", "no-bearer-scheme"],
)
async def test_refuses_requests_without_the_token(
    http: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    response = await http.post("/decode", json={"payloads": []}, headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


async def test_without_a_token_configured_anyone_may_call(settings: Settings) -> None:
    open_settings = settings.model_copy(update={"codec_token": None})
    async with (
        serving(create_app(open_settings)) as served,
        httpx.AsyncClient(base_url=served.root_url) as http,
    ):
        response = await http.post("/decode", json={"payloads": []})
    assert response.status_code == 200


async def test_refuses_another_namespace(http: httpx.AsyncClient) -> None:
    response = await http.post(
        "/decode", json={"payloads": []}, headers={**AUTH, "X-Namespace": "payments"}
    )
    assert response.status_code == 403
    assert "'default'" in response.text


async def test_unknown_key_and_bad_body_are_clear_400s(http: httpx.AsyncClient) -> None:
    [foreign] = await EncryptionCodec(codec_settings().codec_keys).encode([Payload(data=b"x")])
    foreign.metadata["encryption-key-id"] = b"retired-key"
    response = await http.post("/decode", json=body_of(foreign), headers=AUTH)
    assert response.status_code == 400
    assert "'retired-key'" in response.json()["detail"]
    bad = await http.post("/decode", content=b"not json", headers=AUTH)
    assert bad.status_code == 400


async def test_cors_preflight_admits_the_ui_origin_only(http: httpx.AsyncClient) -> None:
    def preflight(origin: str) -> dict[str, str]:
        return {
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type,x-namespace,authorization",
        }

    allowed = await http.options("/decode", headers=preflight(UI_ORIGIN))
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == UI_ORIGIN
    assert "authorization" in allowed.headers["access-control-allow-headers"].lower()
    # The answer to the real request carries the header too, so the browser hands it to the UI.
    posted = await http.post(
        "/decode", json={"payloads": []}, headers={**AUTH, "Origin": UI_ORIGIN}
    )
    assert posted.headers["access-control-allow-origin"] == UI_ORIGIN

    other = "http://evil.example"
    refused = await http.options("/decode", headers=preflight(other))
    assert refused.status_code == 400
    assert "access-control-allow-origin" not in refused.headers
    posted = await http.post("/decode", json={"payloads": []}, headers={**AUTH, "Origin": other})
    assert "access-control-allow-origin" not in posted.headers  # the browser withholds it


async def test_temporal_cli_reads_an_encrypted_history_through_it(
    client: Client, worker_factory: WorkerFactory, settings: Settings, codec_server: Served
) -> None:
    encrypting = Client(
        client.service_client, namespace=client.namespace, data_converter=data_converter(settings)
    )
    mark = uuid.uuid4().hex[:8]
    prompt = f"{PROMPT} {mark}"
    async with worker_factory(encrypting) as queue:
        handle = await api.start_run(
            encrypting, RunRequest(messages=[prompt], poll=FAST_POLL), task_queue=queue
        )
        answer = (await handle.result()).answer
    address = client.service_client.config.target_host

    async def show(*codec: str) -> str:
        process = await asyncio.create_subprocess_exec(
            str(temporal_cli()),
            *("workflow", "show", "-w", handle.id, "--address", address, "-o", "json"),
            *codec,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(process.communicate(), timeout=30)
        assert process.returncode == 0, err.decode()
        return payload_texts(json.loads(out))

    through_codec = await show(
        "--codec-endpoint", codec_server.root_url, "--codec-auth", f"Bearer {TOKEN}"
    )
    assert mark in through_codec
    assert json.dumps(answer, ensure_ascii=False)[1:-1] in through_codec  # as JSON holds it
    assert mark not in await show()  # without the codec server: ciphertext only


@pytest.mark.parametrize(
    ("keys", "named"),
    [(None, "DURABLE_RUNS_CODEC_KEYS is not set"), ("k1:AAAA", "the key is 3 bytes")],
    ids=["no-keys", "short-key"],
)
async def test_cli_refuses_to_start_without_valid_keys(
    keys: str | None,
    named: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`durable-runs codec-server` without keys, or with a bad one, exits naming the variable."""
    with env_vars(monkeypatch, DURABLE_RUNS_CODEC_KEYS=keys):
        if keys is None:
            ran = await cli(["codec-server", "--port", "1"], capsys)
            assert ran.code == 1 and ran.err.count("\n") == 1
            assert named in ran.err
        else:
            with pytest.raises(ValidationError, match=named):
                await cli(["codec-server", "--port", "1"], capsys)
