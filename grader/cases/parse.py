"""Test cases are data: one TOML file per case, checked field by field before anything runs.

An instructor adds a case by adding a file; every mistake in it is reported with the file,
the field and what is wrong, so that a typo never silently changes what is graded.
"""

from __future__ import annotations

import difflib
import math
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, cast, get_args

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

BUILTIN_CASES = Path(__file__).parent / "builtin"

LANGUAGES = ("en", "ko", "emoji", "mixed")
CaseKind = Literal["conversation", "functions"]  # the one list of case kinds
KINDS: tuple[CaseKind, ...] = get_args(CaseKind)
VISIBILITIES = ("visible", "hidden")


def known_checks(kind: CaseKind) -> list[str]:
    """The check ids a case of this kind may name: read from the checks' registry."""
    from grader.checks import checks_for  # the checks read cases, so it is imported when used

    return [c.id for c in checks_for(kind)]


class CaseError(ValueError):
    """A case file that cannot be used; names the file, the field and the problem."""

    def __init__(self, path: Path, problem: str, field: str | None = None) -> None:
        self.path, self.field, self.problem = path, field, problem
        self.line = locate(path, field) if field else None
        where = str(path) + (f", line {self.line}" if self.line else "")
        where += f": field '{field}'" if field else ""
        super().__init__(f"{where}: {problem}")


def locate(path: Path, field: str) -> int | None:
    """The line where a field is set, found in the text (tomllib keeps no positions)."""
    try:
        text = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return None
    match = re.fullmatch(r"(?:(\w+)(?:\[(\d+)\])?\.)?(\w+)(?:\[(\d+)\])?", field)
    if not match:
        return None
    table, table_index, key, key_index = match.groups()
    if table is None and key_index is not None:  # "lines[2]": the header of that table
        table, table_index, key = key, key_index, None
    start = 0
    if table is not None:
        header = f"[[{table}]]" if table_index is not None else f"[{table}]"
        headers = [n for n, line in enumerate(text) if line.strip() == header]
        wanted = int(table_index or 0)
        if wanted >= len(headers):
            return None
        start = headers[wanted]
        if key is None:
            return start + 1
    for number in range(start, len(text)):
        stripped = text[number].strip()
        if stripped.startswith("[") and (number > start or table is None):
            break
        if "=" in stripped and stripped.split("=", 1)[0].strip() == key:
            return number + 1
    if table is not None:
        return start + 1
    headers = (f"[{key}]", f"[[{key}]]")
    return next((n + 1 for n, line in enumerate(text) if line.strip() in headers), None)


@dataclass(frozen=True)
class Line:
    """One user line: literal text, or ``tokens`` tokens of generated text in ``language``."""

    text: str | None = None
    tokens: int | None = None
    language: str = "en"
    repeat: int = 1


@dataclass(frozen=True)
class Case:
    id: str
    path: Path
    description: str
    kind: CaseKind
    points: float
    visibility: str
    budget: int
    model: str
    checks: tuple[str, ...]  # the checks the case names; (): every check that applies
    timeout: float
    stall: float = 0.0  # seconds without progress that make it stuck; 0: the grader's default
    # conversation
    system: str = ""
    lines: tuple[Line, ...] = ()
    reply_tokens: int | None = None
    reply_texts: tuple[str, ...] = ()
    # functions
    seed: int = 0
    histories: int = 30
    languages: tuple[str, ...] = ("en", "ko", "emoji")


TOP_FIELDS = {
    "id", "description", "kind", "points", "visibility", "budget", "model", "checks",
    "timeout", "stall", "system", "lines", "replies", "seed", "histories", "languages",
}  # fmt: skip
# The ranges real cases need; beyond them a case would only cost the grader memory and time.
MAX_BUDGET = 1_048_576  # the largest context window of a current model
MAX_HISTORIES = 5_000
MAX_LINES = 5_000  # input lines in a conversation, repeats counted
MAX_CASE_TOKENS = 2_000_000  # generated tokens in one conversation, repeats counted
MAX_TIMEOUT = 600.0
MAX_POINTS = 1_000.0
MAX_CASE_FILE = 1024 * 1024


def load_cases(directory: Path) -> list[Case]:
    """Every ``*.toml`` in the directory, sorted by file name; all errors reported at once."""
    if not directory.is_dir():
        raise CaseError(directory, "no such directory of cases")
    cases: list[Case] = []
    problems: list[CaseError] = []
    for path in sorted(directory.glob("*.toml")):
        try:
            cases.append(load_case(path))
        except CaseError as error:
            problems.append(error)
    seen: dict[str, Path] = {}
    for case in cases:
        if case.id in seen:
            problems.append(
                CaseError(case.path, f"duplicate id {case.id!r}, also in {seen[case.id]}", "id")
            )
        seen[case.id] = case.path
    if problems:
        raise CaseErrors(problems)
    if not cases:
        raise CaseError(directory, "holds no *.toml case files")
    return cases


class CaseErrors(ValueError):
    def __init__(self, errors: list[CaseError]) -> None:
        self.errors = errors
        super().__init__("\n".join(str(e) for e in errors))


def load_case(path: Path) -> Case:
    try:
        if path.stat().st_size > MAX_CASE_FILE:
            raise CaseError(path, f"is over {MAX_CASE_FILE // 1024} KB; a case file is small")
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise CaseError(path, f"not valid TOML: {exc}") from None
    except RecursionError:
        raise CaseError(path, "not valid TOML: arrays or tables nested too deeply") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CaseError(path, f"cannot read: {exc}") from None
    return parse_case(data, path)


def parse_case(data: dict[str, Any], path: Path) -> Case:
    fields = Fields(data, path)
    unknown = sorted(set(data) - TOP_FIELDS)
    if unknown:
        close = difflib.get_close_matches(unknown[0], TOP_FIELDS, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise CaseError(
            path,
            f"unknown field; {hint}known fields are {', '.join(sorted(TOP_FIELDS))}",
            unknown[0],
        )
    case_id = fields.string("id")
    if not case_id.replace("_", "").replace("-", "").isalnum():
        raise CaseError(path, "use letters, digits, '_' and '-' only", "id")
    kind = cast(CaseKind, fields.choice("kind", KINDS, default="conversation"))
    checks = fields.string_list("checks", default=[]) if "checks" in data else []
    allowed_checks = known_checks(kind)
    for check in checks:
        if check not in allowed_checks:
            raise CaseError(
                path,
                f"{check!r} is not a check of a {kind} case; choose from "
                + ", ".join(allowed_checks),
                "checks",
            )
    common: dict[str, Any] = {
        "id": case_id,
        "path": path,
        "description": fields.string("description", default=""),
        "kind": kind,
        "points": fields.number("points", default=1, minimum=0, maximum=MAX_POINTS),
        "visibility": fields.choice("visibility", VISIBILITIES, default="visible"),
        "budget": fields.integer("budget", default=8000, minimum=10, maximum=MAX_BUDGET),
        "model": fields.string("model", default="gpt-5.4"),
        "checks": tuple(dict.fromkeys(checks)),
        "timeout": fields.number("timeout", default=20, minimum=1, maximum=MAX_TIMEOUT),
    }
    common["stall"] = fields.number("stall", default=0, minimum=0, maximum=common["timeout"])
    if kind == "functions":
        for name in ("lines", "replies", "system"):
            fields.forbid(name, "only conversation cases have it")
        languages = fields.string_list("languages", default=["en", "ko", "emoji"])
        for language in languages:
            if language not in LANGUAGES:
                raise CaseError(
                    path, f"{language!r} is not one of {', '.join(LANGUAGES)}", "languages"
                )
        return Case(
            **common,
            seed=fields.integer("seed", default=0),
            histories=fields.integer("histories", default=30, minimum=1, maximum=MAX_HISTORIES),
            languages=tuple(languages),
        )
    for name in ("seed", "histories", "languages"):
        fields.forbid(name, "only functions cases have it")
    replies = data.get("replies", {"tokens": 40})
    if not isinstance(replies, dict):
        raise CaseError(path, "must be a table, e.g. [replies] with tokens = 40", "replies")
    reply_tokens, reply_texts = parse_replies(replies, path, common["budget"])
    raw_lines = data.get("lines")
    if not isinstance(raw_lines, list) or not raw_lines:
        raise CaseError(
            path, "a conversation needs [[lines]] entries (text = ... or tokens = ...)", "lines"
        )
    lines = tuple(parse_line(item, i, path, common["budget"]) for i, item in enumerate(raw_lines))
    if sum(line.repeat for line in lines) > MAX_LINES:
        raise CaseError(path, f"more than {MAX_LINES:,} lines in all, repeats counted", "lines")
    if sum((line.tokens or 0) * line.repeat for line in lines) > MAX_CASE_TOKENS:
        raise CaseError(
            path, f"more than {MAX_CASE_TOKENS:,} generated tokens in all, repeats counted", "lines"
        )
    return Case(
        **common,
        system=fields.string("system", default="You are a helpful assistant."),
        lines=lines,
        reply_tokens=reply_tokens,
        reply_texts=reply_texts,
    )


def parse_replies(
    replies: dict[str, Any], path: Path, budget: int
) -> tuple[int | None, tuple[str, ...]]:
    unknown = sorted(set(replies) - {"tokens", "texts"})
    if unknown:
        raise CaseError(
            path, "unknown key; use tokens = N or texts = [...]", f"replies.{unknown[0]}"
        )
    if ("tokens" in replies) == ("texts" in replies):
        raise CaseError(path, "give exactly one of tokens = N or texts = [...]", "replies")
    if "tokens" in replies:
        tokens = replies["tokens"]
        if not isinstance(tokens, int) or isinstance(tokens, bool) or not 1 <= tokens <= budget:
            raise CaseError(
                path,
                f"must be a whole number from 1 to the budget ({budget}), got {tokens!r}",
                "replies.tokens",
            )
        return tokens, ()
    texts = replies["texts"]
    if not isinstance(texts, list) or not texts or not all(isinstance(t, str) and t for t in texts):
        raise CaseError(path, "must be a non-empty list of non-empty strings", "replies.texts")
    return None, tuple(texts)


def parse_line(item: Any, index: int, path: Path, budget: int) -> Line:
    where = f"lines[{index}]"
    if not isinstance(item, dict):
        raise CaseError(path, "must be a table: [[lines]] with text = ... or tokens = ...", where)
    unknown = sorted(set(item) - {"text", "tokens", "language", "repeat"})
    if unknown:
        raise CaseError(
            path, "unknown key; use text, tokens, language, repeat", f"{where}.{unknown[0]}"
        )
    if ("text" in item) == ("tokens" in item):
        raise CaseError(path, "give exactly one of text = '...' or tokens = N", where)
    repeat = item.get("repeat", 1)
    if not isinstance(repeat, int) or isinstance(repeat, bool) or not 1 <= repeat <= 1000:
        raise CaseError(
            path, f"must be a whole number from 1 to 1000, got {repeat!r}", f"{where}.repeat"
        )
    if "text" in item:
        text = item["text"]
        if not isinstance(text, str) or not text.strip() or "\n" in text:
            raise CaseError(path, "must be a non-empty, single-line string", f"{where}.text")
        if text != text.strip():
            raise CaseError(
                path,
                "must not start or end with spaces: a REPL may strip them, and the line "
                "would no longer match what it sends",
                f"{where}.text",
            )
        if text.strip() == "/quit":
            raise CaseError(
                path, "'/quit' ends the REPL; leave it out, end of input ends it", f"{where}.text"
            )
        return Line(text=text, repeat=repeat)
    tokens = item["tokens"]
    most = 4 * budget  # a line over the budget on its own is a case; far over it, only a cost
    if not isinstance(tokens, int) or isinstance(tokens, bool) or not 1 <= tokens <= most:
        raise CaseError(
            path,
            f"must be a whole number from 1 to 4 x the budget ({most}), got {tokens!r}",
            f"{where}.tokens",
        )
    language = item.get("language", "en")
    if language not in LANGUAGES:
        raise CaseError(
            path, f"{language!r} is not one of {', '.join(LANGUAGES)}", f"{where}.language"
        )
    return Line(tokens=tokens, language=language, repeat=repeat)


def shown(number: float) -> str:
    """1,048,576 and 0.5, not 1.04858e+06."""
    return f"{int(number):,}" if float(number).is_integer() else f"{number:g}"


class Fields:
    """Typed reads of top-level fields, each failing with the field's name."""

    def __init__(self, data: dict[str, Any], path: Path) -> None:
        self.data, self.path = data, path

    _MISSING: Any = object()

    def _get(self, name: str, default: Any) -> Any:
        if name in self.data:
            return self.data[name]
        if default is self._MISSING:
            raise CaseError(self.path, "is required", name)
        return default

    def string(self, name: str, default: Any = _MISSING) -> str:
        value = self._get(name, default)
        if not isinstance(value, str) or (name in ("id", "model") and not value):
            raise CaseError(self.path, f"must be a string, got {value!r}", name)
        return value

    def integer(
        self,
        name: str,
        default: Any = _MISSING,
        minimum: int | None = None,
        maximum: int = 2**63 - 1,
    ) -> int:
        value = self._get(name, default)
        if not isinstance(value, int) or isinstance(value, bool):
            raise CaseError(self.path, f"must be a whole number, got {value!r}", name)
        self._in_range(name, value, minimum, maximum)
        return value

    def number(
        self,
        name: str,
        default: Any = _MISSING,
        minimum: float | None = None,
        maximum: float = float("inf"),
    ) -> float:
        value = self._get(name, default)
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise CaseError(self.path, f"must be a number, got {value!r}", name)
        if not math.isfinite(value):
            raise CaseError(self.path, f"must be a finite number, got {value!r}", name)
        self._in_range(name, value, minimum, maximum)
        return float(value)

    def _in_range(self, name: str, value: float, minimum: float | None, maximum: float) -> None:
        if minimum is not None and value < minimum:
            raise CaseError(self.path, f"must be at least {shown(minimum)}, got {value!r}", name)
        if value > maximum:
            raise CaseError(self.path, f"must be at most {shown(maximum)}, got {value!r}", name)

    def choice(self, name: str, options: tuple[str, ...], default: Any = _MISSING) -> str:
        value = self._get(name, default)
        if value not in options:
            raise CaseError(self.path, f"must be one of {', '.join(options)}, got {value!r}", name)
        return str(value)

    def string_list(self, name: str, default: Any = _MISSING) -> list[str]:
        value = self._get(name, default)
        if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
            raise CaseError(self.path, f"must be a non-empty list of strings, got {value!r}", name)
        return value

    def forbid(self, name: str, why: str) -> None:
        if name in self.data:
            raise CaseError(self.path, f"not allowed here: {why}", name)
