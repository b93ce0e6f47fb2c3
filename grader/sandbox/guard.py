"""Fences around the process that runs a submission.

None of these is what the verdict rests on: the verdict lives in the grader's process, built
from what the submission sent. The fences keep the machine, the grader and the other
submissions safe. The strongest ones the machine allows are used, checked once when the
worker starts (``probe``):

- a network namespace with no interface up, for the whole worker (Linux, as root or with
  user namespaces): no connection leaves, whatever code makes it;
- per case, on Linux with the privilege for it: a PID namespace whose first process is the
  submission (it can name no process outside, and nothing it starts outlives it), a mount
  namespace in which every file system is read-only except its working copy, and no
  capabilities left, so that none of this can be undone;
- resource limits, soft and hard: memory, file size (the captured output), CPU time, no core;
- always: an audit hook (``install_audit_hook``) refusing network use, new processes, signals
  to other processes, writes outside the working copy, other processes' /proc entries, ctypes
  and the other known ways around the hook. It is the only fence on macOS or in an
  unprivileged container, and an audit hook is not a security boundary: see docs/platforms.md.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import resource
import signal
import stat
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
MS_RDONLY, MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 1, 32, 4096, 16384, 1 << 18
MOUNT_FLAGS = {"nosuid": 2, "nodev": 4, "noexec": 8, "noatime": 1024, "nodiratime": 2048,
               "relatime": 1 << 21, "strictatime": 1 << 24}  # fmt: skip
PR_SET_PDEATHSIG, PR_CAPBSET_DROP, PR_SET_NO_NEW_PRIVS = 1, 24, 38
PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL = 47, 4
CAPABILITY_VERSION_3 = 0x20080522

NETWORK_EVENTS = frozenset({
    "socket.connect", "socket.sendto", "socket.sendmsg", "socket.bind", "socket.getaddrinfo",
    "socket.gethostbyname", "socket.gethostbyaddr", "socket.getnameinfo",
    "socket.sethostname", "syslog.openlog", "syslog.syslog",
})  # fmt: skip
PROCESS_EVENTS = frozenset({
    "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork", "os.forkpty",
    "subprocess.Popen", "pty.spawn", "os.startfile", "os.setns", "os.unshare",
})  # fmt: skip
# Ways around an audit hook, or into the grader's process state: refused outright.
LOW_LEVEL_EVENTS = frozenset({
    "gc.get_objects", "gc.get_referrers", "gc.get_referents", "code.__new__",
    "cpython.PyInterpreterState_New", "resource.setrlimit", "resource.prlimit",
    "sqlite3.enable_load_extension", "sqlite3.load_extension",
})  # fmt: skip
PATH_EVENTS = frozenset({
    "os.remove", "os.rmdir", "os.mkdir", "os.chmod", "os.chown", "os.truncate", "os.utime",
    "os.setxattr", "os.removexattr", "os.chflags", "os.lchflags", "shutil.rmtree",
    "shutil.chown", "shutil.make_archive", "sqlite3.connect",
})  # fmt: skip
TWO_PATH_EVENTS = frozenset({"os.rename", "os.link", "os.symlink", "shutil.move"})
TARGET_EVENTS = frozenset({"shutil.copyfile", "shutil.copymode", "shutil.copystat",
                           "shutil.copytree"})  # fmt: skip
# Modules whose fresh copy would undo ``disarm``, or that run code no hook sees; and the
# grader's own packages, whose reference code must not answer for the submission.
DENIED_MODULES = frozenset({
    "_ctypes", "_posixsubprocess", "_imp", "posix", "_signal", "_xxsubinterpreters",
    "_xxinterpchannels", "_testcapi", "_testinternalcapi", "_testmultiphase",
})  # fmt: skip
GRADER_PACKAGES = frozenset({"grader", "mock_api", "solution"})
WRITABLE_DEVICES = frozenset({"/dev/null", "/dev/stdout", "/dev/stderr"})
WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC


class Blocked(PermissionError):
    """Something the grading sandbox does not allow a submission to do."""


class BlockedImport(ImportError):
    """An import the grading sandbox does not allow (an ImportError, as code expects)."""


@dataclass
class Fences:
    """What holds in this worker, as ``probe`` found it."""

    network: str = ""  # "network namespace", "user and network namespace" or ""
    pid_namespace: bool = False
    read_only: bool = False
    no_capabilities: bool = False

    def describe(self) -> str:
        parts = [self.network] if self.network else []
        if self.pid_namespace:
            parts.append("PID namespace")
        if self.read_only:
            parts.append("read-only file systems")
        if self.no_capabilities:
            parts.append("no capabilities")
        return ", ".join([*parts, "audit hook"])


def libc() -> Any:
    """The C library with the few calls used here typed, or None where there is none."""
    try:
        lib = ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None
    for name, argtypes in (
        ("unshare", [ctypes.c_int]),
        ("setns", [ctypes.c_int, ctypes.c_int]),
        ("mount", [ctypes.c_char_p] * 3 + [ctypes.c_ulong, ctypes.c_void_p]),
        ("prctl", [ctypes.c_int] + [ctypes.c_ulong] * 4),
        ("capset", [ctypes.c_void_p, ctypes.c_void_p]),
    ):
        with contextlib.suppress(AttributeError):
            getattr(lib, name).argtypes = argtypes
    return lib


LIBC = libc()


def call(name: str, *args: Any) -> bool:
    """A C call that returns 0 on success; False where it fails or does not exist."""
    function = getattr(LIBC, name, None) if LIBC is not None else None
    return function is not None and function(*args) == 0


def isolate_network() -> str:
    """Leave the host's network for an empty namespace, where we can; say which one."""
    if call("unshare", CLONE_NEWNET):
        return "network namespace"
    if call("unshare", CLONE_NEWUSER | CLONE_NEWNET):
        return "user and network namespace"
    return ""


def probe(scratch: Path) -> Fences:
    """Which per-case fences work here: tried in a throwaway child, each on its own."""
    fences = Fences()
    if LIBC is None or not sys.platform.startswith("linux"):
        return fences
    scratch.mkdir(parents=True, exist_ok=True)
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            code |= 1 if PidNamespaces().works() else 0
            code |= 2 if fence_filesystem([scratch]) else 0
            code |= 4 if drop_capabilities() else 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else 0
    fences.pid_namespace, fences.read_only = bool(code & 1), bool(code & 2)
    fences.no_capabilities = bool(code & 4)
    return fences


class PidNamespaces:
    """A fresh PID namespace for each case's child, the worker staying in its own.

    unshare(CLONE_NEWPID) puts the next child into a new namespace, as its first process;
    setns() back to our own right after the fork lets the worker do it again next case.
    """

    def __init__(self) -> None:
        self.own = -1
        with contextlib.suppress(OSError):
            self.own = os.open("/proc/self/ns/pid", os.O_RDONLY | os.O_CLOEXEC)

    def fork(self) -> int:
        """fork(), into a new PID namespace when one can be made."""
        if self.own < 0 or not call("unshare", CLONE_NEWPID):
            return os.fork()
        pid = os.fork()
        if pid != 0 and not call("setns", self.own, CLONE_NEWPID):
            # Every later fork would land in the child's namespace, dead once it ends.
            raise OSError("cannot return to the worker's own PID namespace")
        return pid

    def works(self) -> bool:
        """Two rounds in a row, each child the first process of its namespace."""
        try:
            for _ in range(2):
                pid = self.fork()
                if pid == 0:
                    os._exit(0 if os.getpid() == 1 else 1)
                _, status = os.waitpid(pid, 0)
                if not os.WIFEXITED(status) or os.WEXITSTATUS(status) != 0:
                    return False
        except OSError:
            return False
        return True


def fence_filesystem(writable: Sequence[Path]) -> bool:
    """A private mount namespace where everything is read-only but ``writable``.

    Files opened before (the case's output) stay writable: they belong to the mounts of the
    worker's namespace. True when the root file system could be made read-only.
    """
    if not call("unshare", CLONE_NEWNS):
        return False
    if not call("mount", None, b"/", None, MS_REC | MS_PRIVATE, None):
        return False
    keep = set()
    for path in writable:
        real = os.path.realpath(path)
        if not call("mount", os.fsencode(real), os.fsencode(real), None, MS_BIND, None):
            return False
        keep.add(real)
    root_done = False
    for mountpoint, options in mounts():
        if mountpoint in keep:
            continue
        flags = MS_REMOUNT | MS_BIND | MS_RDONLY
        flags |= sum(MOUNT_FLAGS.get(option, 0) for option in set(options))
        done = call("mount", None, os.fsencode(mountpoint), None, flags, None)
        if mountpoint == "/":
            root_done = done
    return root_done


def mounts() -> list[tuple[str, list[str]]]:
    """Mount points and their per-mount options, from /proc/self/mountinfo."""
    found = []
    with contextlib.suppress(OSError), open("/proc/self/mountinfo", encoding="utf-8") as f:
        for line in f:
            fields = line.split()
            if len(fields) > 5:
                found.append((unescape(fields[4]), fields[5].split(",")))
    return found


def unescape(field: str) -> str:
    """mountinfo writes a space as \\040, a tab as \\011, a newline as \\012."""
    for code, char in (("\\040", " "), ("\\011", "\t"), ("\\012", "\n"), ("\\134", "\\")):
        field = field.replace(code, char)
    return field


def drop_capabilities() -> bool:
    """No capabilities now or after an exec, and no new privileges: root in name only.

    Without CAP_SYS_ADMIN the namespaces cannot be left nor the mounts undone; without
    CAP_SYS_RESOURCE the hard limits cannot be raised; without CAP_SYS_PTRACE no other
    process's /proc entries (its environment) can be read.
    """
    if LIBC is None:
        return False
    for cap in range(64):
        if not call("prctl", PR_CAPBSET_DROP, cap, 0, 0, 0):
            break
    call("prctl", PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
    header = (ctypes.c_uint32 * 2)(CAPABILITY_VERSION_3, 0)
    data = (ctypes.c_uint32 * 6)()
    dropped = call("capset", header, data)
    call("prctl", PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    return dropped and effective_capabilities() == 0


def effective_capabilities() -> int | None:
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("CapEff:"):
                return int(line.split()[1], 16)
    return None


def die_with_parent() -> None:
    """SIGKILL when the worker dies, so that no case outlives a stopped grader (Linux)."""
    if sys.platform.startswith("linux"):
        call("prctl", PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def limit_resources(memory_bytes: int | None, output_bytes: int, cpu_seconds: int) -> None:
    """Memory beyond the worker's own, file size (the captured output), CPU time, core dumps.

    Soft and hard alike, so the submission cannot raise them again.
    """
    if memory_bytes and hasattr(resource, "RLIMIT_AS"):
        set_limit(resource.RLIMIT_AS, current_address_space() + memory_bytes)
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the cap fails instead of killing
    set_limit(resource.RLIMIT_FSIZE, output_bytes)
    set_limit(resource.RLIMIT_CPU, cpu_seconds)
    set_limit(resource.RLIMIT_CORE, 0)


def set_limit(which: int, value: int) -> None:
    try:
        _soft, hard = resource.getrlimit(which)
        if hard != resource.RLIM_INFINITY:
            value = min(value, hard)
        resource.setrlimit(which, (value, value))
    except (ValueError, OSError):
        pass


def current_address_space() -> int:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def refusal(what: str) -> Callable[..., Any]:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise Blocked(f"{what} is disabled while grading")

    return refuse


def disarm() -> None:
    """Replace the few C functions that start processes or signal them without an audit event.

    _posixsubprocess.fork_exec (what subprocess calls after its own audit event), pidfd_open
    and pidfd_send_signal; and _imp.create_builtin, which would hand out fresh copies of them.
    The hook refuses importing these modules anew.
    """
    import _imp
    import _posixsubprocess
    import _signal
    import posix

    _posixsubprocess.fork_exec = refusal("starting processes (_posixsubprocess.fork_exec)")
    for module in (os, posix):
        if hasattr(module, "pidfd_open"):
            module.pidfd_open = refusal("signalling other processes (os.pidfd_open)")
    for module in (signal, _signal):
        if hasattr(module, "pidfd_send_signal"):
            module.pidfd_send_signal = refusal("signalling other processes (pidfd_send_signal)")
    create_builtin = _imp.create_builtin

    def guarded_create_builtin(spec: Any) -> Any:
        name = str(getattr(spec, "name", "")).rpartition(".")[2]
        if name in DENIED_MODULES:
            raise BlockedImport(f"importing {name} anew is disabled while grading")
        return create_builtin(spec)

    _imp.create_builtin = guarded_create_builtin


def hide_grader_modules() -> None:
    """The grader's own modules leave sys.modules, so that importing them goes through the
    hook, which refuses: the reference code must not answer for the submission."""
    for name in [m for m in sys.modules if m.partition(".")[0] in GRADER_PACKAGES]:
        del sys.modules[name]


def install_audit_hook(workdir: Path, hidden: Sequence[Path] = ()) -> None:
    """Refuse, from here on: network use, new processes, signals to other processes, writes
    outside ``workdir``, reads of ``hidden`` and of other processes' /proc entries, ctypes,
    and the known ways around an audit hook.

    The hook keeps everything it uses in its own closure, captured now: a submission that
    replaces a module's function or a builtin does not change what the hook does.
    """
    sys.addaudithook(make_hook(os.path.realpath(workdir), [os.path.realpath(h) for h in hidden]))


def make_hook(root: str, hidden: Sequence[str]) -> Callable[[str, tuple[Any, ...]], None]:
    own_pid = os.getpid()
    own_pid_text = str(own_pid)
    hidden = tuple(hidden)
    getcwd, fspath, stat_, is_dir = os.getcwd, os.fspath, os.stat, stat.S_ISDIR
    type_, len_, str_, int_, bytes_, tuple_ = type, len, str, int, bytes, tuple
    blocked, blocked_import = Blocked, BlockedImport
    network, processes, low_level = NETWORK_EVENTS, PROCESS_EVENTS, LOW_LEVEL_EVENTS
    one_path, two_paths, target_only = PATH_EVENTS, TWO_PATH_EVENTS, TARGET_EVENTS
    denied_modules, grader_packages = DENIED_MODULES, GRADER_PACKAGES
    devices, write_flags = WRITABLE_DEVICES, WRITE_FLAGS

    def normal(path: Any) -> str | None:
        """An absolute, normalised path, by text alone (no calls a submission could patch);
        None for a file descriptor."""
        kind = type_(path)
        if kind is int_:
            return None
        if kind is not str_ and kind is not bytes_:
            try:
                path = fspath(path)
            except Exception:
                return "\0"
        if type_(path) is bytes_:
            path = path.decode("utf-8", "surrogateescape")
        if type_(path) is not str_:
            return "\0"
        if not path.startswith("/"):
            path = getcwd() + "/" + path
        parts: list[str] = []
        for part in path.split("/"):
            if part == "" or part == ".":
                continue
            if part == "..":
                if parts:
                    parts.pop()
                continue
            parts.append(part)
        return "/" + "/".join(parts)

    def inside(path: str | None) -> bool:
        return path is None or path == root or path.startswith(root + "/") or path in devices

    def under(path: str, folder: str) -> bool:
        return path == folder or path.startswith(folder + "/")

    def other_process(path: str) -> bool:
        parts = path.split("/")
        return (
            len_(parts) > 2
            and parts[1] == "proc"
            and parts[2].isdigit()
            and parts[2] != own_pid_text
        )

    def own_module(name: str) -> bool:
        """A module of the submission's own that happens to share a name with ours."""
        for candidate in (root + "/" + name + ".py", root + "/" + name):
            try:
                stat_(candidate)
            except Exception:
                continue
            return True
        return False

    def hook(event: str, args: tuple[Any, ...]) -> None:
        if event == "open":
            path = normal(args[0]) if len_(args) > 0 else "\0"
            mode = args[1] if len_(args) > 1 else None
            flags = args[2] if len_(args) > 2 else 0
            writing = (type_(flags) is int_ and flags & write_flags != 0) or (
                type_(mode) is str_ and ("w" in mode or "a" in mode or "x" in mode or "+" in mode)
            )
            if path is None:
                return
            if writing and not inside(path):
                raise blocked(f"writing outside its working directory is disabled: {path}")
            if other_process(path):
                raise blocked(f"reading other processes' /proc entries is disabled: {path}")
            for folder in hidden:
                if under(path, folder):
                    raise blocked(f"reading the grader's own files is disabled: {path}")
            if mode is None and not inside(path):
                try:
                    directory = is_dir(stat_(path).st_mode)
                except Exception:
                    directory = False
                if directory:  # a directory fd would let dir_fd= write anywhere
                    raise blocked(
                        f"opening directories outside its working directory is disabled: {path}"
                    )
        elif event == "import":
            name = args[0] if len_(args) > 0 and type_(args[0]) is str_ else ""
            if name.rpartition(".")[2] in denied_modules or name in denied_modules:
                raise blocked_import(f"importing {name} is disabled while grading")
            top = name.partition(".")[0]
            if top in grader_packages and not own_module(top):
                raise blocked_import(f"importing the grader's own {name} is disabled")
        elif event in network:
            raise blocked(f"network access is disabled while grading ({event})")
        elif event in processes:
            raise blocked(f"starting processes is disabled while grading ({event})")
        elif event == "os.kill" or event == "os.killpg":
            target = args[0] if len_(args) > 0 else None
            if target != 0 and target != own_pid:
                raise blocked(f"signalling other processes is disabled ({event} {target})")
        elif event.startswith("ctypes."):
            raise blocked(f"ctypes is disabled while grading ({event})")
        elif event in low_level:
            raise blocked(f"{event} is disabled while grading")
        elif event in one_path or event in two_paths or event in target_only:
            if event in target_only:
                paths = tuple_(args[1:2])
            elif event in two_paths:
                paths = tuple_(args[:2])
            else:
                paths = tuple_(args[:1])
            for path in paths:
                if event == "sqlite3.connect" and (path == ":memory:" or path == ""):
                    continue
                if not inside(normal(path)):
                    raise blocked(
                        f"changing files outside its working directory is disabled ({event} {path})"
                    )

    return hook
