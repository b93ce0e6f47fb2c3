"""What a submission is given: case files (parse), the exact lines and samples (script)."""

from grader.cases.parse import (
    BUILTIN_CASES,
    KINDS,
    LANGUAGES,
    VISIBILITIES,
    Case,
    CaseError,
    CaseErrors,
    CaseKind,
    load_case,
    load_cases,
)

__all__ = [
    "BUILTIN_CASES",
    "KINDS",
    "LANGUAGES",
    "VISIBILITIES",
    "Case",
    "CaseError",
    "CaseErrors",
    "CaseKind",
    "load_case",
    "load_cases",
]
