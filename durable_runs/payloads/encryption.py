"""AES-256-GCM encryption of every payload Temporal stores, with a key id for rotation.

The format is the one of Temporal's encryption samples, so their codec servers and other SDKs'
samples read it: metadata `encoding: binary/encrypted` and `encryption-key-id: <id>`; data is
a random 96-bit nonce followed by the AES-GCM ciphertext (with its tag) of the whole serialized
original payload (its metadata included).
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadCodec

from durable_runs.codec_keys import CODEC_KEYS_VARIABLE, CodecKey

ENCRYPTED_ENCODING = b"binary/encrypted"
"""`encoding` metadata of an encrypted payload."""
KEY_ID_METADATA = "encryption-key-id"
"""Metadata naming the key that encrypted a payload."""
NONCE_BYTES = 12
"""AES-GCM's standard 96-bit nonce, fresh and random for each payload."""


class PayloadDecryptionError(ValueError):
    """An encrypted payload cannot be decrypted: its key is unknown or its data was altered."""


class EncryptionCodec(PayloadCodec):
    """Encrypts payloads with the first key; decrypts with whichever key a payload names.

    Rotation: put the new key first and keep the old ones after it, so payloads already in
    history (running workflows, histories kept for replay) still decrypt. Payloads that are not
    encrypted (written before encryption was switched on) are decoded as they are.
    """

    def __init__(self, keys: Sequence[CodecKey]) -> None:
        """Use `keys`: the first encrypts, all decrypt.

        Args:
            keys: At least one key, ids unique (as `parse_codec_keys` returns them).

        Raises:
            ValueError: No key.
        """
        if not keys:
            raise ValueError("an encryption codec needs at least one key")
        self._current = keys[0].key_id
        self._ciphers = {k.key_id: AESGCM(k.key.get_secret_value()) for k in keys}

    @property
    def key_ids(self) -> tuple[str, ...]:
        """Ids of the keys, the encrypting one first."""
        return tuple(self._ciphers)

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        """Encrypt each payload with the current key (a fresh nonce each)."""
        cipher = self._ciphers[self._current]
        encoded: list[Payload] = []
        for payload in payloads:
            nonce = os.urandom(NONCE_BYTES)
            sealed = cipher.encrypt(nonce, payload.SerializeToString(), None)
            encoded.append(
                Payload(
                    metadata={
                        "encoding": ENCRYPTED_ENCODING,
                        KEY_ID_METADATA: self._current.encode(),
                    },
                    data=nonce + sealed,
                )
            )
        return encoded

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        """Decrypt each encrypted payload; pass the others through.

        Raises:
            PayloadDecryptionError: A payload names a key id this codec lacks, or its data
                fails the GCM check (a wrong key under that id, or altered bytes).
        """
        return [self._decrypt(p) if self.is_encrypted(p) else p for p in payloads]

    @staticmethod
    def is_encrypted(payload: Payload) -> bool:
        """True when the payload is in our encrypted form."""
        return payload.metadata.get("encoding") == ENCRYPTED_ENCODING

    def _decrypt(self, payload: Payload) -> Payload:
        key_id = payload.metadata.get(KEY_ID_METADATA, b"").decode(errors="replace")
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            raise PayloadDecryptionError(
                f"payload encrypted with key id {key_id!r}, which {CODEC_KEYS_VARIABLE} lacks "
                f"(it holds {', '.join(self._ciphers)}): add that key after the current one"
            )
        data = payload.data
        try:
            plain = cipher.decrypt(data[:NONCE_BYTES], data[NONCE_BYTES:], None)
        except InvalidTag as err:
            raise PayloadDecryptionError(
                f"payload encrypted with key id {key_id!r} fails its integrity check: the key "
                f"under that id in {CODEC_KEYS_VARIABLE} is not the one that encrypted it, or "
                "the payload was altered"
            ) from err
        return Payload.FromString(plain)
