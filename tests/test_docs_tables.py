"""The check tables in README.md and exercise/README.md are the registry's, in its order."""

from __future__ import annotations

import pytest

from grader.checks import CHECKS
from grader.checks.docs import ROOT, TABLES, table, with_tables


@pytest.mark.parametrize("file", sorted(TABLES))
def test_the_check_tables_are_made_from_the_registry(file: str) -> None:
    text = (ROOT / file).read_text(encoding="utf-8")
    assert with_tables(text, TABLES[file], file) == text, (
        f"{file}: its check tables differ from the registry; run python -m grader.checks.docs"
    )


def test_a_table_lists_every_reported_check_in_declaration_order() -> None:
    rows = table("en", "full").splitlines()[2:]
    listed = [row.split("`")[1] for row in rows]
    assert listed == [c.id for c in CHECKS.values() if c.reported]
    assert "requests_sent" not in listed
    korean = table("ko", "student")
    assert "통과 조건" in korean and "입력이 끝나면" in korean
