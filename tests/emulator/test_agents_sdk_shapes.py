"""What the Agents SDK sends that the brain must read: replayed history, `json_schema` output."""

from __future__ import annotations

from typing import Any

import jsonschema
from durable_runs_emulator.brain import schema_instance
from durable_runs_emulator.responses import _replayed_rounds


def call(call_id: str) -> dict[str, Any]:
    """A replayed `function_call` item."""
    return {"type": "function_call", "call_id": call_id, "name": "f", "arguments": "{}"}


def output(call_id: str) -> dict[str, Any]:
    """A `function_call_output` item."""
    return {"type": "function_call_output", "call_id": call_id, "output": "x"}


def test_replayed_calls_are_one_round_per_model_turn() -> None:
    user = {"type": "message", "role": "user", "content": "hi"}
    items = [user, call("a"), output("a"), call("b"), call("c"), output("b"), output("c")]
    rounds = _replayed_rounds(items)
    assert [[c["call_id"] for c in r] for r in rounds] == [["a"], ["b", "c"]]


def test_a_json_schema_answer_is_an_instance_of_the_schema() -> None:
    schema = {
        "type": "object",
        "properties": {
            "city": {"type": "string"},
            "temperature_c": {"type": "integer"},
            "windy": {"type": "boolean"},
            "kind": {"enum": ["sunny", "rain"]},
            "tags": {"type": "array", "items": {"type": "string"}},
            "note": {"anyOf": [{"type": "string"}, {"type": "null"}]},
            "place": {"$ref": "#/$defs/Place"},
        },
        "$defs": {"Place": {"type": "object", "properties": {"lat": {"type": "number"}}}},
    }
    instance = schema_instance(schema, "Oslo")
    jsonschema.validate(instance, schema)
    assert instance == {
        "city": "Oslo",
        "temperature_c": 0,
        "windy": False,
        "kind": "sunny",
        "tags": [],
        "note": "Oslo",
        "place": {"lat": 0},
    }
