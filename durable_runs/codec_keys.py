"""The payload encryption keys of `DURABLE_RUNS_CODEC_KEYS`: parsed and checked at startup."""

from __future__ import annotations

import base64
import binascii
import re

from pydantic import BaseModel, ConfigDict, SecretBytes

CODEC_KEYS_VARIABLE = "DURABLE_RUNS_CODEC_KEYS"
KEY_BYTES = 32
"""AES-256 keys are 32 bytes."""
KEY_ID_PATTERN = re.compile(r"[A-Za-z0-9._-]{1,64}")
"""What a key id may be: it is written in clear into every encrypted payload's metadata."""


class CodecKeysError(ValueError):
    """`DURABLE_RUNS_CODEC_KEYS` is malformed; the message names the variable and the entry."""


class CodecKey(BaseModel):
    """One AES-256 key and the id payloads name it by.

    Attributes:
        key_id: The id written into the metadata of each payload the key encrypts.
        key: The 32 key bytes (kept out of reprs and logs).
    """

    model_config = ConfigDict(frozen=True)

    key_id: str
    key: SecretBytes


def parse_codec_keys(text: str) -> tuple[CodecKey, ...]:
    """Parse `id:base64key,id:base64key,...`: the first key encrypts, the others only decrypt.

    Args:
        text: The variable's value; blank means encryption off.

    Returns:
        The keys in the order given (empty when `text` is blank).

    Raises:
        CodecKeysError: An entry lacks its `:`, an id is invalid or repeated, or a key is not
            standard base64 of exactly 32 bytes.
    """
    keys: list[CodecKey] = []
    for position, entry in enumerate((e.strip() for e in text.split(",") if e.strip()), 1):
        key_id, sep, encoded = entry.partition(":")
        key_id = key_id.strip()
        where = f"{CODEC_KEYS_VARIABLE}, entry {position}"
        if not sep:
            raise CodecKeysError(f"{where}: expected KEY_ID:BASE64_KEY")
        if not KEY_ID_PATTERN.fullmatch(key_id):
            raise CodecKeysError(f"{where}: key id {key_id!r} must be 1 to 64 of A-Z a-z 0-9 . _ -")
        if any(k.key_id == key_id for k in keys):
            raise CodecKeysError(f"{where}: key id {key_id!r} is given twice")
        try:
            raw = base64.b64decode(encoded.strip(), validate=True)
        except binascii.Error as err:
            raise CodecKeysError(f"{where} ({key_id}): the key is not base64: {err}") from err
        if len(raw) != KEY_BYTES:
            raise CodecKeysError(
                f"{where} ({key_id}): the key is {len(raw)} bytes, AES-256 needs {KEY_BYTES} "
                "(make one with `openssl rand -base64 32`)"
            )
        keys.append(CodecKey(key_id=key_id, key=SecretBytes(raw)))
    return tuple(keys)
