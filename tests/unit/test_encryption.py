"""The payload codec: no plaintext out, rotation, and clear failures (no server needed)."""

from __future__ import annotations

import base64
import os

import pytest
from pydantic import ValidationError
from temporalio.api.common.v1 import Payload

from durable_runs.codec_keys import CodecKey, CodecKeysError, parse_codec_keys
from durable_runs.models import RunRequest
from durable_runs.payloads import data_converter
from durable_runs.payloads.encryption import (
    KEY_ID_METADATA,
    EncryptionCodec,
    PayloadDecryptionError,
)
from durable_runs.settings import Settings

PROMPT = "What is the secret of the blue heron? 7f3a9c"


def new_key(key_id: str) -> CodecKey:
    """A fresh random key."""
    return parse_codec_keys(f"{key_id}:{base64.b64encode(os.urandom(32)).decode()}")[0]


def plain_payload(text: str = PROMPT) -> Payload:
    return Payload(metadata={"encoding": b"json/plain"}, data=f'"{text}"'.encode())


async def test_encoded_payload_holds_no_plaintext_and_decodes_back() -> None:
    codec = EncryptionCodec([new_key("k1")])
    original = plain_payload()
    [encoded] = await codec.encode([original])
    wire = encoded.SerializeToString()
    assert PROMPT.encode() not in wire
    assert b"json/plain" not in wire  # the original metadata is encrypted too
    assert encoded.metadata[KEY_ID_METADATA] == b"k1"
    assert await codec.decode([encoded]) == [original]


async def test_each_payload_gets_its_own_nonce() -> None:
    codec = EncryptionCodec([new_key("k1")])
    first, second = await codec.encode([plain_payload(), plain_payload()])
    assert first.data != second.data


async def test_whole_data_converter_encrypts_requests() -> None:
    key = new_key("k1")
    converter = data_converter(Settings(codec_keys=(key,)))
    [payload] = await converter.encode([RunRequest(messages=[PROMPT])])
    assert PROMPT.encode() not in payload.SerializeToString()
    [back] = await converter.decode([payload], [RunRequest])
    assert back.messages == [PROMPT]


async def test_rotation_old_key_decrypts_new_key_encrypts() -> None:
    old, new = new_key("old"), new_key("new")
    [written] = await EncryptionCodec([old]).encode([plain_payload()])
    rotated = EncryptionCodec([new, old])
    assert await rotated.decode([written]) == [plain_payload()]
    [rewritten] = await rotated.encode([plain_payload()])
    assert rewritten.metadata[KEY_ID_METADATA] == b"new"


async def test_unknown_key_id_fails_naming_it() -> None:
    [written] = await EncryptionCodec([new_key("retired")]).encode([plain_payload()])
    with pytest.raises(PayloadDecryptionError, match="'retired'.*DURABLE_RUNS_CODEC_KEYS"):
        await EncryptionCodec([new_key("current")]).decode([written])


async def test_wrong_key_under_the_same_id_fails_the_tag() -> None:
    [written] = await EncryptionCodec([new_key("k1")]).encode([plain_payload()])
    with pytest.raises(PayloadDecryptionError, match="integrity check"):
        await EncryptionCodec([new_key("k1")]).decode([written])


async def test_tampered_ciphertext_fails_the_tag() -> None:
    codec = EncryptionCodec([new_key("k1")])
    [written] = await codec.encode([plain_payload()])
    flipped = bytearray(written.data)
    flipped[-1] ^= 1
    tampered = Payload(metadata=dict(written.metadata), data=bytes(flipped))
    with pytest.raises(PayloadDecryptionError, match="integrity check"):
        await codec.decode([tampered])


async def test_unencrypted_payloads_decode_as_they_are() -> None:
    assert await EncryptionCodec([new_key("k1")]).decode([plain_payload()]) == [plain_payload()]


def test_codec_keys_variable_is_parsed_in_order() -> None:
    one, two = (base64.b64encode(os.urandom(32)).decode() for _ in range(2))
    keys = Settings.model_validate({"DURABLE_RUNS_CODEC_KEYS": f"new:{one}, old:{two}"}).codec_keys
    assert [k.key_id for k in keys] == ["new", "old"]
    assert Settings.model_validate({}).codec_keys == ()


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("k1", "entry 1: expected KEY_ID:BASE64_KEY"),
        (f"k1:{base64.b64encode(b'short').decode()}", "5 bytes, AES-256 needs 32"),
        ("k1:not base64!", "not base64"),
        (f"k 1:{base64.b64encode(bytes(32)).decode()}", "key id 'k 1'"),
        (
            f"k1:{base64.b64encode(bytes(32)).decode()},k1:{base64.b64encode(bytes(32)).decode()}",
            "entry 2: key id 'k1' is given twice",
        ),
    ],
)
def test_bad_codec_keys_name_the_variable(value: str, message: str) -> None:
    with pytest.raises(CodecKeysError, match="DURABLE_RUNS_CODEC_KEYS") as raised:
        parse_codec_keys(value)
    assert message in str(raised.value)
    with pytest.raises(ValidationError) as invalid:
        Settings.model_validate({"DURABLE_RUNS_CODEC_KEYS": value})
    assert "DURABLE_RUNS_CODEC_KEYS" in str(invalid.value)
    assert value not in str(invalid.value)  # a key never lands in an error message
