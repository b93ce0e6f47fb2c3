"""What a submission is given: case files (parse), the exact lines and samples (script)."""

from grader.cases.parse import (
    ALL_CHECKS,
    BUILTIN_CASES,
    CONVERSATION_CHECKS,
    FUNCTION_CHECKS,
    KINDS,
    LANGUAGES,
    VISIBILITIES,
    Case,
    CaseError,
    CaseErrors,
    load_case,
    load_cases,
)

__all__ = [
    "ALL_CHECKS",
    "BUILTIN_CASES",
    "CONVERSATION_CHECKS",
    "FUNCTION_CHECKS",
    "KINDS",
    "LANGUAGES",
    "VISIBILITIES",
    "Case",
    "CaseError",
    "CaseErrors",
    "load_case",
    "load_cases",
]
