"""The grader's side of a run: starts the worker, feeds it a script, answers its requests.

Every request the submission sends arrives here, is answered by the mock, and is journaled
here: the checks read only this journal and the script, never anything the submission's
process could have changed.
"""

from __future__ import annotations

import base64
import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grader.cases.script import PARSED_OBJECT_BYTES, Script
from grader.i18n import _
from grader.run import CaseRun, Outcome, load_error, split_turns
from grader.sandbox.protocol import (
    CHILD_OPS,
    EXIT_CHANNEL_LOST,
    EXIT_INTERNAL,
    Channel,
    ProtocolError,
    check_child_message,
    code_frame,
    kill_group,
)
from grader.submission import Submission, SubmissionError, copy_staged, megabytes, stage
from mock_api import errors
from mock_api.core import ChatCompletionsMock, MockRequest, MockResponse, json_response

DUMMY_KEY = "sk-trimlab-grader-dummy-key"
# -I: no PYTHON* variables, no user site; the worker imports this very checkout of the grader.
WORKER_BOOT = (
    "import sys; sys.path.insert(0, sys.argv[1]); "
    "from grader.sandbox.worker import main; sys.exit(main())"
)
EXIT_GRACE = 5.0  # seconds for the worker to report a killed child's end
STACK_GRACE = 1.0  # seconds for the worker to bring a stuck child's stack


@dataclass(frozen=True)
class Limits:
    memory_mb: int = 1024
    output_kb: int = 1024
    # How long the worker may take to start (imports, encodings, warm-up).
    startup_seconds: float = 20.0
    # Cases of one submission run at once, each in its own child: a core each.
    lanes: int = 2
    # A child that neither reads a line, sends a request nor returns a result for this long
    # is stuck: its stack is taken and it is stopped (a case's own ``stall`` overrides it).
    stall_seconds: float = 4.0


@dataclass
class Flight:
    """A case in flight: sent to the worker, not yet ended."""

    index: int  # its place in the list of cases, and its number on every message about it
    script: Script
    file: Path  # the student's own, for the names in reports
    staged: Path  # the checked copy, the only one the grader reads
    case_dir: Path
    workdir: Path
    output: Path
    mock: ChatCompletionsMock | None
    run: CaseRun
    deadline: float  # the case's own time limit
    stall: float  # seconds without progress that make it stuck
    started: float = field(default_factory=time.monotonic)
    progress: float = field(default_factory=time.monotonic)  # its last read, request or result
    child: int | None = None
    done: dict[str, Any] | None = None
    exited: dict[str, Any] | None = None
    requests: int = 0
    kept: int = 0  # what the journal holds of this case's requests, in bytes (estimated)
    keep: int = 0  # and the most it may hold: the script's ``journal_cap``
    marks: list[int] = field(default_factory=list)  # output offsets where each line was read
    ending: str = ""  # "timeout" or "stalled" once its stack was asked for
    killed: bool = False

    @property
    def due(self) -> float:
        """When the grader must act next: the time limit, or the end of its patience."""
        if self.killed or self.ending or self.done is not None or not self.run.loaded:
            return self.deadline
        return min(self.deadline, self.progress + self.stall)


class WorkerGone(RuntimeError):
    pass


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
        # No TLS connection can happen while grading: an empty CA directory, which OpenSSL
        # reads lazily, spares every OpenAI() the ~25 ms of parsing the system's CA bundle.
        "SSL_CERT_DIR": str(home / "no-ca-certificates"),
    }


class Sandbox:
    """A worker and its scratch space. Cases run one after another, each in a fresh fork of
    the worker, so one sandbox can grade many submissions in turn.

    Nothing a submission does raises out of ``run``: a worker that dies, hangs or is lied to
    is stopped, and started afresh for the next case.
    """

    def __init__(
        self, limits: Limits | None = None, audit_hook: bool = True, namespaces: bool = True
    ) -> None:
        """``audit_hook=False`` leaves the kernel's fences alone, to test that they hold;
        ``namespaces=False`` grades as where none can be made (Docker, macOS), to test that."""
        self.limits = limits or Limits()
        self.audit_hook = audit_hook
        self.namespaces = namespaces
        self.root = Path(tempfile.mkdtemp(prefix="trimlab-"))
        # The worker seeds it itself as it loads the encodings: it starts sooner that way.
        self.cache = self.root / "tiktoken-cache"
        self.process: subprocess.Popen[bytes] | None = None
        self.channel: Channel | None = None
        self.fence = ""
        self.missing_fences: list[str] = []
        self.isolated = False  # each case's child sees only its own file-system view
        self.cases_run = 0
        self.staged = 0
        self.ready = False
        self.closed = False
        self.start_failure = ""
        self.start()

    def start(self) -> None:
        """Start the worker; it warms up while the grader prepares the scripts."""
        to_worker_r, to_worker_w = os.pipe()
        from_worker_r, from_worker_w = os.pipe()
        home = self.root / "home"
        (home / "no-ca-certificates").mkdir(parents=True, exist_ok=True)
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
                "namespaces" if self.namespaces else "no-namespaces",
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
        self.channel = Channel(from_worker_r, to_worker_w, drain=True)  # see Channel
        self.ready = False

    def _await_ready(self, timeout: float) -> None:
        assert self.channel is not None
        message = self.channel.receive(timeout)
        if message is None or message["op"] != "ready":
            raise WorkerGone(
                _("the grading worker did not start: {log}").format(log=self.worker_log())
            )
        self.fence = str(message.get("fence", ""))
        self.missing_fences = [str(m) for m in message.get("missing", [])]
        self.isolated = bool(message.get("view"))
        self.ready = True

    def worker_log(self) -> str:
        try:
            return (self.root / "worker.log").read_text(errors="replace")[-2000:].strip()
        except OSError:
            return ""

    def run(self, script: Script, submission: Path | Submission) -> CaseRun:
        """Run one case of ``submission`` (a folder or its .py file, or one staged already)."""
        return self.run_cases([script], submission)[0]

    def stage(self, path: Path) -> Submission:
        """The submission checked and copied into the sandbox; SubmissionError if refused."""
        self.staged += 1
        return stage(path, self.root / f"submission-{self.staged}")

    def run_cases(self, scripts: Sequence[Script], submission: Path | Submission) -> list[CaseRun]:
        """Every case of ``submission``, up to ``limits.lanes`` at once, in fresh children.

        Nothing a submission does raises out of here: a worker that dies, hangs or is lied to
        is stopped, its cases in flight fail with the reason, and the rest run on a new one.
        """
        if not isinstance(submission, Submission):
            try:
                submission = self.stage(submission)
            except SubmissionError as exc:
                return [refused(script, str(exc)) for script in scripts]
        runs: list[CaseRun | None] = [None] * len(scripts)
        waiting = list(enumerate(scripts))
        lanes = self.limits.lanes
        if self._ensure_ready() and not self.isolated:
            # Without a view of their own, cases share the machine's file system, and what one
            # leaves there can reach the cases that run beside or after it: every visible case
            # runs, one at a time, before any hidden one.
            waiting.sort(key=lambda item: item[1].case.visibility == "hidden")
            lanes = 1
        flights: dict[int, Flight] = {}
        while waiting or flights:
            if self.closed:  # a thread still at work after Ctrl-C: no new worker for it
                for index, script in waiting:
                    runs[index] = CaseRun(script, Outcome("crashed", _("the grader was stopped")))
                break
            try:
                if not flights and not self._ensure_ready():
                    index, script = waiting.pop(0)
                    runs[index] = CaseRun(script, Outcome("crashed", self.start_failure))
                    continue
                while waiting and len(flights) < lanes:
                    index, script = waiting.pop(0)
                    flight = self._launch(index, script, submission)
                    flights[flight.index] = flight
                for flight in self._step(flights):
                    runs[flight.index] = self._land(flight)
                    del flights[flight.index]
            except Exception as exc:  # a broken pipe to the worker, or a bug of ours
                self.stop()  # a fresh worker next time: nothing of these cases reaches the next
                reason = _("the grader failed during the case ({error})").format(
                    error=f"{type(exc).__name__}: {exc}"
                )
                for flight in flights.values():
                    flight.run.outcome = Outcome("crashed", reason)
                    runs[flight.index] = self._land(flight)
                flights.clear()
        return [run for run in runs if run is not None]

    def _ensure_ready(self) -> bool:
        """A worker that said it is ready; False (with ``start_failure``) when none would."""
        if self.process is None or self.process.poll() is not None:
            self.start()
        if self.ready:
            return True
        try:
            self._await_ready(self.limits.startup_seconds)
        except (WorkerGone, TimeoutError, ProtocolError) as exc:
            self.stop()
            self.start_failure = str(exc) or _("the grading worker did not start in time")
            return False
        return True

    def _launch(self, index: int, script: Script, submission: Submission) -> Flight:
        self.cases_run += 1
        case_dir = self.root / f"case-{self.cases_run}"
        workdir, output = prepare(submission, case_dir, self.isolated)
        file = submission.original / submission.file
        config = script.mock_config()
        mock = ChatCompletionsMock(config) if config is not None else None
        stall = script.case.stall or self.limits.stall_seconds
        flight = Flight(index, script, file, submission.staged, case_dir, workdir, output, mock,
                        CaseRun(script, Outcome("vanished")),
                        deadline=time.monotonic() + script.case.timeout, stall=stall,
                        keep=script.journal_cap)  # fmt: skip
        assert self.channel is not None
        message = case_message(script, workdir, file.name, output, self.limits)
        message["staged"] = str(submission.staged)
        self.channel.send({**message, "case": index, "audit_hook": self.audit_hook})
        return flight

    def _step(self, flights: dict[int, Flight]) -> list[Flight]:
        """Wait for the worker's next message and act on it; the cases that ended."""
        assert self.channel is not None
        now = time.monotonic()
        try:
            message = self.channel.receive(max(min(f.due for f in flights.values()) - now, 0))
        except TimeoutError:
            return self._expire(flights)
        except ProtocolError as exc:
            return self._lose_worker(flights, f"the grading worker broke the protocol: {exc}")
        if message is None:
            return self._lose_worker(flights, "the grading worker died during the case")
        flight = flights.get(message.get("case"))  # type: ignore[arg-type]
        if flight is None:
            return self._lose_worker(flights, f"the grading worker spoke of no case: {message}")
        op = message["op"]
        try:
            if op in CHILD_OPS:
                check_child_message(message)  # the worker checked it; so do we
        except ProtocolError as exc:
            problem = f"the grading worker passed on a malformed message: {exc}"
            return self._lose_worker(flights, problem)
        run = flight.run
        if op in ("loaded", "read", "request", "result"):
            flight.progress = time.monotonic()
        if op == "started":
            flight.child = int(message["pid"])
        elif op == "loaded":
            run.loaded = bool(message.get("ok"))
            run.load_error = load_error(message, flight.file)
        elif op == "read":
            if message["line"] >= 0:
                flight.marks.append(message["offset"])
            else:
                run.read_eof = True
        elif op == "stack":
            run.outcome.stack = student_stack(str(message.get("text", "")), flight)
            self._kill(flight)
        elif op == "request" and flight.mock is not None:
            flight.requests += 1
            if flight.requests <= max_requests(flight.script) and flight.kept <= flight.keep:
                flight.kept += self._answer(flight, message)
            if flight.requests > max_requests(flight.script) or flight.kept > flight.keep:
                kill_group(flight.child)
                lines = len(flight.script.lines)
                run.outcome = Outcome(
                    "flood",
                    _(
                        "sent more than {n} requests for {lines} input lines; the case was stopped"
                    ).format(n=max_requests(flight.script), lines=lines)
                    if flight.requests > max_requests(flight.script)
                    else _(
                        "sent more than {size} of requests for {lines} input lines (a correct "
                        "REPL sends far less); the case was stopped"
                    ).format(size=megabytes(flight.keep), lines=lines),
                )
                flight.deadline = time.monotonic() + EXIT_GRACE
        elif op == "result":
            record_result(run, flight.script, message)
        elif op == "done":
            flight.done = message
        elif op == "protocol":
            run.outcome = Outcome(
                "crashed",
                _(
                    "the submission wrote something that is not a grading message into its "
                    "pipe to the grader, and was stopped: {detail}"
                ).format(detail=message.get("detail")),
            )
        elif op == "exited":
            flight.exited = message
            return [flight]
        return []

    def _expire(self, flights: dict[int, Flight]) -> list[Flight]:
        """Cases past their time or stuck: their stack asked for, then killed, then given a
        moment for the worker to say so."""
        now = time.monotonic()
        for flight in flights.values():
            if flight.due > now:
                continue
            if flight.killed:  # killed, and the worker never reported its end
                return self._lose_worker(flights, _("the grading worker stopped answering"))
            if flight.ending or flight.done is not None or flight.child is None:
                self._kill(flight)
                continue
            stalled = flight.deadline > now
            flight.ending = "stalled" if stalled else "timeout"
            if flight.run.outcome.kind == "vanished":
                flight.run.outcome = (
                    Outcome("stalled", stall_message(flight))
                    if stalled
                    else Outcome(
                        "timeout",
                        _("did not finish within {seconds:g} s").format(
                            seconds=flight.script.case.timeout
                        ),
                    )
                )
            assert self.channel is not None
            self.channel.send({"op": "dump", "case": flight.index})
            flight.deadline = now + STACK_GRACE
        return []

    def _kill(self, flight: Flight) -> None:
        kill_group(flight.child)
        flight.killed = True
        flight.deadline = time.monotonic() + EXIT_GRACE

    def _lose_worker(self, flights: dict[int, Flight], problem: str) -> list[Flight]:
        """The worker can no longer be trusted: its cases in flight end with the reason."""
        for flight in flights.values():
            kill_group(flight.child)
            flight.run.outcome = Outcome("crashed", problem)
        self.stop()
        return list(flights.values())

    def _land(self, flight: Flight) -> CaseRun:
        """A finished case's run, with everything the checks read."""
        run, script = flight.run, flight.script
        kill_group(flight.child)
        if flight.mock is not None:
            run.journal = list(flight.mock.journal)
        if flight.done is not None and run.outcome.kind == "vanished":
            run.outcome = Outcome(str(flight.done["outcome"]), "", flight.done.get("error"))
        elif run.outcome.kind == "vanished":
            if run.load_error is not None:
                run.outcome = Outcome("load_failed", run.load_error)
            else:
                run.outcome = Outcome(
                    "vanished", vanished_message(flight.exited, script.case.kind, run.loaded)
                )
        output = read_capped(flight.output, self.limits.output_kb * 1024)
        run.output = output.decode("utf-8", errors="replace")
        run.lines_read = len(flight.marks)
        if flight.marks:
            run.preamble, run.turns = split_turns(output, flight.marks)
        explain_limits(run, flight.output, self.limits)
        hide_workdir(run, flight.workdir, flight.file.parent)
        shutil.rmtree(flight.case_dir, ignore_errors=True)
        run.seconds = time.monotonic() - flight.started
        return run

    def _answer(self, flight: Flight, message: dict[str, Any]) -> int:
        """Answer the request with the mock; what keeping it costs the grader, in bytes."""
        assert self.channel is not None and flight.mock is not None
        try:
            body = base64.b64decode(message.get("body", ""))
            headers = {str(k).lower(): str(v) for k, v in dict(message.get("headers", {})).items()}
            request = MockRequest(
                str(message.get("method")), str(message.get("path")), headers, body
            )
        except (ValueError, TypeError):
            request, body = MockRequest("POST", "/v1/chat/completions", {}, b""), b""
        try:
            entry, response = flight.mock.exchange(request)
        except Exception:  # the mock's own failure costs this request, no other case
            entry, response = None, json_response(500, errors.server_error().envelope())
        self._reply(flight, response)
        return kept_cost(len(body), entry.messages if entry is not None else [])

    def _reply(self, flight: Flight, response: MockResponse) -> None:
        assert self.channel is not None
        self.channel.send(
            {
                "op": "response",
                "case": flight.index,
                "status": response.status,
                "headers": response.headers,
                "timeout": response.timeout,
                "body": base64.b64encode(response.body).decode(),
            }
        )

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
        self.closed = True
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def max_requests(script: Script) -> int:
    """Generous: a REPL may retry, but not flood the grader with requests."""
    return max(200, 10 * len(script.lines))


def kept_cost(size: int, messages: list[Any]) -> int:
    """A parsed request's memory, roughly: its text, and a few hundred bytes for each message
    and part object (a request of many tiny messages costs many times its bytes)."""
    parts = sum(len(m["content"]) for m in messages
                if isinstance(m, dict) and isinstance(m.get("content"), list))  # fmt: skip
    return size + PARSED_OBJECT_BYTES * (len(messages) + parts)


def record_result(run: CaseRun, script: Script, message: dict[str, Any]) -> None:
    """A function's result, if it is one of the samples the case asked for."""
    fn, index = message["fn"], message["index"]
    if index < len(script.samples(fn)):
        run.results[fn][index] = message


def prepare(submission: Submission, case_dir: Path, isolated: bool) -> tuple[Path, Path]:
    """Where the submission runs, and the file its output goes to (outside the copy: the child
    holds it open, and sees no path to it). In its own view the child copies the staged files
    onto a tmpfs of its own at that path; without one, it runs in a copy made here."""
    workdir = case_dir / "work"
    case_dir.mkdir()
    if not isolated:
        copy_staged(submission, workdir)
    return workdir, case_dir / "output.txt"


def refused(script: Script, reason: str) -> CaseRun:
    """A case not run, because the submission itself was refused."""
    return CaseRun(script, Outcome("refused", reason), load_error=reason)


def explain_limits(run: CaseRun, output: Path, limits: Limits) -> None:
    """Errors that are the sandbox's limits say so: the student sees why, not just what."""
    try:
        capped = output.stat().st_size >= limits.output_kb * 1024
    except OSError:
        capped = False
    notes = {
        "MemoryError": _("the submission used more than its {mb} MB of memory").format(
            mb=limits.memory_mb
        ),
    }
    if capped:
        notes["OSError"] = _("the submission printed more than its {kb} KB of output").format(
            kb=limits.output_kb
        )
    errors = [run.outcome.error] if run.outcome.error else []
    for results in run.results.values():
        errors.extend(r["error"] for r in results.values() if isinstance(r.get("error"), dict))
    for error in errors:
        note = notes.get(str(error.get("type")))
        if note and note not in str(error.get("message")):
            error["message"] = f"{error.get('message') or ''} ({note})".strip()
    if capped and run.outcome.kind in ("timeout", "vanished"):
        run.outcome.message += "; " + _("it printed more than its {kb} KB of output").format(
            kb=limits.output_kb
        )


def case_message(
    script: Script, workdir: Path, file: str, output: Path, limits: Limits
) -> dict[str, Any]:
    """Run this script: the case, where, within which limits, and the script's own inputs."""
    case = script.case
    return {
        "op": "case",
        "kind": script.kind,
        "model": case.model,
        "budget": case.budget,
        "timeout": case.timeout,
        "workdir": str(workdir),
        "file": file,
        "output": str(output),
        "memory_bytes": limits.memory_mb * 1024 * 1024,
        "output_bytes": limits.output_kb * 1024,
        **script.inputs(),
    }


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


def vanished_message(
    exited: dict[str, Any] | None, kind: str = "conversation", loaded: bool = True
) -> str:
    ending = (
        _("before main() returned") if kind == "conversation" else _("before the case finished")
    )
    ending = ending if loaded else _("while chat_repl.py was being imported")
    if exited is None:
        return _("the process ended without a word")
    if "signal" in exited:
        number = exited["signal"]
        name = (
            signal.Signals(number).name
            if isinstance(number, int) and number in signal.valid_signals()
            else number
        )
        if name in ("SIGKILL", "SIGXCPU", "SIGSEGV"):
            return _(
                "the process was killed by {name} (out of memory or CPU time?) {ending}"
            ).format(name=name, ending=ending)
        return _("the process was killed by {name} {ending}").format(name=name, ending=ending)
    code = exited.get("code")
    if code == EXIT_CHANNEL_LOST:
        return _("the submission closed or broke its pipe to the grader {ending}").format(
            ending=ending
        )
    if code == EXIT_INTERNAL:
        return _(
            "the grading harness failed in the submission's process (out of memory?) {ending}"
        ).format(ending=ending)
    return _("the process exited with code {code} {ending} (os._exit?)").format(
        code=code, ending=ending
    )


def read_capped(path: Path, limit: int) -> bytes:
    try:
        with path.open("rb") as f:
            return f.read(limit)
    except OSError:
        return b""


def package_root() -> str:
    """Where grader and mock_api live, so the worker imports this very code."""
    return str(Path(__file__).resolve().parents[2])


def stall_message(flight: Flight) -> str:
    """What the child was doing when it stopped making progress, from what the grader saw."""
    waited = _("{seconds:g} s").format(seconds=flight.stall)
    lines = len(flight.script.lines)
    read = len(flight.marks)
    if flight.script.kind == "functions":
        return _("returned no result for {waited}: stopped as stuck").format(waited=waited)
    if read == 0:
        return _("read no input line and sent no request for {waited} after loading").format(
            waited=waited
        )
    if flight.run.read_eof:
        return _(
            "read the end of input, then neither returned nor sent a request for {waited}"
        ).format(waited=waited)
    return _(
        "read line {read} of {lines}, then sent no request and read no further line for {waited}"
    ).format(read=read, lines=lines, waited=waited)


def student_stack(dump: str, flight: Flight) -> str:
    """faulthandler's dump cut to the student's own frames, outermost first, each with its
    line of code read from the submission the grader copied (names as the student knows
    them, never the scratch copy)."""
    frame = re.compile(r'^\s*File "(.+)", line (\d+) in (.+)$')
    workdir = str(flight.workdir)
    threads: list[list[str]] = []
    for raw in dump.splitlines():
        if raw.startswith(("Thread ", "Current thread ", "Stack ")):
            threads.append([])
            continue
        match = frame.match(raw)
        if not match or not threads:
            continue
        path, number, function = match.group(1), int(match.group(2)), match.group(3)
        if not (path == workdir or path.startswith(workdir + "/")):
            continue
        relative = os.path.relpath(path, workdir)
        code = source_line(flight.staged / relative, number, flight.staged)
        threads[-1].append(code_frame(relative, number, function, code))
    frames = next((t for t in threads if t), [])
    return "\n".join(reversed(frames))


def source_line(path: Path, number: int, root: Path) -> str:
    """One line of a submission's file, if it is a plain file inside the submission."""
    try:
        if path.is_symlink() or not path.resolve().is_relative_to(root.resolve()):
            return ""
        with path.open(encoding="utf-8", errors="replace") as f:
            for index, line in enumerate(f, 1):
                if index == number:
                    return line.strip()[:200]
    except OSError:
        pass
    return ""
