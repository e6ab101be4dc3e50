"""Responses API objects and their lifecycle (background mode).

queued → in_progress → completed | failed | incomplete; cancel (background only) → cancelled.
A response that asks for tools completes with `function_call` output items; the client continues
with a new response (`previous_response_id` + `function_call_output` items), and the brain reads
the whole chain to continue the same plan. Only terminal statuses send webhooks, and their events
carry only the id, like the real API.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from typing import Any

from durable_runs_emulator import brain
from durable_runs_emulator.ids import new_hex_id, new_id
from durable_runs_emulator.scenario import PlannedCall, Scenario
from durable_runs_emulator.stats import ObjectRef

TERMINAL_RESPONSE_STATUSES = frozenset({"completed", "failed", "cancelled", "incomplete"})
"""Statuses after which a response never changes."""


@dataclass
class ResponseRecord:
    """A response (`resp_...`) with its scenario and lifecycle state."""

    id: str
    created_at: float
    model: str
    instructions: str | None
    input_items: list[dict[str, Any]]
    tools: list[dict[str, Any]]
    metadata: dict[str, str]
    scenario: Scenario
    background: bool
    store: bool
    previous_response_id: str | None
    options: dict[str, Any]
    status: str = "queued"
    output: list[dict[str, Any]] = field(default_factory=list)
    error: dict[str, str] | None = None
    incomplete_details: dict[str, str] | None = None
    usage: dict[str, Any] | None = None
    completed_at: float | None = None
    rate_limit_left: int = 0
    server_error_left: int = 0
    cancel_requested: bool = False
    wake: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def ref(self) -> ObjectRef:
        """Stats reference."""
        return ObjectRef("response", self.id, None, self.metadata)

    @property
    def text_format(self) -> dict[str, Any]:
        """The requested `text.format` (plain text when none was asked for)."""
        text = self.options.get("text")
        fmt = text.get("format") if isinstance(text, dict) else None
        return fmt if isinstance(fmt, dict) else {"type": "text"}

    @property
    def function_calls(self) -> list[dict[str, Any]]:
        """The `function_call` items of the output."""
        return [item for item in self.output if item.get("type") == "function_call"]

    def to_dict(self) -> dict[str, Any]:
        """The `response` object."""
        return {
            "id": self.id,
            "object": "response",
            "created_at": int(self.created_at),
            "status": self.status,
            "background": self.background,
            "completed_at": None if self.completed_at is None else int(self.completed_at),
            "error": self.error,
            "incomplete_details": self.incomplete_details,
            "instructions": self.instructions,
            "max_output_tokens": self.options.get("max_output_tokens"),
            "max_tool_calls": self.options.get("max_tool_calls"),
            "model": self.model,
            "output": self.output,
            "parallel_tool_calls": self.options.get("parallel_tool_calls", True),
            "previous_response_id": self.previous_response_id,
            "prompt_cache_key": None,
            "reasoning": {"effort": None, "summary": None},
            "safety_identifier": None,
            "service_tier": "default",
            "store": self.store,
            "temperature": self.options.get("temperature", 1.0),
            "text": {"format": self.text_format, "verbosity": "medium"},
            "tool_choice": self.options.get("tool_choice", "auto"),
            "tools": self.tools,
            "top_logprobs": 0,
            "top_p": self.options.get("top_p", 1.0),
            "truncation": "disabled",
            "usage": self.usage,
            "user": None,
            "metadata": self.metadata,
        }


def input_text(items: list[dict[str, Any]]) -> list[str]:
    """Texts of the user messages among input items, in order."""
    texts: list[str] = []
    for item in items:
        if item.get("type", "message") != "message" or item.get("role") != "user":
            continue
        content = item.get("content")
        if isinstance(content, str):
            texts.append(content)
        elif isinstance(content, list):
            texts.extend(
                str(part.get("text", ""))
                for part in content
                if isinstance(part, dict) and part.get("type") in ("input_text", "text")
            )
    return texts


def chain(responses: dict[str, ResponseRecord], record: ResponseRecord) -> list[ResponseRecord]:
    """The response and its ancestors through `previous_response_id`, oldest first."""
    result = [record]
    seen = {record.id}
    current = record
    while current.previous_response_id and current.previous_response_id in responses:
        current = responses[current.previous_response_id]
        if current.id in seen:
            break
        seen.add(current.id)
        result.append(current)
    result.reverse()
    return result


def _answered_rounds(history: list[ResponseRecord]) -> list[list[brain.AnsweredCall]]:
    outputs: dict[str, str] = {}
    for record in history:
        for item in record.input_items:
            if item.get("type") == "function_call_output":
                outputs[str(item.get("call_id"))] = _output_text(item.get("output"))
    rounds: list[list[brain.AnsweredCall]] = []
    sources: list[list[dict[str, Any]]] = []
    for record in history:
        # Calls the client replays in its input (manual history), then the model's own calls.
        sources.extend(_replayed_rounds(record.input_items))
        sources.append(record.function_calls)
    for calls in sources:
        if not calls or not all(call.get("call_id") in outputs for call in calls):
            continue
        rounds.append(
            [
                brain.AnsweredCall(
                    name=str(call.get("name", "")),
                    arguments=_arguments(call.get("arguments")),
                    output=outputs[call["call_id"]],
                )
                for call in calls
            ]
        )
    return rounds


def _replayed_rounds(items: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """The `function_call` items a client replays in its input, one list per model turn.

    A turn's calls are adjacent (parallel calls come together, their outputs after them); any
    other item between two calls means they came from different turns.
    """
    rounds: list[list[dict[str, Any]]] = []
    current: list[dict[str, Any]] = []
    for item in items:
        if item.get("type") == "function_call":
            current.append(item)
        elif current:
            rounds.append(current)
            current = []
    if current:
        rounds.append(current)
    return rounds


def _arguments(raw: Any) -> dict[str, Any]:
    try:
        value = json.loads(raw or "{}")
    except (TypeError, json.JSONDecodeError):
        return {}
    return value if isinstance(value, dict) else {}


def _output_text(output: Any) -> str:
    if isinstance(output, str):
        return output
    if isinstance(output, list):
        return "".join(str(part.get("text", "")) for part in output if isinstance(part, dict))
    return json.dumps(output)


def _plan(history: list[ResponseRecord]) -> tuple[tuple[PlannedCall, ...], ...] | None:
    for record in reversed(history):
        if record.scenario.tool_plan is not None:
            return record.scenario.tool_plan
    return None


def decide(responses: dict[str, ResponseRecord], record: ResponseRecord) -> brain.Step:
    """The brain's next step for `record`, given its whole chain."""
    history = chain(responses, record)
    questions = [text for item in history for text in input_text(item.input_items)]
    tool_names = [str(tool.get("name")) for tool in record.tools if tool.get("type") == "function"]
    return brain.next_step(
        question=questions[-1] if questions else "",
        tool_names=tool_names,
        plan=_plan(history),
        rounds=_answered_rounds(history),
        answer_chars=record.scenario.answer_chars,
        earlier=questions[:-1],
    )


def usage_for(record: ResponseRecord, output_text: str) -> dict[str, Any]:
    """Deterministic usage of a response (words)."""
    prompt = brain.count_tokens(record.instructions or "", *input_text(record.input_items))
    prompt += sum(
        brain.count_tokens(_output_text(item.get("output")))
        for item in record.input_items
        if item.get("type") == "function_call_output"
    )
    completion = brain.count_tokens(output_text)
    return {
        "input_tokens": prompt,
        "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
        "output_tokens": completion,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": prompt + completion,
    }


def output_for(
    step: brain.Step, *, text_format: dict[str, Any] | None = None
) -> tuple[list[dict[str, Any]], str]:
    """Output items for the brain's step, and their text (for usage).

    A final answer asked for as `json_schema` (`text.format`) is a JSON instance of the schema
    with the answer in its string fields (`brain.schema_instance`).
    """
    if isinstance(step, brain.ToolRound):
        items = [
            {
                "type": "function_call",
                "id": new_hex_id("fc"),
                "call_id": new_id("call"),
                "name": call.name,
                "arguments": json.dumps(call.arguments),
                "status": "completed",
            }
            for call in step.calls
        ]
        return items, " ".join(item["arguments"] for item in items)
    text = step.text
    if text_format is not None and text_format.get("type") == "json_schema":
        schema = text_format.get("schema")
        text = json.dumps(brain.schema_instance(schema if isinstance(schema, dict) else {}, text))
    message = {
        "type": "message",
        "id": new_hex_id("msg"),
        "status": "completed",
        "role": "assistant",
        "content": [{"type": "output_text", "text": text, "annotations": [], "logprobs": []}],
    }
    return [message], text


def now() -> float:
    """Wall clock (unix seconds)."""
    return time.time()
