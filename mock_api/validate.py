"""Request validation for POST /v1/chat/completions: what the real API refuses, in its words.

One registry, ``PARAMETERS``, says which top-level fields exist and what each accepts; the
checks, the conformance probes and the docs' tables read it. ``null`` is accepted for every
optional parameter, as the API does.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mock_api import errors
from mock_api.errors import APIError

REASONING_MODEL = re.compile(r"^(gpt-5|o\d)")
MAX_CHOICES = 128


@dataclass(frozen=True)
class Param:
    """What one top-level parameter accepts: a JSON type (by name), and bounds for numbers."""

    kind: str  # "boolean", "integer", "number", "string", "object", "array", "any"
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()


# The Chat Completions request body, as documented in the API reference.
PARAMETERS: dict[str, Param] = {
    "model": Param("string"),
    "messages": Param("array"),
    "audio": Param("object"),
    "frequency_penalty": Param("number", -2, 2),
    "function_call": Param("any"),
    "functions": Param("array"),
    "logit_bias": Param("object"),
    "logprobs": Param("boolean"),
    "max_completion_tokens": Param("integer", 1),
    "max_tokens": Param("integer", 1),
    "metadata": Param("object"),
    "modalities": Param("array"),
    "n": Param("integer", 1, MAX_CHOICES),
    "parallel_tool_calls": Param("boolean"),
    "prediction": Param("object"),
    "presence_penalty": Param("number", -2, 2),
    "prompt_cache_key": Param("string"),
    "reasoning_effort": Param("string", choices=("none", "minimal", "low", "medium", "high")),
    "response_format": Param("object"),
    "safety_identifier": Param("string"),
    "seed": Param("integer"),
    "service_tier": Param("string", choices=("auto", "default", "flex", "scale", "priority")),
    "stop": Param("any"),
    "store": Param("boolean"),
    "stream": Param("boolean"),
    "stream_options": Param("object"),
    "temperature": Param("number", 0, 2),
    "tool_choice": Param("any"),
    "tools": Param("array"),
    "top_logprobs": Param("integer", 0, 20),
    "top_p": Param("number", 0, 1),
    "user": Param("string"),
    "verbosity": Param("string", choices=("low", "medium", "high")),
    "web_search_options": Param("object"),
}

TYPE_NAMES = {
    "boolean": "a boolean",
    "integer": "an integer",
    "number": "a number",
    "string": "a string",
    "object": "an object",
    "array": "an array",
}

# Content part types each role may send, in the API's order.
PART_TYPES: dict[str, tuple[str, ...]] = {
    "system": ("text",),
    "developer": ("text",),
    "user": ("text", "image_url", "input_audio", "file"),
    "assistant": ("text", "refusal"),
    "tool": ("text",),
    "function": ("text",),
}


KIND_CHECKS: dict[str, Callable[[Any], bool]] = {
    "boolean": lambda v: isinstance(v, bool),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "string": lambda v: isinstance(v, str),
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "any": lambda v: True,
}


def is_kind(value: Any, kind: str) -> bool:
    return KIND_CHECKS[kind](value)


def validate_body(body: Any) -> dict[str, Any]:
    """Reject what the real API rejects, in its words; return the body when it is acceptable."""
    if not isinstance(body, dict):
        raise errors.missing_parameter("model")
    for name in ("model", "messages"):
        if name not in body:
            raise errors.missing_parameter(name)
    for name in body:
        if name not in PARAMETERS:
            raise errors.unknown_parameter(name)
    for name, value in body.items():
        if value is not None or name in ("model", "messages"):
            check_parameter(name, value, PARAMETERS[name])
    check_messages(body["messages"])
    if body.get("max_tokens") is not None and REASONING_MODEL.match(body["model"]):
        raise errors.unsupported_max_tokens()
    if body.get("stream_options") is not None and not body.get("stream"):
        raise errors.stream_options_without_stream()
    return body


def check_parameter(name: str, value: Any, spec: Param) -> None:
    if not is_kind(value, spec.kind):
        raise errors.invalid_type(name, TYPE_NAMES[spec.kind], value)
    if spec.minimum is not None and value < spec.minimum:
        raise errors.below_minimum(name, spec.minimum, value, spec.kind == "integer")
    if spec.maximum is not None and value > spec.maximum:
        raise errors.above_maximum(name, spec.maximum, value, spec.kind == "integer")
    if spec.choices and value not in spec.choices:
        raise errors.invalid_value(name, value, spec.choices)


def check_messages(messages: list[Any]) -> None:
    if not messages:
        raise APIError(
            400,
            "Invalid 'messages': empty array. Expected an array with minimum length 1, "
            "but got an empty array instead.",
            param="messages",
            code="empty_array",
        )
    for i, message in enumerate(messages):
        check_message(i, message)


def check_message(i: int, message: Any) -> None:
    """One message: its role, the fields that role requires, and its content's type."""
    where = f"messages[{i}]"
    if not isinstance(message, dict):
        raise errors.invalid_type(where, "an object", message)
    if "role" not in message:
        raise errors.missing_parameter(f"{where}.role")
    role = message["role"]
    if role not in errors.SUPPORTED_ROLES:
        raise errors.invalid_role(i, role)
    calls = message.get("tool_calls") or message.get("function_call")
    # An assistant message may carry tool calls (or a refusal) instead of text.
    content_optional = role == "function" or (
        role == "assistant" and bool(calls or message.get("refusal"))
    )
    content = message.get("content")
    if "content" not in message and not content_optional:
        raise errors.missing_parameter(f"{where}.content")
    if content is not None or not content_optional:
        check_content(f"{where}.content", content, PART_TYPES[role])
    if "name" in message and not isinstance(message["name"], str):
        raise errors.invalid_type(f"{where}.name", "a string", message["name"])
    if role == "tool" and not isinstance(message.get("tool_call_id"), str):
        if "tool_call_id" not in message:
            raise errors.missing_parameter(f"{where}.tool_call_id")
        raise errors.invalid_type(f"{where}.tool_call_id", "a string", message["tool_call_id"])
    if role == "function" and "name" not in message:
        raise errors.missing_parameter(f"{where}.name")


def check_content(where: str, content: Any, part_types: tuple[str, ...]) -> None:
    if isinstance(content, str):
        return
    if not isinstance(content, list):
        raise errors.invalid_type(where, "one of a string or array of objects", content)
    for j, part in enumerate(content):
        at = f"{where}[{j}]"
        if not isinstance(part, dict):
            raise errors.invalid_type(at, "an object", part)
        if "type" not in part:
            raise errors.missing_parameter(f"{at}.type")
        if part["type"] not in part_types:
            raise errors.invalid_value(f"{at}.type", part["type"], part_types)
        if part["type"] in ("text", "refusal"):
            field = part["type"]
            if field not in part:
                raise errors.missing_parameter(f"{at}.{field}")
            if not isinstance(part[field], str):
                raise errors.invalid_type(f"{at}.{field}", "a string", part[field])
