"""Tools the model may call: a registry of plain Python functions and the activity that runs one.

Tool functions run at least once per tool call (an activity may be retried, a worker may crash
after the tool ran but before Temporal recorded it). A function that has side effects declares a
keyword parameter `idempotency_key`: it receives a key that is the same on every attempt for the
same tool call (workflow id + tool call id), so it can make its effect happen once.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import json
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from pydantic import BaseModel, create_model
from temporalio import activity
from temporalio.exceptions import ApplicationError

from durable_runs.activities.tool_metrics import record_tool_call
from durable_runs.models import ToolCallInput, ToolOutput, parse_tool_arguments

IDEMPOTENCY_KEY_PARAMETER = "idempotency_key"
HEARTBEAT_EVERY_S = 2.0
"""How often a running tool heartbeats (the workflow's heartbeat timeout is larger)."""


class UnknownToolsError(ValueError):
    """A request names tools the registry does not have (no retry can fix it).

    Attributes:
        unknown: The names not registered.
        registered: The names that are.
    """

    def __init__(self, unknown: list[str], registered: list[str]) -> None:
        """Args: unknown: names not registered; registered: the registry's names."""
        self.unknown = unknown
        self.registered = registered
        known = ", ".join(registered) or "none"
        super().__init__(f"tools: unknown tool {', '.join(unknown)} (registered: {known})")


@dataclass(frozen=True)
class Tool:
    """A registered tool.

    Attributes:
        name: The function name the model calls.
        description: What the tool does, for the model.
        parameters: JSON schema of the arguments object.
        function: The Python callable (sync or async); returns a str or a JSON-serialisable value.
        fatal: When the function raises, fail the run instead of telling the model.
        requires_approval: A call waits for a person's decision before it runs.
    """

    name: str
    description: str
    parameters: dict[str, Any]
    function: Callable[..., Any]
    fatal: bool = False
    requires_approval: bool = False

    @property
    def wants_idempotency_key(self) -> bool:
        """True when the function declares the `idempotency_key` keyword parameter."""
        return IDEMPOTENCY_KEY_PARAMETER in inspect.signature(self.function).parameters

    def function_definition(self) -> dict[str, Any]:
        """The tool as a function definition (name, description, parameters)."""
        return {"name": self.name, "description": self.description, "parameters": self.parameters}


def schema_from_signature(function: Callable[..., Any]) -> dict[str, Any]:
    """JSON schema of a function's arguments, derived from its annotated signature by pydantic."""
    fields: dict[str, Any] = {}
    for name, parameter in inspect.signature(function).parameters.items():
        if name == IDEMPOTENCY_KEY_PARAMETER:
            continue
        annotation = (
            Any if parameter.annotation is inspect.Parameter.empty else parameter.annotation
        )
        default = ... if parameter.default is inspect.Parameter.empty else parameter.default
        fields[name] = (annotation, default)
    model: type[BaseModel] = create_model(f"{function.__name__}_arguments", **fields)
    schema = model.model_json_schema()
    schema.pop("title", None)
    return schema


class ToolRegistry:
    """Tools by name. The worker gets one; requests name the tools a run may use."""

    def __init__(self) -> None:
        """Start with no tools."""
        self._tools: dict[str, Tool] = {}

    def register(
        self,
        function: Callable[..., Any],
        *,
        name: str | None = None,
        description: str | None = None,
        parameters: dict[str, Any] | None = None,
        fatal: bool = False,
        requires_approval: bool = False,
    ) -> Tool:
        """Register a function as a tool.

        Args:
            function: Sync or async callable taking the tool's arguments as keywords.
            name: Tool name (defaults to the function's name).
            description: For the model (defaults to the function's docstring).
            parameters: JSON schema of the arguments (defaults to one derived from the signature).
            fatal: A raising tool fails the run instead of reporting the error to the model.
            requires_approval: A call of the tool waits for a person's decision (Workflow
                Update `decide`); runs started through `durable_runs.client` with this
                registry add it to their `ApprovalPolicy`.

        Returns:
            The registered tool.
        """
        tool = Tool(
            name=name or function.__name__,
            description=description or inspect.getdoc(function) or "",
            parameters=parameters or schema_from_signature(function),
            function=function,
            fatal=fatal,
            requires_approval=requires_approval,
        )
        self._tools[tool.name] = tool
        return tool

    def tool(
        self, *, name: str | None = None, fatal: bool = False, requires_approval: bool = False
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Decorator form of `register`."""

        def decorate(function: Callable[..., Any]) -> Callable[..., Any]:
            self.register(function, name=name, fatal=fatal, requires_approval=requires_approval)
            return function

        return decorate

    def get(self, name: str) -> Tool | None:
        """The tool called `name`, if registered."""
        return self._tools.get(name)

    @property
    def names(self) -> list[str]:
        """Registered tool names."""
        return list(self._tools)

    def needing_approval(self, names: list[str]) -> list[str]:
        """The registered tools among `names` that require approval, in that order."""
        return [n for n in names if (t := self._tools.get(n)) is not None and t.requires_approval]

    def definitions(self, names: list[str]) -> list[Tool]:
        """The registered tools among `names`, in that order.

        Raises:
            UnknownToolsError: A name is not registered.
        """
        self.check(names)
        return [self._tools[n] for n in names]

    def check(self, names: list[str]) -> None:
        """Check that every name is registered.

        Raises:
            UnknownToolsError: A name is not registered (the message names it).
        """
        missing = [n for n in names if n not in self._tools]
        if missing:
            raise UnknownToolsError(missing, self.names)


def load_registry(spec: str) -> ToolRegistry:
    """Import the tool registry named by `module:attribute` (a registry or a function making one).

    Raises:
        ValueError: The spec does not name a ToolRegistry.
        ImportError: Its module cannot be imported.
    """
    module_name, _, attribute = spec.partition(":")
    target = getattr(importlib.import_module(module_name), attribute or "registry")
    registry = target() if callable(target) and not isinstance(target, ToolRegistry) else target
    if not isinstance(registry, ToolRegistry):
        raise ValueError(f"DURABLE_RUNS_TOOLS={spec!r} does not name a ToolRegistry")
    return registry


async def _heartbeating(work: Coroutine[Any, Any, Any]) -> Any:
    """Await `work`, heartbeating meanwhile so Temporal notices a dead worker quickly."""
    task = asyncio.create_task(work)
    try:
        while True:
            done, _ = await asyncio.wait({task}, timeout=HEARTBEAT_EVERY_S)
            if done:
                return task.result()
            activity.heartbeat()
    finally:
        task.cancel()


class ToolActivities:
    """Runs tool calls as activities (on the workflow's task queue)."""

    def __init__(self, registry: ToolRegistry) -> None:
        """Args: registry: the tools this worker can run."""
        self._registry = registry

    @activity.defn(name="tools.run")
    async def run_tool(self, call: ToolCallInput) -> ToolOutput:
        """Run one tool call and return its output for the model.

        An unknown or disallowed tool, bad arguments, or a raising tool become an output that
        says so (the model can recover); a raising `fatal` tool fails the activity instead. A
        tool that requires approval runs only when the call says a person approved it (a run
        whose request did not list it in its `ApprovalPolicy` never waited for one).
        """
        name = call.call.name
        tool = self._registry.get(name) if name in call.allowed else None
        if tool is None:
            record_tool_call(name, "unknown", timedelta())
            return self._output(call, {"error": f"unknown tool {name!r}"})
        if tool.requires_approval and not call.approved:
            record_tool_call(name, "unapproved", timedelta())
            return self._output(
                call, {"error": f"tool {name!r} requires approval; none was asked for this run"}
            )
        try:
            arguments = parse_tool_arguments(call.call)
        except ValueError as err:
            record_tool_call(name, "bad_arguments", timedelta())
            return self._output(call, {"error": f"invalid arguments: {err}"})
        if tool.wants_idempotency_key:
            arguments[IDEMPOTENCY_KEY_PARAMETER] = call.idempotency_key
        began = time.monotonic()
        try:
            if inspect.iscoroutinefunction(tool.function):
                value = await _heartbeating(tool.function(**arguments))
            else:
                value = await _heartbeating(asyncio.to_thread(tool.function, **arguments))
        except Exception as err:  # a tool's own failure is data for the model
            ran = timedelta(seconds=time.monotonic() - began)
            if tool.fatal:
                record_tool_call(name, "failed", ran)
                raise ApplicationError(
                    f"tool {tool.name} failed: {err}", type="ToolFailed", non_retryable=True
                ) from err
            record_tool_call(name, "error", ran)
            activity.logger.warning("tool %s raised %r", tool.name, err)
            return self._output(call, {"error": f"{type(err).__name__}: {err}"})
        record_tool_call(name, "ok", timedelta(seconds=time.monotonic() - began))
        return self._output(call, value)

    @staticmethod
    def _output(call: ToolCallInput, value: Any) -> ToolOutput:
        text = value if isinstance(value, str) else json.dumps(value)
        return ToolOutput(tool_call_id=call.call.id, output=text)
