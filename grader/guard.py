"""Fences around a submission's process: no network, bounded memory and output, no writes
outside its working copy, no new processes.

The strongest fence the machine allows is used: a network namespace with no interfaces up
(Linux, as root or with user namespaces), and in every case a Python audit hook, which code
cannot remove once added. None of this is what the verdict rests on: the verdict lives in the
grader's process; these fences keep the machine and the other submissions safe.
"""

from __future__ import annotations

import ctypes
import os
import resource
import signal
import sys
from pathlib import Path
from typing import Any

CLONE_NEWUSER = 0x10000000
CLONE_NEWNET = 0x40000000

NETWORK_EVENTS = {"socket.connect", "socket.sendto", "socket.sendmsg", "socket.bind",
                  "socket.getaddrinfo", "socket.gethostbyname", "socket.gethostbyaddr"}  # fmt: skip
PROCESS_EVENTS = {"os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork",
                  "os.forkpty", "subprocess.Popen", "pty.spawn"}  # fmt: skip
PATH_EVENTS = {"os.remove", "os.rename", "os.rmdir", "os.mkdir", "os.chmod", "os.chown",
               "os.symlink", "os.link", "os.truncate", "os.utime", "shutil.rmtree",
               "shutil.copyfile", "shutil.move"}  # fmt: skip
WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC


class Blocked(PermissionError):
    pass


def isolate_network() -> str:
    """Leave the host's network for an empty namespace, where we can; say which fence holds."""
    try:
        unshare = ctypes.CDLL(None, use_errno=True).unshare
    except (OSError, AttributeError):
        return "audit hook"
    if unshare(CLONE_NEWNET) == 0:
        return "network namespace"
    if unshare(CLONE_NEWUSER | CLONE_NEWNET) == 0:
        return "user and network namespace"
    return "audit hook"


def limit_resources(memory_bytes: int | None, output_bytes: int, cpu_seconds: int) -> None:
    """Memory beyond the worker's own, file size (the captured output), CPU time, core dumps."""
    if memory_bytes and hasattr(resource, "RLIMIT_AS"):
        in_use = current_address_space()
        set_limit(resource.RLIMIT_AS, in_use + memory_bytes)
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the cap fails instead of killing
    set_limit(resource.RLIMIT_FSIZE, output_bytes)
    set_limit(resource.RLIMIT_CPU, cpu_seconds)
    set_limit(resource.RLIMIT_CORE, 0)


def set_limit(which: int, value: int) -> None:
    try:
        _soft, hard = resource.getrlimit(which)
        if hard != resource.RLIM_INFINITY:
            value = min(value, hard)
        resource.setrlimit(which, (value, hard))
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


def install_audit_hook(workdir: Path) -> None:
    """Refuse network use, new processes, and writes outside ``workdir`` from here on."""
    root = str(workdir.resolve())

    def inside(path: Any) -> bool:
        if isinstance(path, int):  # an open file descriptor: already granted
            return True
        try:
            resolved = os.path.realpath(os.fsdecode(path))
        except (TypeError, ValueError):
            return False
        return resolved == root or resolved.startswith(root + os.sep) or resolved == os.devnull

    def hook(event: str, args: tuple[Any, ...]) -> None:
        if event in NETWORK_EVENTS:
            raise Blocked(f"network access is disabled while grading ({event})")
        if event in ("os.kill", "os.killpg") and args and args[0] not in (0, os.getpid()):
            raise Blocked(f"signalling other processes is disabled while grading ({event})")
        if event in PROCESS_EVENTS:
            raise Blocked(f"starting processes is disabled while grading ({event})")
        if event == "open" and len(args) >= 3 and writes(args[1], args[2]) and not inside(args[0]):
            raise Blocked(f"writing outside the working directory is disabled: {args[0]}")
        if event in PATH_EVENTS and not all(
            inside(a) for a in args[:2] if isinstance(a, (str, bytes, os.PathLike))
        ):
            raise Blocked(f"changing files outside the working directory is disabled ({event})")

    sys.addaudithook(hook)


def writes(mode: Any, flags: Any) -> bool:
    if isinstance(mode, str) and any(c in mode for c in "wax+"):
        return True
    return isinstance(flags, int) and bool(flags & WRITE_FLAGS)
