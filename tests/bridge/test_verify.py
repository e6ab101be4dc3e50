"""The verify layer on its own: known-answer vectors, every must-reject and must-accept case."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from durable_runs.bridge.verify import SignatureError, WebhookVerifier, normalize_secret
from tests.bridge.signing import new_secret, signed_headers

VECTORS = json.loads((Path(__file__).parents[1] / "reference" / "webhook-vectors.json").read_text())
VALID: list[dict[str, Any]] = VECTORS["valid"]


def headers_of(vector: dict[str, Any]) -> dict[str, str]:
    return {
        "webhook-id": vector["webhook_id"],
        "webhook-timestamp": str(vector["timestamp"]),
        "webhook-signature": vector["signature"],
    }


def frozen(vector: dict[str, Any], *, secrets: list[str] | None = None) -> WebhookVerifier:
    """A verifier whose clock is frozen at the vector's timestamp."""
    return WebhookVerifier(secrets or [vector["secret"]], clock=lambda: vector["timestamp"])


@pytest.mark.parametrize("vector", VALID, ids=[v["source"] for v in VALID])
def test_known_answer_vectors_pass_with_frozen_clock(vector: dict[str, Any]) -> None:
    assert frozen(vector).verify(vector["body"], headers_of(vector)) == vector["webhook_id"]


@pytest.mark.parametrize("vector", VALID, ids=[v["source"] for v in VALID])
def test_vectors_are_stale_on_the_real_clock(vector: dict[str, Any]) -> None:
    with pytest.raises(SignatureError, match="away from now"):
        WebhookVerifier([vector["secret"]]).verify(vector["body"], headers_of(vector))


VECTOR = VALID[0]


def mutate(**changes: str) -> dict[str, str]:
    return {**headers_of(VECTOR), **changes}


@pytest.mark.parametrize("missing", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_reject_missing_header(missing: str) -> None:
    headers = headers_of(VECTOR)
    del headers[missing]
    with pytest.raises(SignatureError, match=f"missing {missing}"):
        frozen(VECTOR).verify(VECTOR["body"], headers)


def test_reject_timestamp_not_integer() -> None:
    with pytest.raises(SignatureError, match="not an integer"):
        frozen(VECTOR).verify(VECTOR["body"], mutate(**{"webhook-timestamp": "hello"}))


@pytest.mark.parametrize("offset", [-301, 301])
def test_reject_timestamp_outside_tolerance(offset: int) -> None:
    # Genuinely signed at ts, checked 5 min + 1 s before or after.
    secret = VECTOR["secret"]
    ts = VECTOR["timestamp"]
    headers = signed_headers(secret, VECTOR["body"], webhook_id="wh_x", timestamp=ts)
    verifier = WebhookVerifier([secret], clock=lambda: ts + offset)
    with pytest.raises(SignatureError, match="away from now"):
        verifier.verify(VECTOR["body"], headers)


@pytest.mark.parametrize("offset", [-300, 300])
def test_accept_timestamp_at_tolerance_edge(offset: int) -> None:
    verifier = WebhookVerifier([VECTOR["secret"]], clock=lambda: VECTOR["timestamp"] + offset)
    verifier.verify(VECTOR["body"], headers_of(VECTOR))


def test_reject_signature_with_one_character_changed() -> None:
    signature = VECTOR["signature"]
    i = len("v1,") + 5
    changed = signature[:i] + ("A" if signature[i] != "A" else "B") + signature[i + 1 :]
    with pytest.raises(SignatureError, match="no signature matches"):
        frozen(VECTOR).verify(VECTOR["body"], mutate(**{"webhook-signature": changed}))


def test_reject_body_changed_by_one_byte() -> None:
    body = VECTOR["body"].replace("resp_123", "resp_124")
    assert len(body) == len(VECTOR["body"])
    with pytest.raises(SignatureError, match="no signature matches"):
        frozen(VECTOR).verify(body, headers_of(VECTOR))


def test_reject_other_secret() -> None:
    with pytest.raises(SignatureError, match="no signature matches"):
        frozen(VECTOR, secrets=[new_secret()]).verify(VECTOR["body"], headers_of(VECTOR))


def test_reject_only_unknown_versions() -> None:
    good = VECTOR["signature"].removeprefix("v1,")
    headers = mutate(**{"webhook-signature": f"v2,{good} v1a,{good}"})
    with pytest.raises(SignatureError, match="no v1 signature"):
        frozen(VECTOR).verify(VECTOR["body"], headers)


def test_reject_bare_signature_without_version() -> None:
    good = VECTOR["signature"].removeprefix("v1,")
    with pytest.raises(SignatureError, match="no v1 signature"):
        frozen(VECTOR).verify(VECTOR["body"], mutate(**{"webhook-signature": good}))


def test_accept_several_entries_one_valid() -> None:
    bogus = "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc="
    header = f"{bogus} v2,{VECTOR['signature'].removeprefix('v1,')} {VECTOR['signature']}"
    frozen(VECTOR).verify(VECTOR["body"], mutate(**{"webhook-signature": header}))


@pytest.mark.parametrize("vector", VALID, ids=[v["source"] for v in VALID])
def test_accept_secret_with_and_without_prefix(vector: dict[str, Any]) -> None:
    bare = vector["secret"].removeprefix("whsec_")
    for secret in (vector["secret"], bare):
        frozen(vector, secrets=[secret]).verify(vector["body"], headers_of(vector))
    assert normalize_secret(bare) == normalize_secret(vector["secret"])


def test_accept_previous_secret_during_rotation() -> None:
    verifier = frozen(VECTOR, secrets=[new_secret(), VECTOR["secret"]])
    verifier.verify(VECTOR["body"], headers_of(VECTOR))


def test_independent_library_signature_passes_on_real_clock() -> None:
    secret = new_secret()
    body = '{"hello": "world"}'
    headers = signed_headers(secret, body, webhook_id="wh_real")
    assert WebhookVerifier([secret]).verify(body, headers) == "wh_real"


def test_unpadded_base64_secret_works() -> None:
    secret = new_secret().rstrip("=")
    body = "{}"
    headers = signed_headers(secret, body, webhook_id="wh_pad")
    WebhookVerifier([secret]).verify(body, headers)


def test_no_secret_is_refused() -> None:
    with pytest.raises(ValueError, match="OPENAI_WEBHOOK_SECRET"):
        WebhookVerifier([])


def test_broken_whsec_secret_is_refused_at_startup() -> None:
    with pytest.raises(ValueError, match="base64"):
        WebhookVerifier(["whsec_not base64!"])
