"""Request checks shared by the API modules (metadata limits, message content)."""

from __future__ import annotations

import json
from typing import Any

from durable_runs_emulator.config import EmulatorConfig
from durable_runs_emulator.errors import bad_request, model_not_found


def check_model(config: EmulatorConfig, model: Any) -> None:
    """Refuse a model name that does not exist (`config.models`); None is left to the caller.

    Raises:
        APIError: 400 `invalid_type` for a non-string, 400 `model_not_found` for an unknown name.
    """
    if model is None:
        return
    if not isinstance(model, str):
        raise bad_request(
            "Invalid type for 'model': expected a string.", param="model", code="invalid_type"
        )
    if not config.model_exists(model):
        raise model_not_found(model)


def check_metadata(metadata: Any, *, param: str = "metadata") -> dict[str, str]:
    """Validate metadata as the API does: at most 16 string pairs, keys ≤ 64, values ≤ 512.

    Raises:
        APIError: 400 with the offending parameter.
    """
    if metadata is None:
        return {}
    if not isinstance(metadata, dict):
        raise bad_request(
            f"Invalid type for '{param}': expected an object, but got {type(metadata).__name__}.",
            param=param,
            code="invalid_type",
        )
    if len(metadata) > 16:
        raise bad_request(
            f"Invalid '{param}': too many properties. Expected an object with at most 16 "
            f"properties, but got an object with {len(metadata)} properties instead.",
            param=param,
            code="object_above_max_properties",
        )
    for key, value in metadata.items():
        if len(key) > 64:
            raise bad_request(
                f"Invalid '{param}': metadata key exceeds 64 characters.",
                param=f"{param}.{key}",
                code="string_above_max_length",
            )
        if not isinstance(value, str):
            raise bad_request(
                f"Invalid type for '{param}.{key}': expected a string, but got "
                f"{type(value).__name__} instead.",
                param=f"{param}.{key}",
                code="invalid_type",
            )
        if len(value) > 512:
            raise bad_request(
                f"Invalid '{param}.{key}': string too long. Expected a string with maximum "
                f"length 512, but got a string with length {len(value)} instead.",
                param=f"{param}.{key}",
                code="string_above_max_length",
            )
    return dict(metadata)


def message_content(content: Any, *, param: str = "content") -> list[dict[str, Any]]:
    """Turn request content (a string or a list of parts) into message content parts.

    Raises:
        APIError: 400 when the content is empty or malformed.
    """
    if isinstance(content, str):
        return [{"type": "text", "text": {"value": content, "annotations": []}}]
    if not isinstance(content, list) or not content:
        raise bad_request(
            f"Invalid '{param}': expected a string or a non-empty array of content parts.",
            param=param,
        )
    parts: list[dict[str, Any]] = []
    for part in content:
        if isinstance(part, dict) and part.get("type") == "text":
            parts.append(
                {"type": "text", "text": {"value": str(part.get("text", "")), "annotations": []}}
            )
        elif isinstance(part, dict) and part.get("type") in ("image_url", "image_file"):
            parts.append(part)
        else:
            raise bad_request(f"Invalid content part in '{param}'.", param=param)
    return parts


def normalize_tools(tools: Any, *, param: str = "tools") -> list[dict[str, Any]]:
    """Validate Assistants tools and fill the defaults the API echoes back (`strict: false`).

    Raises:
        APIError: 400 for an unknown tool type or a function without a name.
    """
    if tools is None:
        return []
    if not isinstance(tools, list):
        raise bad_request(f"Invalid type for '{param}': expected an array.", param=param)
    if len(tools) > 128:
        raise bad_request(f"Invalid '{param}': too many tools (max 128).", param=param)
    result: list[dict[str, Any]] = []
    for index, tool in enumerate(tools):
        kind = tool.get("type") if isinstance(tool, dict) else None
        if kind in ("code_interpreter", "file_search"):
            result.append(dict(tool))
            continue
        function = tool.get("function") if isinstance(tool, dict) else None
        if kind != "function" or not isinstance(function, dict) or not function.get("name"):
            raise bad_request(
                f"Invalid value for '{param}[{index}]': expected a function tool with a name.",
                param=f"{param}[{index}]",
            )
        normalized: dict[str, Any] = {"name": function["name"]}
        if function.get("description") is not None:
            normalized["description"] = function["description"]
        normalized["parameters"] = function.get("parameters") or {
            "type": "object",
            "properties": {},
        }
        normalized["strict"] = bool(function.get("strict", False))
        result.append({"type": "function", "function": normalized})
    return result


async def read_json(request: Any) -> dict[str, Any]:
    """The request's JSON object body (an empty body reads as `{}`).

    Raises:
        APIError: 400 when the body is not a JSON object.
    """
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        raise bad_request(
            "We could not parse the JSON body of your request. (HINT: This likely means you "
            "aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but "
            "what was sent was not valid JSON. If you have trouble figuring out how to fix this, "
            "please contact us through our help center at help.openai.com.)"
        ) from None
    if not isinstance(value, dict):
        raise bad_request("Invalid body: expected a JSON object.")
    return value


def required_string(body: dict[str, Any], name: str) -> str:
    """A required string parameter.

    Raises:
        APIError: 400 `Missing required parameter: 'name'.`
    """
    value = body.get(name)
    if value is None:
        raise bad_request(
            f"Missing required parameter: '{name}'.", param=name, code="missing_required_parameter"
        )
    if not isinstance(value, str) or not value:
        raise bad_request(
            f"Invalid type for '{name}': expected a string.", param=name, code="invalid_type"
        )
    return value
