"""Parsing a request body: JSON with a nesting limit, checked before the parser recurses."""

from __future__ import annotations

import json
import re
from typing import Any

# A JSON string (so brackets inside strings are skipped), or one bracket.
TOKEN = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]')
OPENERS = frozenset(b"[{")


class BodyError(ValueError):
    """The body is not JSON the mock will parse: malformed, not UTF-8, or nested too deep."""


def nesting_depth(raw: bytes) -> int:
    """The deepest nesting of arrays and objects in ``raw``, without recursion."""
    if raw.count(b"[") + raw.count(b"{") == 0:
        return 0
    depth = deepest = 0
    for match in TOKEN.finditer(raw):
        first = match.group()[0]
        if first in OPENERS:
            depth += 1
            deepest = max(deepest, depth)
        elif first != ord('"'):
            depth -= 1
    return deepest


def parse_json(raw: bytes, max_depth: int) -> Any:
    """The parsed body; ``BodyError`` for anything the API would call unparseable."""
    if raw.count(b"[") + raw.count(b"{") > max_depth and nesting_depth(raw) > max_depth:
        raise BodyError(f"nested deeper than {max_depth}")
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise BodyError(str(exc)) from exc
