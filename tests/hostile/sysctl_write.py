"""Looks for the machine's own settings among what it may write: after undoing the audit hook,
it opens /proc/sys files and /proc/sysrq-trigger for writing, and closes each at once.

IT NEVER WRITES ONE BYTE: every setting stays as it was. Opening is the whole test, because
the kernel checks the permission at open. Root without capabilities passes that check for most
of /proc/sys, and kernel.core_pattern alone is a way out: a "|/path/in/its/copy" pattern
makes the kernel run that program, as full root outside every namespace, at the next crash.
"""

import os

from _base import count_tokens, repl, trim_history  # noqa: F401
from _unhook import unhook

SETTINGS = (
    "/proc/sys/kernel/core_pattern",  # a program run as root by the kernel at any crash
    "/proc/sys/kernel/modprobe",  # likewise, when a module is asked for
    "/proc/sys/kernel/poweroff_cmd",
    "/proc/sys/kernel/pid_max",  # every process of the machine
    "/proc/sys/kernel/hostname",  # the host's own: no UTS namespace
    "/proc/sys/vm/drop_caches",
    "/proc/sys/fs/file-max",
    "/proc/sysrq-trigger",  # reboot, crash
)


def main(system_prompt: str = "", model: str = "gpt-5.4", max_input_tokens: int = 8000) -> None:
    results = {"unhook": unhook()}
    for path in SETTINGS:
        try:
            fd = os.open(path, os.O_WRONLY)
        except BaseException as exc:
            results[path] = f"{type(exc).__name__}: {exc}"
            continue
        os.close(fd)  # not one byte written
        results[path] = "WRITABLE"
    print(results)
    raise PermissionError(f"no machine setting is writable: {results}")
