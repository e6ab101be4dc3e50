"""The deterministic assistant: arithmetic, the weather demo, ticket triage, scripted tool plans.

The brain is a pure function of the conversation so far: the question, the function tools the
model may call, an optional scripted plan, and the tool rounds already answered. It returns the
next step: either a round of (possibly parallel) function calls or the final answer text.

Rules, first match wins:

1. `emu_tool_plan`: the scripted rounds, then "Tool results: a=<output>, ...".
2. Ticket triage: with a function tool `lookup_customer` and a ticket (the message contains
   "ticket" or an email address), round 1 asks `lookup_customer({"email": <first email>})` (no
   round when there is no address), then the answer is one word, the category, from keywords in
   the ticket text with email addresses removed: refund/charge/invoice (any word starting so:
   "charged", "invoices") → `billing`, else crash/error/bug → `bug`, else `other`.
3. Weather: with `get_weather`, a question like "weather in Paris and Tokyo" (see `_weather_step`).
4. Conversation memory: "What is my name?" → "Your name is Ada." when an earlier user message of
   the same conversation (the `previous_response_id` chain, or the Assistants thread) said
   "My name is Ada" (the last such statement wins); "I don't know your name yet." otherwise.
   A message that says "My name is Ada" is answered "Nice to meet you, Ada.".
5. Arithmetic: "What is 2+2?" → "4".
6. Otherwise the answered tool outputs quoted, or a fixed polite answer.

A final answer asked for as `text.format` `json_schema` comes as a JSON instance of the schema
(`schema_instance`), its string fields holding the answer.
"""

from __future__ import annotations

import ast
import json
import operator
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from durable_runs_emulator.scenario import PlannedCall

FALLBACK_ANSWER = (
    'Hello! I am the durable-runs emulator. I can do arithmetic (try "What is 2+2?") and, '
    "with the get_weather tool, tell you the weather in a few cities."
)


@dataclass(frozen=True)
class AnsweredCall:
    """A call of an earlier round, with the output the client submitted."""

    name: str
    arguments: dict[str, Any]
    output: str


@dataclass(frozen=True)
class ToolRound:
    """The next step is a round of function calls (several = parallel calls)."""

    calls: tuple[PlannedCall, ...]


@dataclass(frozen=True)
class FinalAnswer:
    """The next step is the final answer."""

    text: str


Step = ToolRound | FinalAnswer


def next_step(
    *,
    question: str,
    tool_names: Sequence[str],
    plan: Sequence[Sequence[PlannedCall]] | None,
    rounds: Sequence[Sequence[AnsweredCall]],
    answer_chars: int | None = None,
    earlier: Sequence[str] = (),
) -> Step:
    """Decide what the model does next.

    Args:
        question: The last user message.
        tool_names: Names of the function tools available to the model.
        plan: Scripted rounds (`emu_tool_plan`), which take precedence over the built-in logic.
        rounds: Tool rounds already answered, oldest first.
        answer_chars: `emu_answer_chars`: the final answer is the rules' answer repeated and
            cut to exactly this many characters.
        earlier: The conversation's user messages before the question, oldest first.

    Returns:
        A `ToolRound` to ask for, or the `FinalAnswer`.
    """
    step = _rules_step(
        question=question, tool_names=tool_names, plan=plan, rounds=rounds, earlier=earlier
    )
    if isinstance(step, FinalAnswer) and answer_chars is not None:
        text = step.text or FALLBACK_ANSWER
        return FinalAnswer((text * (answer_chars // len(text) + 1))[:answer_chars])
    return step


def _rules_step(
    *,
    question: str,
    tool_names: Sequence[str],
    plan: Sequence[Sequence[PlannedCall]] | None,
    rounds: Sequence[Sequence[AnsweredCall]],
    earlier: Sequence[str],
) -> Step:
    if plan is not None:
        if len(rounds) < len(plan):
            return ToolRound(tuple(plan[len(rounds)]))
        return FinalAnswer(_quote_outputs(rounds))
    triage = _triage_step(question, set(tool_names), rounds)
    if triage is not None:
        return triage
    weather = _weather_step(question, set(tool_names), rounds)
    if weather is not None:
        return weather
    recalled = recall_name(question, earlier)
    if recalled is not None:
        return FinalAnswer(recalled)
    value = answer_arithmetic(question)
    if value is not None:
        return FinalAnswer(value)
    if rounds:
        return FinalAnswer(_quote_outputs(rounds))
    return FinalAnswer(FALLBACK_ANSWER)


def schema_instance(schema: dict[str, Any], text: str, defs: dict[str, Any] | None = None) -> Any:
    """A JSON value that the (strict, Structured Outputs subset) schema accepts.

    Strings carry `text` (the answer), numbers are 0, booleans false, arrays empty; an enum
    takes its first value, `anyOf` its first branch, `$ref` its `$defs` entry; an object has
    every property.
    """
    defs = {**(defs or {}), **schema.get("$defs", {})}
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        return schema_instance(defs.get(ref.removeprefix("#/$defs/"), {}), text, defs)
    if "enum" in schema:
        return schema["enum"][0]
    if "const" in schema:
        return schema["const"]
    if "anyOf" in schema:
        return schema_instance(schema["anyOf"][0], text, defs)
    kind = schema.get("type", "object")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object":
        properties = schema.get("properties", {})
        return {name: schema_instance(sub, text, defs) for name, sub in properties.items()}
    values: dict[str, Any] = {"string": text, "integer": 0, "number": 0, "boolean": False}
    return [] if kind == "array" else values.get(kind)


def count_tokens(*texts: str) -> int:
    """Deterministic token count: whitespace-separated words (at least 1)."""
    return max(1, sum(len(text.split()) for text in texts))


def _quote_outputs(rounds: Sequence[Sequence[AnsweredCall]]) -> str:
    parts = [f"{call.name}={call.output}" for round_ in rounds for call in round_]
    return "Tool results: " + ", ".join(parts)


# --- conversation memory ---------------------------------------------------------------------

_ASKS_NAME = re.compile(r"\bwhat(?:'s| is)\s+my\s+name\b", re.IGNORECASE)
_SAYS_NAME = re.compile(r"\bmy\s+name\s+is\s+(?P<name>[^\W\d_][\w'-]*)", re.IGNORECASE)


def recall_name(question: str, earlier: Sequence[str]) -> str | None:
    """The answer about the user's name, or None when the question is not about it.

    "What is my name?" is answered from the conversation's earlier user messages; a message
    that says "My name is Ada" is greeted.
    """
    if _ASKS_NAME.search(question) is None:
        said = _SAYS_NAME.search(question)
        return f"Nice to meet you, {said.group('name')}." if said else None
    for message in reversed(earlier):
        said = _SAYS_NAME.search(message)
        if said is not None:
            return f"Your name is {said.group('name')}."
    return "I don't know your name yet."


# --- arithmetic -------------------------------------------------------------------------------

_BINARY: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Pow: operator.pow,
}
_EXPRESSION = re.compile(r"[-+*/().\d\s]*\d[-+*/().\d\s]*")


def _evaluate(node: ast.AST) -> float | int:
    if isinstance(node, ast.Expression):
        return _evaluate(node.body)
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
        if isinstance(node.value, bool):
            raise ValueError("not a number")
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        value = _evaluate(node.operand)
        return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = _evaluate(node.left), _evaluate(node.right)
        if isinstance(node.op, ast.Pow) and (abs(right) > 64 or abs(left) > 10**6):
            raise ValueError("exponent too large")
        return _BINARY[type(node.op)](left, right)  # type: ignore[no-any-return]
    raise ValueError("not arithmetic")


def _format_number(value: float | int) -> str:
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return f"{value:.10g}"
    return str(value)


def answer_arithmetic(question: str) -> str | None:
    """Answer the arithmetic in `question` ("What is 2+2?" → "4"), or None if there is none."""
    candidates = [m.group(0).strip() for m in _EXPRESSION.finditer(question)]
    candidates = [c for c in candidates if re.search(r"\d\s*[-+*/]", c) or "**" in c]
    for text in sorted(candidates, key=len, reverse=True):
        text = text.rstrip(".").strip()
        try:
            value = _evaluate(ast.parse(text, mode="eval"))
        except ZeroDivisionError:
            return "That is undefined: division by zero."
        except (SyntaxError, ValueError, TypeError, OverflowError):
            continue
        return _format_number(value)
    return None


# --- ticket triage demo ------------------------------------------------------------------------

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_TICKET = re.compile(r"\bticket\b", re.IGNORECASE)
_CATEGORY_KEYWORDS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("billing", re.compile(r"\b(?:refund|charge|invoice)", re.IGNORECASE)),
    ("bug", re.compile(r"\b(?:crash|error|bug)", re.IGNORECASE)),
)


def classify_ticket(text: str) -> str:
    """The triage category of a ticket: `billing`, `bug` or `other` (email addresses ignored)."""
    words = _EMAIL.sub(" ", text)
    for category, pattern in _CATEGORY_KEYWORDS:
        if pattern.search(words):
            return category
    return "other"


def _triage_step(
    question: str, tools: set[str], rounds: Sequence[Sequence[AnsweredCall]]
) -> Step | None:
    if "lookup_customer" not in tools:
        return None
    email = _EMAIL.search(question)
    if email is None and _TICKET.search(question) is None:
        return None
    if email is not None and not rounds:
        return ToolRound((PlannedCall("lookup_customer", {"email": email.group(0)}),))
    return FinalAnswer(classify_ticket(question))


# --- weather demo -----------------------------------------------------------------------------

_WEATHER = re.compile(r"weather\b.*?\b(?:in|for|at)\s+(?P<places>.+)", re.IGNORECASE | re.DOTALL)
_UNITS = re.compile(r"\b(?:in|with|using)\s+(?:degrees\s+)?(?:fahrenheit|celsius)\b|[?!.;]", re.I)


def weather_cities(question: str) -> list[str]:
    """Cities in a question like "What's the weather in Paris and Tokyo, in Fahrenheit?"."""
    match = _WEATHER.search(question)
    if match is None:
        return []
    places = _UNITS.split(match.group("places"), maxsplit=1)[0]
    parts = re.split(r",|\band\b|&", places)
    return [part.strip() for part in parts if part.strip()]


def _parse_output(output: str) -> Any:
    try:
        return json.loads(output)
    except (json.JSONDecodeError, TypeError):
        return output


def _field(output: Any, *names: str) -> Any:
    if isinstance(output, dict):
        for name in names:
            if name in output:
                return output[name]
        return None
    return output


def _weather_step(
    question: str, tools: set[str], rounds: Sequence[Sequence[AnsweredCall]]
) -> Step | None:
    if "get_weather" not in tools:
        return None
    cities = weather_cities(question)
    if not cities:
        return None
    wants_f = "fahrenheit" in question.lower() and "celsius_to_fahrenheit" in tools
    if not rounds:
        return ToolRound(tuple(PlannedCall("get_weather", {"city": city}) for city in cities))
    weather = {call.arguments.get("city"): _parse_output(call.output) for call in rounds[0]}
    if wants_f and len(rounds) == 1:
        calls = []
        for city in cities:
            celsius = _field(weather.get(city), "celsius", "temperature_c", "temperature")
            calls.append(PlannedCall("celsius_to_fahrenheit", {"celsius": celsius}))
        return ToolRound(tuple(calls))
    lines = []
    for index, city in enumerate(cities):
        report = weather.get(city)
        conditions = _field(report, "conditions", "condition", "description")
        if wants_f and len(rounds) > 1 and index < len(rounds[1]):
            value = _field(_parse_output(rounds[1][index].output), "fahrenheit", "value")
            temperature = f"{_format_value(value)}°F"
        else:
            value = _field(report, "celsius", "temperature_c", "temperature")
            temperature = f"{_format_value(value)}°C"
        lines.append(f"{city}: {temperature}" + (f", {conditions}" if conditions else ""))
    return FinalAnswer("; ".join(lines))


def _format_value(value: Any) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _format_number(round(value, 2) if isinstance(value, float) else value)
    return str(value)
