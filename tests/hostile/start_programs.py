"""Tries every way it knows to start a program or a process, after undoing the audit hook:
subprocess's own reference to _fork_exec, posix_spawn, fork, forkpty, pty.fork, spawnv,
multiprocessing, and libc's fork, vfork, execve and a raw clone through ctypes.

A process that does start prints FORKED (a fork) or SHELL-RAN (a program) into the case's
output and leaves at once; os.execv, which would replace this process, goes last.
"""

import ctypes
import os
import subprocess

from _base import count_tokens, repl, trim_history  # noqa: F401
from _unhook import unhook

SHELL = ["/bin/sh", "-c", "echo SHELL-RAN"]
SIGCHLD = 17


def forked(pid: int) -> None:
    if pid == 0:
        os.write(1, b"FORKED\n")
        os._exit(0)


def fork_exec() -> None:
    executable = os.fsencode(SHELL[0])
    args = [os.fsencode(a) for a in SHELL]
    errors_read, errors_write = os.pipe()
    try:
        pid = subprocess._fork_exec(  # 3.11: subprocess's own reference, bound at its import
            args, [executable], True, (errors_write,), None, None,
            -1, -1, -1, -1, -1, -1, errors_read, errors_write,
            False, False, -1, None, None, None, -1, None, False,
        )  # fmt: skip
        os.waitpid(pid, 0)
    finally:
        os.close(errors_read)
        os.close(errors_write)


def system() -> None:
    status = os.system("echo SHELL-RAN")
    if status != 0:
        raise OSError(f"os.system returned {status}")


def posix_spawn() -> None:
    os.waitpid(os.posix_spawn(SHELL[0], SHELL, dict(os.environ)), 0)


def posix_spawnp() -> None:
    os.waitpid(os.posix_spawnp("sh", SHELL, dict(os.environ)), 0)


def pty_fork() -> None:
    import pty

    forked(pty.fork()[0])


def multiprocessing_start() -> None:
    import multiprocessing

    for method in ("fork", "spawn"):
        process = multiprocessing.get_context(method).Process(target=print, args=("FORKED",))
        process.start()
        process.join(1)


def libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def checked(result: int) -> None:
    if result == -1:
        errno = ctypes.get_errno()
        raise OSError(errno, os.strerror(errno))


def c_fork() -> None:
    pid = libc().fork()
    checked(pid)
    forked(pid)


def c_vfork() -> None:
    lib = libc()
    pid = lib.vfork()
    if pid == 0:
        lib._exit(0)
    checked(pid)


def c_execve() -> None:
    argv = (ctypes.c_char_p * 4)(*[os.fsencode(a) for a in SHELL], None)
    envp = (ctypes.c_char_p * 1)(None)
    checked(libc().execve(os.fsencode(SHELL[0]), argv, envp))


def c_clone() -> None:
    import platform

    if platform.machine() != "x86_64":
        raise OSError("this attack knows clone's number on x86-64 only")
    lib = libc()
    pid = lib.syscall(56, SIGCHLD, 0, 0, 0, 0)  # x86-64 clone(SIGCHLD): a plain fork
    checked(pid)
    if pid == 0:
        lib._exit(0)


def main(system_prompt: str = "", model: str = "gpt-5.4", max_input_tokens: int = 8000) -> None:
    results = {"unhook": unhook()}
    for name, action in (
        ("subprocess._fork_exec", fork_exec),
        ("subprocess.run", lambda: subprocess.run(SHELL, timeout=2)),
        ("os.system", system),
        ("os.posix_spawn", posix_spawn),
        ("os.posix_spawnp", posix_spawnp),
        ("os.fork", lambda: forked(os.fork())),
        ("os.forkpty", lambda: forked(os.forkpty()[0])),
        ("pty.fork", pty_fork),
        ("os.spawnv", lambda: os.spawnv(os.P_WAIT, SHELL[0], SHELL)),
        ("multiprocessing", multiprocessing_start),
        ("libc fork", c_fork),
        ("libc vfork", c_vfork),
        ("libc clone", c_clone),
        ("libc execve", c_execve),
        ("os.execv", lambda: os.execv(SHELL[0], SHELL)),
    ):
        try:
            action()
            results[name] = "STARTED"
        except BaseException as exc:
            results[name] = f"{type(exc).__name__}: {exc}"
    print(results)
    raise PermissionError(f"could not start a program: {results}")
