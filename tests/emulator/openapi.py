"""Validate emulator JSON against the official OpenAPI schemas (with `nullable` normalised)."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

SPEC_PATH = Path(__file__).parents[1] / "reference" / "openai-openapi.yaml"
_BASE = "urn:openai-openapi"

try:
    _Loader: Any = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - libyaml missing
    _Loader = yaml.SafeLoader


def _only_nullable(node: Any) -> bool:
    return isinstance(node, dict) and node.get("nullable") is True and len(node) == 1


def normalise(node: Any) -> Any:
    """Turn OpenAPI 3.0 `nullable: true` into JSON Schema (`anyOf [..., {"type": "null"}]`)."""
    if isinstance(node, list):
        return [normalise(item) for item in node]
    if not isinstance(node, dict):
        return node
    nullable = node.get("nullable") is True
    result = {key: normalise(value) for key, value in node.items() if key != "nullable"}
    for combinator in ("allOf", "anyOf", "oneOf"):
        members = node.get(combinator)
        if isinstance(members, list) and any(_only_nullable(m) for m in members):
            result[combinator] = [normalise(m) for m in members if not _only_nullable(m)]
            nullable = True
    if nullable:
        return {"anyOf": [result, {"type": "null"}]} if result else {}
    return result


@functools.cache
def _document() -> dict[str, Any]:
    with SPEC_PATH.open("rb") as handle:
        document: dict[str, Any] = yaml.load(handle, Loader=_Loader)
    return document


@functools.cache
def _registry() -> Registry:
    resource = Resource.from_contents(normalise(_document()), default_specification=DRAFT202012)
    registry: Registry = Registry().with_resource(_BASE, resource)
    return registry


@functools.cache
def _validator(name: str) -> Draft202012Validator:
    schema = {"$ref": f"{_BASE}#/components/schemas/{name}"}
    return Draft202012Validator(schema, registry=_registry())


def assert_matches(name: str, instance: Any) -> None:
    """Assert `instance` is valid against `components.schemas.<name>` (all errors listed)."""
    errors = sorted(_validator(name).iter_errors(instance), key=lambda e: list(e.path))
    messages = [f"{list(e.path)}: {e.message[:300]}" for e in errors]
    assert not messages, f"{name} mismatch:\n" + "\n".join(messages)


def schema(name: str) -> dict[str, Any]:
    """`components.schemas.<name>` as the document writes it."""
    value: dict[str, Any] = _document()["components"]["schemas"][name]
    return value


def webhook_event_schemas() -> dict[str, str]:
    """Event type (`response.completed`) → name of its schema, for every documented event."""
    found: dict[str, str] = {}
    for name, node in _document()["components"]["schemas"].items():
        if node.get("x-oaiMeta", {}).get("group") != "webhook-events":
            continue
        for event_type in node["properties"]["type"]["enum"]:
            found[event_type] = name
    return found


# The real API returns `"usage": null` (until terminal) and `"user": null` on responses, while the
# published schema types them as non-nullable optional fields; the emulator follows the API.
_RESPONSE_NULLS_ALLOWED = ("usage", "user")


def assert_response_matches(instance: dict[str, Any]) -> None:
    """`assert_matches("Response", ...)`, tolerating the API's nulls the schema omits."""
    trimmed = {
        key: value
        for key, value in instance.items()
        if not (key in _RESPONSE_NULLS_ALLOWED and value is None)
    }
    assert_matches("Response", trimmed)
