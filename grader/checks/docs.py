"""Judging, documented: the check tables of README.md and exercise/README.md, made from the
registry, so that the docs list exactly the checks that run, in their order.

``python -m grader.checks.docs`` rewrites the tables between their markers;
tests/test_docs_tables.py fails when a table differs from what the registry makes.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from grader import i18n
from grader.checks import CHECKS, Check
from grader.i18n import N_, _

ROOT = Path(__file__).resolve().parents[2]
# file -> the tables in it: (marker name, language, columns)
TABLES: dict[str, list[tuple[str, str, str]]] = {
    "README.md": [("checks", "en", "full")],
    "exercise/README.md": [("checks-ko", "ko", "student"), ("checks-en", "en", "student")],
}
KIND_WORDS = {"any": N_("every case"), "functions": N_("functions"),
              "conversation": N_("conversation")}  # fmt: skip


def cell(text: str) -> str:
    return text.replace("|", "\\|")


def kind_of(check: Check) -> str:
    words = _(KIND_WORDS[check.kind])
    return f"{words}, {_(check.when)}" if check.when else words


def table(language: str, columns: str) -> str:
    """The table of every reported check, in declaration order, in this language."""
    before = i18n.current()
    i18n.use(language)
    try:
        if columns == "full":
            rows = ["| check | case kind | passes when |", "|---|---|---|"]
            rows += [f"| `{c.id}` | {kind_of(c)} | {cell(_(c.doc))} |" for c in reported()]
        else:
            passes_when = _("passes when")
            rows = [f"| check | {passes_when} |", "|---|---|"]
            rows += [f"| `{c.id}` | {cell(_(c.doc))} |" for c in reported()]
    finally:
        i18n.use(before)
    return "\n".join(rows)


def reported() -> list[Check]:
    return [c for c in CHECKS.values() if c.reported]


def with_tables(text: str, tables: list[tuple[str, str, str]], file: str) -> str:
    """The text with each marked table replaced by the registry's."""
    for name, language, columns in tables:
        start = f"<!-- {name}: made by python -m grader.checks.docs -->\n"
        end = f"\n<!-- /{name} -->"
        pattern = re.compile(re.escape(start) + ".*?" + re.escape(end), re.S)
        if not pattern.search(text):
            raise ValueError(f"{file}: no table markers for {name!r}")
        made = start + table(language, columns) + end
        text = pattern.sub(lambda _match, made=made: made, text)
    return text


def main() -> int:
    for file, tables in TABLES.items():
        path = ROOT / file
        text = path.read_text(encoding="utf-8")
        new = with_tables(text, tables, file)
        if new != text:
            path.write_text(new, encoding="utf-8")
            print(f"rewrote the check tables in {file}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
