"""The error envelope of the OpenAI API, with the real messages for the cases the mock emulates."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

SUPPORTED_ROLES = ("system", "assistant", "user", "function", "tool", "developer")


@dataclass(eq=False)
class APIError(Exception):
    """An error the API answers with; raised inside the mock, turned into the envelope."""

    status: int
    message: str
    type: str = "invalid_request_error"
    param: str | None = None
    code: str | None = None

    def envelope(self) -> dict[str, Any]:
        return {
            "error": {
                "message": self.message,
                "type": self.type,
                "param": self.param,
                "code": self.code,
            }
        }


def missing_parameter(name: str) -> APIError:
    return APIError(
        400, f"Missing required parameter: '{name}'.", param=name, code="missing_required_parameter"
    )


def invalid_type(param: str, expected: str, got: Any) -> APIError:
    return APIError(
        400,
        f"Invalid type for '{param}': expected {expected}, but got {type_name(got)} instead.",
        param=param,
        code="invalid_type",
    )


def invalid_role(index: int, role: Any) -> APIError:
    supported = ", ".join(f"'{r}'" for r in SUPPORTED_ROLES[:-1])
    return APIError(
        400,
        f"Invalid value: '{role}'. Supported values are: {supported}, and '{SUPPORTED_ROLES[-1]}'.",
        param=f"messages[{index}].role",
        code="invalid_value",
    )


def unsupported_max_tokens() -> APIError:
    return APIError(
        400,
        "Unsupported parameter: 'max_tokens' is not supported with this model. "
        "Use 'max_completion_tokens' instead.",
        param="max_tokens",
        code="unsupported_parameter",
    )


def context_length_exceeded(window: int, prompt_tokens: int) -> APIError:
    return APIError(
        400,
        f"This model's maximum context length is {window} tokens. However, your messages "
        f"resulted in {prompt_tokens} tokens. Please reduce the length of the messages.",
        param="messages",
        code="context_length_exceeded",
    )


def invalid_json() -> APIError:
    return APIError(
        400,
        "We could not parse the JSON body of your request. (HINT: This likely means you aren't "
        "using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was "
        "sent was not valid JSON.)",
    )


def missing_api_key() -> APIError:
    return APIError(
        401,
        "You didn't provide an API key. You need to provide your API key in an Authorization "
        "header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
        code="invalid_api_key",
    )


def wrong_api_key(key: str) -> APIError:
    shown = f"{key[:3]}*****{key[-4:]}" if len(key) > 8 else "*****"
    return APIError(
        401,
        f"Incorrect API key provided: {shown}. You can find your API key at "
        "https://platform.openai.com/account/api-keys.",
        code="invalid_api_key",
    )


def unknown_url(method: str, path: str) -> APIError:
    return APIError(404, f"Invalid URL ({method} {path})")


def wrong_method(method: str, path: str) -> APIError:
    return APIError(405, f"Invalid method for URL ({method} {path})")


def unknown_parameter(name: str) -> APIError:
    return APIError(400, f"Unrecognized request argument supplied: {name}")


def below_minimum(param: str, minimum: float, got: float, integer: bool) -> APIError:
    kind = "integer" if integer else "decimal"
    return APIError(
        400,
        f"Invalid '{param}': {kind} below minimum value. Expected a value >= {number(minimum)}, "
        f"but got {number(got)} instead.",
        param=param,
        code=f"{kind}_below_min_value",
    )


def above_maximum(param: str, maximum: float, got: float, integer: bool) -> APIError:
    kind = "integer" if integer else "decimal"
    return APIError(
        400,
        f"Invalid '{param}': {kind} above maximum value. Expected a value <= {number(maximum)}, "
        f"but got {number(got)} instead.",
        param=param,
        code=f"{kind}_above_max_value",
    )


def invalid_value(param: str, got: Any, supported: tuple[str, ...]) -> APIError:
    listed = ", ".join(f"'{s}'" for s in supported[:-1])
    listed = f"{listed}, and '{supported[-1]}'" if listed else f"'{supported[-1]}'"
    return APIError(
        400,
        f"Invalid value: '{got}'. Supported values are: {listed}.",
        param=param,
        code="invalid_value",
    )


def stream_options_without_stream() -> APIError:
    return APIError(
        400,
        "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
        param="stream_options",
        code="invalid_value",
    )


def body_too_large(size: int, limit: int) -> APIError:
    return APIError(
        413,
        f"Request body too large: {size} bytes; the limit is {limit} bytes.",
        param=None,
        code="request_too_large",
    )


def model_not_found(model: str) -> APIError:
    return APIError(
        404,
        f"The model '{model}' does not exist or you do not have access to it.",
        param="model",
        code="model_not_found",
    )


def rate_limited(model: str) -> APIError:
    return APIError(
        429,
        f"Rate limit reached for {model} on requests per min (RPM): Limit 3, Used 3, "
        "Requested 1. Please try again shortly.",
        type="requests",
        code="rate_limit_exceeded",
    )


def server_error() -> APIError:
    return APIError(
        500,
        "The server had an error while processing your request. Sorry about that!",
        type="server_error",
    )


def number(value: float) -> str:
    """2.0 -> 2, as the API prints its limits."""
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


def type_name(value: Any) -> str:
    names = {str: "a string", int: "an integer", float: "a decimal", bool: "a boolean"}
    if value is None:
        return "null"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return names.get(type(value), type(value).__name__)
