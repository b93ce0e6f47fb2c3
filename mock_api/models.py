"""The model list ``GET /v1/models`` answers: ids the lesson and the tests use, in the API's shape.

Chat requests are not checked against it: any model name is answered (see docs/mock-openai.md).
"""

from __future__ import annotations

from typing import Any

# id -> the `created` timestamp the API reports for it (stable, so answers are reproducible).
MODELS: dict[str, int] = {
    "gpt-5.4": 1772668800,
    "gpt-5.4-mini": 1772668800,
    "gpt-5": 1754425777,
    "gpt-5-mini": 1754425928,
    "gpt-5-nano": 1754426384,
    "gpt-4.1": 1744316542,
    "gpt-4.1-mini": 1744318173,
    "gpt-4o": 1715367049,
    "gpt-4o-mini": 1721172741,
    "o3": 1744225308,
    "o4-mini": 1744225351,
    "gpt-3.5-turbo": 1677610602,
}


def model_object(model: str) -> dict[str, Any]:
    return {"id": model, "object": "model", "created": MODELS[model], "owned_by": "system"}


def model_list() -> dict[str, Any]:
    return {"object": "list", "data": [model_object(m) for m in MODELS]}
