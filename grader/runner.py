"""The grader's side of a run: starts the worker, feeds it a script, answers its requests.

Every request the submission sends arrives here, is answered by the mock, and is journaled
here: the checks read only this journal and the script, never anything the submission's
process could have changed.
"""

from __future__ import annotations

import base64
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grader.protocol import Channel, ProtocolError
from grader.script import ConversationScript, FunctionScript, Script
from mock_api.core import ChatCompletionsMock, JournalEntry, MockRequest
from mock_api.offline import seed_tiktoken_cache

DUMMY_KEY = "sk-trimlab-grader-dummy-key"
COPY_SKIP = {".git", ".venv", "venv", "__pycache__", "node_modules", ".mypy_cache", ".pytest_cache"}
# -I: no PYTHON* variables, no user site; the worker imports this very checkout of the grader.
WORKER_BOOT = (
    "import sys; sys.path.insert(0, sys.argv[1]); from grader.worker import main; sys.exit(main())"
)
MAX_COPY_FILE = 2 * 1024 * 1024
MAX_COPY_TOTAL = 20 * 1024 * 1024


@dataclass(frozen=True)
class Limits:
    memory_mb: int = 1024
    output_kb: int = 1024
    # Slack for the worker's start-up, added to the first case's time limit.
    startup_seconds: float = 20.0


@dataclass
class Outcome:
    """How the submission's run of a case ended."""

    kind: str  # returned, raised, exit, bad_signature, timeout, vanished, load_failed, crashed
    message: str = ""
    error: dict[str, Any] | None = None


@dataclass
class CaseRun:
    script: Script
    outcome: Outcome
    loaded: bool = False
    load_error: str | None = None
    journal: list[JournalEntry] = field(default_factory=list)
    results: dict[str, dict[int, dict[str, Any]]] = field(
        default_factory=lambda: {"count_tokens": {}, "trim_history": {}}
    )
    output: str = ""
    seconds: float = 0.0


class WorkerGone(RuntimeError):
    pass


def submission_file(path: Path) -> Path:
    """A submission is a directory holding chat_repl.py, or that file itself."""
    path = path.expanduser()
    if path.is_dir():
        path = path / "chat_repl.py"
    if not path.is_file():
        raise FileNotFoundError(
            f"{path}: no such file (a submission is a directory holding chat_repl.py)"
        )
    return path.resolve()


def scrubbed_environment(tiktoken_cache: Path, home: Path) -> dict[str, str]:
    """No real key, base URL or anything else of the grader's environment reaches a submission."""
    return {
        "PATH": os.defpath,
        "HOME": str(home),
        "TMPDIR": str(home),
        "LANG": "C.UTF-8",
        "PYTHONIOENCODING": "utf-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        "OPENAI_API_KEY": DUMMY_KEY,
        "TIKTOKEN_CACHE_DIR": str(tiktoken_cache),
    }


class Sandbox:
    """A worker and its scratch space. Cases run one after another, each in a fresh fork of
    the worker, so one sandbox can grade many submissions in turn."""

    def __init__(self, limits: Limits | None = None) -> None:
        self.limits = limits or Limits()
        self.root = Path(tempfile.mkdtemp(prefix="trimlab-"))
        self.cache = seed_tiktoken_cache(self.root / "tiktoken-cache")
        self.process: subprocess.Popen[bytes] | None = None
        self.channel: Channel | None = None
        self.fence = ""
        self.cases_run = 0
        self.start()

    def start(self) -> None:
        """Start the worker; it warms up while the grader prepares the scripts."""
        to_worker_r, to_worker_w = os.pipe()
        from_worker_r, from_worker_w = os.pipe()
        home = self.root / "home"
        home.mkdir(exist_ok=True)
        log = open(self.root / "worker.log", "ab")  # noqa: SIM115  (owned by the process)
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-I",
                "-c",
                WORKER_BOOT,
                package_root(),
                str(to_worker_r),
                str(from_worker_w),
            ],
            pass_fds=(to_worker_r, from_worker_w),
            env=scrubbed_environment(self.cache, home),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            cwd=home,
            start_new_session=True,
        )
        log.close()
        os.close(to_worker_r)
        os.close(from_worker_w)
        self.channel = Channel(from_worker_r, to_worker_w)
        self.ready = False

    def _await_ready(self, timeout: float) -> None:
        assert self.channel is not None
        message = self.channel.receive(timeout)
        if message is None or message["op"] != "ready":
            raise WorkerGone(f"the grading worker did not start: {self.worker_log()}")
        self.fence = message.get("fence", "")
        self.ready = True

    def worker_log(self) -> str:
        try:
            return (self.root / "worker.log").read_text(errors="replace")[-2000:].strip()
        except OSError:
            return ""

    def run(self, script: Script, submission: Path) -> CaseRun:
        """Run one case of ``submission`` (a chat_repl.py, see ``submission_file``)."""
        started = time.monotonic()
        run = self._run(script, submission)
        run.seconds = time.monotonic() - started
        return run

    def _run(self, script: Script, file: Path) -> CaseRun:
        case = script.case
        self.cases_run += 1
        budget = case.timeout + (self.limits.startup_seconds if not self.ready else 0)
        deadline = time.monotonic() + budget
        try:
            if self.process is None or self.process.poll() is not None:
                self.start()
            if not self.ready:
                self._await_ready(max(deadline - time.monotonic(), 0.1))
                deadline = time.monotonic() + case.timeout
        except (WorkerGone, TimeoutError, ProtocolError) as exc:
            self.stop()
            reason = str(exc) or "the grading worker did not start in time"
            return CaseRun(script, Outcome("crashed", reason))
        workdir, stdin, output = self._prepare(script, file)
        mock = (
            ChatCompletionsMock(script.mock_config())
            if isinstance(script, ConversationScript)
            else None
        )
        run = CaseRun(script, Outcome("vanished"))
        assert self.channel is not None
        self.channel.send(case_message(script, workdir, file.name, stdin, output, self.limits))
        child: int | None = None
        exited: dict[str, Any] | None = None
        done: dict[str, Any] | None = None
        while exited is None:
            try:
                message = self.channel.receive(max(deadline - time.monotonic(), 0))
            except TimeoutError:
                kill_group(child)
                run.outcome = Outcome("timeout", f"did not finish within {case.timeout:g} s")
                exited = self._await_exit(child)
                break
            except ProtocolError as exc:
                kill_group(child)
                run.outcome = Outcome("crashed", f"the run broke the grading protocol: {exc}")
                self.stop()
                break
            if message is None:
                kill_group(child)
                run.outcome = Outcome("crashed", "the grading worker died during the case")
                self.stop()
                break
            op = message["op"]
            if op == "started":
                child = int(message["pid"])
            elif op == "loaded":
                run.loaded = bool(message.get("ok"))
                run.load_error = load_error(message, file)
            elif op == "request" and mock is not None:
                self._answer(mock, message)
            elif op == "result":
                fn = message.get("fn")
                if fn in run.results:
                    run.results[fn][int(message.get("index", -1))] = message
            elif op == "done":
                done = message
            elif op == "exited":
                exited = message
        kill_group(child)
        if mock is not None:
            run.journal = list(mock.journal)
        if done is not None:
            run.outcome = Outcome(done.get("outcome", "returned"), "", done.get("error"))
        elif run.outcome.kind == "vanished":
            if run.load_error is not None:
                run.outcome = Outcome("load_failed", run.load_error)
            else:
                run.outcome = Outcome("vanished", vanished_message(exited))
        hide_workdir(run, workdir, file.parent)
        run.output = read_capped(output, self.limits.output_kb * 1024)
        shutil.rmtree(workdir, ignore_errors=True)
        return run

    def _answer(self, mock: ChatCompletionsMock, message: dict[str, Any]) -> None:
        assert self.channel is not None
        try:
            body = base64.b64decode(message.get("body", ""))
            headers = {str(k).lower(): str(v) for k, v in dict(message.get("headers", {})).items()}
            request = MockRequest(
                str(message.get("method")), str(message.get("path")), headers, body
            )
        except (ValueError, TypeError):
            request = MockRequest("POST", "/v1/chat/completions", {}, b"")
        _, response = mock.exchange(request)
        self.channel.send(
            {
                "op": "response",
                "status": response.status,
                "headers": response.headers,
                "timeout": response.timeout,
                "body": base64.b64encode(response.body).decode(),
            }
        )

    def _await_exit(self, child: int | None) -> dict[str, Any] | None:
        """After a kill, the worker reports the child's end; if it cannot, it is replaced."""
        assert self.channel is not None
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                message = self.channel.receive(max(deadline - time.monotonic(), 0))
            except (TimeoutError, ProtocolError):
                break
            if message is None:
                break
            if message["op"] == "exited":
                return message
        self.stop()
        return None

    def _prepare(self, script: Script, file: Path) -> tuple[Path, Path, Path]:
        """A fresh copy of the submission to run in, and the case's input and output files."""
        n = self.cases_run
        workdir = self.root / f"case-{n}" / "work"
        copy_submission(file.parent, workdir)
        stdin = self.root / f"case-{n}" / "stdin.txt"
        lines = script.lines if isinstance(script, ConversationScript) else ()
        stdin.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
        return workdir, stdin, self.root / f"case-{n}" / "output.txt"

    def stop(self) -> None:
        if self.channel is not None:
            with contextlib.suppress(OSError):
                self.channel.send({"op": "quit"})
            self.channel.close()
            self.channel = None
        if self.process is not None:
            kill_group(self.process.pid)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=5)
            self.process = None
        self.ready = False

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def case_message(
    script: Script, workdir: Path, file: str, stdin: Path, output: Path, limits: Limits
) -> dict[str, Any]:
    case = script.case
    message: dict[str, Any] = {
        "op": "case",
        "kind": case.kind,
        "model": case.model,
        "budget": case.budget,
        "timeout": case.timeout,
        "workdir": str(workdir),
        "file": file,
        "stdin": str(stdin),
        "output": str(output),
        "memory_bytes": limits.memory_mb * 1024 * 1024,
        "output_bytes": limits.output_kb * 1024,
    }
    if isinstance(script, FunctionScript):
        message["count_samples"] = script.count_samples
        message["trim_samples"] = [
            {"messages": s.messages, "budget": s.budget} for s in script.trim_samples
        ]
    else:
        message["system_prompt"] = case.system
    return message


def hide_workdir(run: CaseRun, workdir: Path, original: Path) -> None:
    """Tracebacks name the student's own files, not the scratch copy they ran in."""

    def fix(text: str) -> str:
        return text.replace(str(workdir), str(original))

    if run.load_error:
        run.load_error = fix(run.load_error)
    if run.outcome.error:
        run.outcome.error = {
            k: fix(v) if isinstance(v, str) else v for k, v in run.outcome.error.items()
        }


def load_error(message: dict[str, Any], file: Path) -> str | None:
    if message.get("ok"):
        return None
    if message.get("missing"):
        names = ", ".join(f"{m}()" for m in message["missing"])
        return f"{file.name} does not define {names}"
    error = message.get("error") or {}
    detail = error.get("traceback", "").strip()
    text = f"importing {file.name} raised {error.get('type')}: {error.get('message')}"
    return f"{text}\n{detail}" if detail else text


def vanished_message(exited: dict[str, Any] | None) -> str:
    if exited is None:
        return "the process ended without a word"
    if "signal" in exited:
        name = (
            signal.Signals(exited["signal"]).name
            if exited["signal"] in signal.valid_signals()
            else exited["signal"]
        )
        hint = " (out of memory or CPU time?)" if name in ("SIGKILL", "SIGXCPU", "SIGSEGV") else ""
        return f"the process was killed by {name}{hint} before main() returned"
    return f"the process exited with code {exited.get('code')} before main() returned (os._exit?)"


def kill_group(pid: int | None) -> None:
    if not pid:
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def read_capped(path: Path, limit: int) -> str:
    try:
        with path.open("rb") as f:
            return f.read(limit).decode("utf-8", errors="replace")
    except OSError:
        return ""


def copy_submission(source: Path, target: Path) -> None:
    """Small files only, no virtual environments or caches: what a submission is made of."""
    total = 0
    target.mkdir(parents=True, exist_ok=True)
    for folder, dirs, files in os.walk(source):
        dirs[:] = [d for d in dirs if d not in COPY_SKIP and not d.startswith(".")]
        relative = Path(folder).relative_to(source)
        for name in files:
            path = Path(folder) / name
            try:
                size = path.stat().st_size
            except OSError:
                continue
            if path.is_symlink() or size > MAX_COPY_FILE or total + size > MAX_COPY_TOTAL:
                continue
            (target / relative).mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target / relative / name)
            total += size


def package_root() -> str:
    """Where grader and mock_api live, so the worker imports this very code."""
    return str(Path(__file__).resolve().parent.parent)
