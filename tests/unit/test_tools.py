"""The tool registry and the tool activity, run in `ActivityEnvironment` (no Temporal server)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from durable_runs.activities import tools as tools_module
from durable_runs.activities.demo_tools import demo_registry, get_weather
from durable_runs.activities.tools import (
    IDEMPOTENCY_KEY_PARAMETER,
    ToolActivities,
    ToolRegistry,
    UnknownToolsError,
    load_registry,
    schema_from_signature,
)
from durable_runs.models import ToolCall, ToolCallInput, ToolOutput

registry = ToolRegistry()
"""A module-level registry, for `load_registry`'s default attribute."""
NOT_A_REGISTRY = {"get_weather": get_weather}


def not_a_factory() -> dict[str, Any]:
    """A function returning something other than a registry."""
    return NOT_A_REGISTRY


def add(a: int, b: int = 2) -> int:
    """Add two integers."""
    return a + b


async def shout(text: str) -> str:
    """Upper-case a text."""
    await asyncio.sleep(0)
    return text.upper()


def charge(amount: float, idempotency_key: str) -> dict[str, Any]:
    """Charge an amount once per tool call."""
    return {"charged": amount, "key": idempotency_key}


def broken(reason: str) -> str:
    """Always raises."""
    raise RuntimeError(reason)


def unit_registry() -> ToolRegistry:
    """The tools these tests call."""
    tools = ToolRegistry()
    tools.register(add)
    tools.register(shout)
    tools.register(charge)
    tools.register(broken)
    tools.register(broken, name="broken_fatal", fatal=True)
    return tools


def call_input(
    name: str, arguments: str | dict[str, Any] = "{}", *, allowed: list[str] | None = None
) -> ToolCallInput:
    """One tool call of workflow `wf-1`, allowed unless `allowed` says otherwise."""
    text = arguments if isinstance(arguments, str) else json.dumps(arguments)
    return ToolCallInput(
        workflow_id="wf-1",
        call=ToolCall(id="call_9", name=name, arguments=text),
        allowed=[name] if allowed is None else allowed,
    )


async def run_tool(
    call: ToolCallInput,
    tools: ToolRegistry | None = None,
    env: ActivityEnvironment | None = None,
) -> ToolOutput:
    """Run the `tools.run` activity once, as a worker would, but without one."""
    activities = ToolActivities(tools or unit_registry())
    result: ToolOutput = await (env or ActivityEnvironment()).run(activities.run_tool, call)
    return result


def error_of(output: ToolOutput) -> str:
    """The error a tool output reports to the model."""
    value = json.loads(output.output)
    assert isinstance(value, dict)
    error = value["error"]
    assert isinstance(error, str)
    return error


# --- the registry --------------------------------------------------------------------------


def test_register_takes_name_description_and_schema_from_the_function() -> None:
    """Name, docstring and a JSON schema of the annotated signature, by default."""
    tool = unit_registry().get("add")
    assert tool is not None
    assert tool.name == "add"
    assert tool.description == "Add two integers."
    assert tool.parameters["type"] == "object"
    assert tool.parameters["required"] == ["a"]
    assert tool.parameters["properties"]["a"]["type"] == "integer"
    assert tool.parameters["properties"]["b"]["default"] == 2
    assert "title" not in tool.parameters
    assert not tool.fatal
    assert tool.function_definition() == {
        "name": "add",
        "description": "Add two integers.",
        "parameters": tool.parameters,
    }


def test_register_overrides() -> None:
    """Explicit name, description, schema and `fatal` win over the defaults."""
    tools = ToolRegistry()
    schema = {"type": "object", "properties": {}}
    tool = tools.register(add, name="plus", description="Sum.", parameters=schema, fatal=True)
    assert (tool.name, tool.description, tool.parameters, tool.fatal) == (
        "plus",
        "Sum.",
        schema,
        True,
    )
    assert tools.names == ["plus"]
    assert tools.get("add") is None


def test_decorator_registers_and_returns_the_function() -> None:
    """`@registry.tool()` registers the function and leaves it callable as before."""
    tools = ToolRegistry()

    @tools.tool(name="double", fatal=True)
    def twice(x: int) -> int:
        """Double a number."""
        return 2 * x

    assert twice(4) == 8
    tool = tools.get("double")
    assert tool is not None
    assert tool.function is twice
    assert tool.fatal


def test_idempotency_key_is_declared_by_the_function_and_hidden_from_the_model() -> None:
    """The key is a parameter of the function, never of the schema the model sees."""
    tools = unit_registry()
    charging, adding = tools.get("charge"), tools.get("add")
    assert charging is not None and adding is not None
    assert charging.wants_idempotency_key
    assert not adding.wants_idempotency_key
    assert IDEMPOTENCY_KEY_PARAMETER not in charging.parameters["properties"]
    assert charging.parameters["required"] == ["amount"]


def test_schema_of_an_unannotated_parameter_accepts_anything() -> None:
    """No annotation: any JSON value, still required."""

    def loose(value, flag: bool = False):  # type: ignore[no-untyped-def]
        return value

    schema = schema_from_signature(loose)
    assert schema["required"] == ["value"]
    assert "type" not in schema["properties"]["value"]
    assert schema["properties"]["flag"] == {"default": False, "title": "Flag", "type": "boolean"}


def test_definitions_keep_the_requested_order() -> None:
    """The tools a request names, in its order."""
    tools = unit_registry()
    assert [t.name for t in tools.definitions(["shout", "add"])] == ["shout", "add"]
    assert tools.definitions([]) == []


@pytest.mark.parametrize(
    ("names", "unknown"),
    [(["add", "nope"], ["nope"]), (["nope", "add", "gone"], ["nope", "gone"])],
)
def test_unknown_tools_are_refused_by_name(names: list[str], unknown: list[str]) -> None:
    """A request naming unregistered tools fails, naming them and the registered ones."""
    tools = unit_registry()
    for check in (tools.check, tools.definitions):
        with pytest.raises(UnknownToolsError) as raised:
            check(names)
        assert raised.value.unknown == unknown
        assert raised.value.registered == tools.names
        for name in unknown:
            assert name in str(raised.value)
        assert "registered: add, shout, charge, broken, broken_fatal" in str(raised.value)


def test_unknown_tools_of_an_empty_registry() -> None:
    """With nothing registered, the message says so."""
    with pytest.raises(UnknownToolsError, match=r"unknown tool a, b \(registered: none\)"):
        ToolRegistry().check(["a", "b"])


def test_known_tools_pass_the_check() -> None:
    """Every name registered: no error."""
    unit_registry().check(["add", "shout", "add"])
    ToolRegistry().check([])


def test_unknown_tools_error_is_a_value_error() -> None:
    """Callers that catch ValueError (bad input) catch it too."""
    assert issubclass(UnknownToolsError, ValueError)


# --- load_registry -------------------------------------------------------------------------


def test_load_registry_calls_a_factory() -> None:
    """`module:function` makes the registry by calling the function."""
    tools = load_registry("durable_runs.activities.demo_tools:demo_registry")
    assert tools.names == demo_registry().names


def test_load_registry_takes_an_instance() -> None:
    """`module:attribute` naming a registry uses it as is."""
    assert load_registry(f"{__name__}:registry") is registry


def test_load_registry_defaults_to_the_registry_attribute() -> None:
    """`module` alone means `module:registry`."""
    assert load_registry(__name__) is registry


@pytest.mark.parametrize("attribute", ["NOT_A_REGISTRY", "not_a_factory"])
def test_load_registry_refuses_what_is_not_a_registry(attribute: str) -> None:
    """A value, or a function returning something else, is a configuration error."""
    with pytest.raises(ValueError, match="does not name a ToolRegistry"):
        load_registry(f"{__name__}:{attribute}")


def test_load_registry_missing_module_or_attribute() -> None:
    """An unknown module fails to import; an unknown attribute is an AttributeError."""
    with pytest.raises(ImportError):
        load_registry("no_such_module_anywhere:registry")
    with pytest.raises(AttributeError):
        load_registry("durable_runs.activities.demo_tools:no_such_factory")


# --- the activity --------------------------------------------------------------------------


async def test_sync_tool_result_is_json() -> None:
    """A sync tool runs (in a thread); a non-string result is sent to the model as JSON."""
    output = await run_tool(call_input("add", {"a": 40}))
    assert output == ToolOutput(tool_call_id="call_9", output="42")


async def test_async_tool_string_result_is_sent_as_is() -> None:
    """A coroutine tool is awaited; a string result is not JSON-quoted."""
    output = await run_tool(call_input("shout", {"text": "hi"}))
    assert output.output == "HI"


async def test_blank_arguments_mean_no_arguments() -> None:
    """An empty arguments string is an empty object (defaults apply)."""
    tools = ToolRegistry()
    tools.register(lambda: "pong", name="ping", description="Ping.")
    assert (await run_tool(call_input("ping", ""), tools)).output == "pong"


async def test_idempotency_key_is_the_workflow_and_call_id() -> None:
    """The key is stable per tool call, the same on every attempt."""
    output = await run_tool(call_input("charge", {"amount": 9.5}))
    assert json.loads(output.output) == {"charged": 9.5, "key": "wf-1/call_9"}


async def test_model_cannot_set_the_idempotency_key() -> None:
    """A key the model sends is replaced by ours."""
    arguments = {"amount": 1, IDEMPOTENCY_KEY_PARAMETER: "forged"}
    output = await run_tool(call_input("charge", arguments))
    assert json.loads(output.output)["key"] == "wf-1/call_9"


async def test_unregistered_tool_is_reported_to_the_model() -> None:
    """A call to a tool nobody registered gets an error output, not a failed activity."""
    output = await run_tool(call_input("rm_rf", {"path": "/"}))
    assert output.tool_call_id == "call_9"
    assert error_of(output) == "unknown tool 'rm_rf'"


async def test_registered_but_not_allowed_tool_is_not_run() -> None:
    """The run's allowed list is the limit: a registered tool outside it is unknown to it."""
    ran: list[str] = []
    tools = ToolRegistry()
    tools.register(lambda: ran.append("ran") or "done", name="secret", description="No.")
    output = await run_tool(call_input("secret", allowed=["add"]), tools)
    assert error_of(output) == "unknown tool 'secret'"
    assert ran == []


@pytest.mark.parametrize(
    ("arguments", "reason"),
    [
        ("{not json", "invalid arguments: "),
        ("[1, 2]", "invalid arguments: tool arguments must be a JSON object, got list"),
        ('"a"', "invalid arguments: tool arguments must be a JSON object, got str"),
    ],
)
async def test_arguments_that_are_not_a_json_object_are_reported(
    arguments: str, reason: str
) -> None:
    """Unreadable arguments are the model's mistake: tell it, run nothing."""
    output = await run_tool(call_input("add", arguments))
    assert error_of(output).startswith(reason)


@pytest.mark.parametrize(
    "arguments", [{}, {"b": 1}, {"a": 1, "c": 3}], ids=["missing", "only-optional", "unexpected"]
)
async def test_arguments_not_matching_the_signature_are_reported(
    arguments: dict[str, Any],
) -> None:
    """Missing or unexpected arguments reach the model as the call's error."""
    output = await run_tool(call_input("add", arguments))
    assert error_of(output).startswith("TypeError: ")


async def test_raising_tool_error_goes_to_the_model() -> None:
    """A tool's own failure is data for the model: the activity succeeds."""
    output = await run_tool(call_input("broken", {"reason": "disk full"}))
    assert error_of(output) == "RuntimeError: disk full"


async def test_raising_fatal_tool_fails_the_activity_for_good() -> None:
    """A `fatal` tool's failure fails the run: non-retryable, typed `ToolFailed`."""
    with pytest.raises(ApplicationError) as raised:
        await run_tool(call_input("broken_fatal", {"reason": "ledger closed"}))
    assert raised.value.non_retryable
    assert raised.value.type == "ToolFailed"
    assert raised.value.message == "tool broken_fatal failed: ledger closed"
    assert isinstance(raised.value.__cause__, RuntimeError)


async def test_long_tool_heartbeats_while_it_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    """A tool that outlasts the heartbeat interval heartbeats, so a dead worker shows soon."""
    monkeypatch.setattr(tools_module, "HEARTBEAT_EVERY_S", 0.01)
    beats: list[tuple[Any, ...]] = []
    env = ActivityEnvironment()
    env.on_heartbeat = lambda *details: beats.append(details)

    async def slow() -> str:
        await asyncio.sleep(0.2)
        return "done"

    tools = ToolRegistry()
    tools.register(slow)
    output = await run_tool(call_input("slow"), tools, env)
    assert output.output == "done"
    assert len(beats) >= 3


async def test_quick_tool_does_not_heartbeat() -> None:
    """A tool done within the interval sends no heartbeat."""
    beats: list[tuple[Any, ...]] = []
    env = ActivityEnvironment()
    env.on_heartbeat = lambda *details: beats.append(details)
    await run_tool(call_input("add", {"a": 1}), env=env)
    assert beats == []


# --- approval --------------------------------------------------------------------------------


def test_requires_approval_is_registered_and_listed() -> None:
    tools = ToolRegistry()
    tools.register(shout)

    @tools.tool(requires_approval=True)
    def refund(order_id: str) -> str:
        """Refund an order."""
        return order_id

    refund_tool = tools.get("refund")
    assert refund_tool is not None and refund_tool.requires_approval
    assert tools.needing_approval(["shout", "refund", "nope"]) == ["refund"]


async def test_a_tool_that_requires_approval_runs_only_when_approved() -> None:
    tools = ToolRegistry()
    tools.register(shout, requires_approval=True)
    call = call_input("shout", {"text": "hi"})
    refused = await run_tool(call, tools)
    assert error_of(refused) == "tool 'shout' requires approval; none was asked for this run"
    approved = await run_tool(call.model_copy(update={"approved": True}), tools)
    assert approved.output == "HI"
