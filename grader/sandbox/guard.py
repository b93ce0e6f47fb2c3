"""Fences around the process that runs a submission: what the kernel lets it reach.

The verdict lives in the grader's process, built from what the submission sent; the fences
keep the grader's files, the cases, the other submissions and the machine out of its reach.
The strongest ones the machine allows are used, checked once when the worker starts
(``probe``), and every report names them:

- a network namespace with no interface up, for the whole worker: no connection leaves;
- per case, a PID namespace whose first process is the submission, with a /proc of its own;
- per case, a file-system view built from nothing (``enter_view``), as bubblewrap builds one:
  a tmpfs root holding, read-only, the interpreter's directories and the installed packages
  (trimlab's own hidden under empty directories), the encodings' cache, a minimal /dev, an
  empty private /tmp, and the working copy, the one writable place; then pivot_root, and the
  old root is gone. What is not in the view does not exist for the submission;
- no capabilities left, so that none of this can be undone;
- a seccomp filter (libseccomp, through pyseccomp): no exec, no fork (threads only), no new
  namespaces, mounts, ptrace or sockets other than Unix ones, whatever code asks;
- resource limits, soft and hard: memory, file size (the captured output), CPU time, no core,
  and processes where the user is not root;
- where no mount namespace can be made and the grader runs as root: an unprivileged user;
- always: an audit hook (``install_audit_hook``). It explains refusals in plain words; it is not
  what enforces them. Where nothing else holds (macOS), it is all there is: the report says so.
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
CLONE_THREAD = 0x00010000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
PR_SET_PDEATHSIG, PR_CAPBSET_DROP, PR_SET_NO_NEW_PRIVS = 1, 24, 38
PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL = 47, 4
CAPABILITY_VERSION_3 = 0x20080522
MNT_DETACH = 2
F_SETPIPE_SZ = 1031
MAX_OPEN_FILES = 256
MAX_PROCESSES = 512  # threads of every case's child: they are all nobody
SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41, "riscv64": 41, "ppc64le": 203, "s390x": 217}
DEVICES = ("null", "zero", "full", "random", "urandom")
TMP_SIZE = "64m"
NOBODY = 65534
ISOLATED_UIDS = 2_000_000_000  # plus a pid: a user of its own for each child without a view

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
    view: bool = False  # the file-system view: only its own copy, read-only packages
    no_capabilities: bool = False
    seccomp: bool = False
    unprivileged_user: bool = False  # the child runs as an unprivileged user (root grading)

    def describe(self) -> str:
        parts = [self.network] if self.network else []
        if self.pid_namespace:
            parts.append("PID namespace")
        if self.view:
            parts.append("own file-system view")
        if self.no_capabilities:
            parts.append("no capabilities")
        if self.seccomp:
            parts.append("seccomp")
        if self.unprivileged_user:
            parts.append("unprivileged user")
        return ", ".join([*parts, "audit hook"])

    def missing(self) -> list[str]:
        """What did not hold, in words a student or an instructor can act on. The audit hook
        is never counted as a fence: code in the submission can switch it off."""
        gaps = []
        if not self.network and not self.seccomp:
            gaps.append(
                "no network namespace nor seccomp: only the audit hook refuses the network, "
                "and a submission can switch it off"
            )
        if not self.view:
            who = "an unprivileged user" if self.unprivileged_user else "the grader's own user"
            gaps.append(f"no file-system view: the submission can read what {who} can read")
        if not self.seccomp:
            gaps.append(
                "no seccomp filter: only the audit hook refuses new programs, and a submission "
                "can switch it off"
            )
        return gaps


def libc() -> Any:
    """The C library with the few calls used here typed, or None where there is none."""
    try:
        lib = ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None
    for name, argtypes in (
        ("unshare", [ctypes.c_int]),
        ("setns", [ctypes.c_int, ctypes.c_int]),
        ("mount", [ctypes.c_char_p] * 3 + [ctypes.c_ulong, ctypes.c_char_p]),
        ("umount2", [ctypes.c_char_p, ctypes.c_int]),
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
    """Leave the host's network for an empty namespace, where we can; say which one.

    A user who is not root gets a user namespace too, where it is root: its own uid and gid
    are mapped to 0 there, so that it owns what it makes and can build the per-case view (an
    unmapped user can create no file on a new tmpfs)."""
    if call("unshare", CLONE_NEWNET):
        return "network namespace"
    uid, gid = os.getuid(), os.getgid()
    if call("unshare", CLONE_NEWUSER | CLONE_NEWNET):
        with contextlib.suppress(OSError):
            for name, text in (("setgroups", "deny"), ("uid_map", f"0 {uid} 1"),
                               ("gid_map", f"0 {gid} 1")):  # fmt: skip
                with open(f"/proc/self/{name}", "w") as f:
                    f.write(text)
        return "user and network namespace"
    return ""


def probe(scratch: Path, view: View | None, program_filter: Any, namespaces: bool) -> Fences:
    """Which per-case fences work here: tried in throwaway children, the way a case uses them.
    The PID namespaces are tried in one child of their own: a failed try leaves its process
    unable to fork."""
    fences = Fences()
    if LIBC is None or not sys.platform.startswith("linux"):
        return fences
    scratch.mkdir(parents=True, exist_ok=True)
    work = scratch / "work"
    work.mkdir(exist_ok=True)
    fences.pid_namespace = namespaces and in_a_child(lambda: 1 if PidNamespaces().works() else 0)

    def try_the_rest() -> int:
        pid_namespaces = PidNamespaces() if fences.pid_namespace else None
        child = pid_namespaces.fork() if pid_namespaces else os.fork()
        if child == 0:  # the view wants a PID namespace of its own, for /proc
            inner = 0
            try:
                inner |= 2 if view is not None and enter_view(view, work, work) else 0
                inner |= 16 if become_unprivileged(work, bool(inner & 2)) else 0
                inner |= 4 if namespaces and drop_capabilities() else 0
                inner |= 8 if program_filter is not None and forbid(program_filter) else 0
                if inner & 8 and os.fork() == 0:  # must fail now
                    os._exit(0)
            finally:
                os._exit(inner)
        _, status = os.waitpid(child, 0)
        return os.WEXITSTATUS(status) if os.WIFEXITED(status) else 0

    code = in_a_child(try_the_rest)
    fences.view, fences.no_capabilities = bool(code & 2), bool(code & 4)
    fences.seccomp, fences.unprivileged_user = bool(code & 8), bool(code & 16)
    return fences


def in_a_child(body: Callable[[], int]) -> int:
    """``body()`` in a throwaway child; its result (0 where the child died)."""
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            code = body()
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.WEXITSTATUS(status) if os.WIFEXITED(status) else 0


def signal_filter(own_pid: int) -> Any:
    """Where there is no PID namespace, a child could signal any process of its user (the
    grader's own, when it runs as that user): signals go to itself only."""
    try:
        import pyseccomp as seccomp
    except (ImportError, OSError, AttributeError):
        return None
    import errno

    refused = seccomp.ERRNO(errno.EPERM)
    rules = seccomp.SyscallFilter(seccomp.ALLOW)
    for name in ("kill", "tgkill", "rt_sigqueueinfo", "rt_tgsigqueueinfo"):
        rules.add_rule(refused, name, seccomp.Arg(0, seccomp.NE, own_pid))
    rules.add_rule(refused, "tkill")
    return rules


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


@dataclass(frozen=True)
class View:
    """What a case's child sees of the file system: these and nothing else."""

    read_only: tuple[str, ...]  # directories bound read-only, each at its own path
    covered: tuple[str, ...]  # directories inside those that stay empty: trimlab's own
    links: tuple[tuple[str, str], ...]  # symbolic links at the root, e.g. /lib -> usr/lib


def plan_view(extra: Sequence[Path] = ()) -> View:
    """The interpreter's directories and the installed packages, plus ``extra`` (the encodings'
    cache); /usr for the shared libraries an extension module may load. The checkout the
    grader runs from is not among them, and trimlab's packages are covered wherever an
    install put them."""
    prefixes = {os.path.realpath(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix,
                                              sys.base_exec_prefix)}  # fmt: skip
    wanted = ["/usr"]
    for entry in sys.path:
        real = os.path.realpath(entry) if entry else ""
        if not real or not os.path.isdir(real):
            continue
        installed = any(under_path(real, prefix) for prefix in prefixes)
        if installed or os.path.basename(real) in ("site-packages", "dist-packages"):
            wanted.append(real)
    wanted.extend(os.path.realpath(p) for p in extra if os.path.isdir(p))
    links: list[tuple[str, str]] = []
    for top in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        if os.path.islink(top):
            links.append((top, os.readlink(top)))
        elif os.path.isdir(top):
            wanted.append(top)
    read_only: list[str] = []
    for path in sorted(set(wanted), key=len):
        if not any(under_path(path, kept) for kept in read_only):
            read_only.append(path)
    covered = []
    for name in sorted(GRADER_PACKAGES):
        for folder in package_folders(name):
            if any(under_path(folder, kept) for kept in read_only):
                covered.append(folder)
    return View(tuple(read_only), tuple(covered), tuple(links))


def package_folders(name: str) -> list[str]:
    """Where a package of trimlab's lives, loaded or not (an editable install maps it)."""
    import importlib.util

    module = sys.modules.get(name)
    paths = list(getattr(module, "__path__", []) or [])
    if not paths:
        with contextlib.suppress(ImportError, ValueError):
            spec = importlib.util.find_spec(name)
            paths = list(spec.submodule_search_locations or []) if spec else []
    return [os.path.realpath(p) for p in paths]


def under_path(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def enter_view(view: View, workdir: Path, source: Path) -> bool:
    """Into a mount namespace whose root holds only ``view`` and ``workdir``, a writable copy
    of ``source``, with a private /tmp, a minimal /dev and, in a PID namespace, a /proc of its
    own. False, with nothing changed for the caller's namespace, where the kernel does not
    allow it."""
    try:
        return build_view(view, workdir, source)
    except OSError:
        return False


def build_view(view: View, workdir: Path, source: Path) -> bool:
    if not call("unshare", CLONE_NEWNS):
        return False
    if not call("mount", None, b"/", None, MS_REC | MS_PRIVATE, None):
        return False
    workdir_real = os.path.realpath(workdir)
    root = os.path.join(os.path.dirname(workdir_real), "root")
    os.makedirs(root, exist_ok=True)
    if not mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755"):
        return False
    os.makedirs(root + "/tmp")  # first: what is bound below /tmp must stay above it
    if not mount("tmpfs", root + "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, f"size={TMP_SIZE}"):
        return False
    for path in view.read_only:
        if not bind(path, root + path, read_only=True):
            return False
    for path in view.covered:
        if not mount("tmpfs", root + path, "tmpfs", MS_NOSUID | MS_NODEV | MS_RDONLY, "size=4k"):
            return False
    for link, target in view.links:
        os.symlink(target, root + link)
    if not private_copy(os.path.realpath(source), root + workdir_real):
        return False
    make_dev(root + "/dev")
    os.makedirs(root + "/proc")
    if os.getpid() == 1:  # the first process of a PID namespace: a /proc of that namespace,
        # read-only: /proc/sys holds the machine's settings, writable to root by file mode
        proc_flags = MS_NOSUID | MS_NODEV | MS_NOEXEC
        if mount("proc", root + "/proc", "proc", proc_flags, None):
            mount(None, root + "/proc", None, MS_REMOUNT | MS_BIND | MS_RDONLY | proc_flags, None)
    return pivot(root)


def mount(source: str | None, target: str, kind: str | None, flags: int, data: str | None) -> bool:
    encoded = [None if text is None else os.fsencode(text) for text in (source, target, kind)]
    return call("mount", *encoded, flags, None if data is None else os.fsencode(data))


def bind(source: str, target: str, read_only: bool) -> bool:
    """``source`` at ``target`` (made for it), without what is mounted beneath it; read-only
    keeps the flags the kernel locked on the source (nosuid, nodev, noexec)."""
    if os.path.isdir(source):
        os.makedirs(target, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "a"):
            pass
    if not mount(source, target, None, MS_BIND, None):
        return False
    device = source.startswith("/dev/")
    flags = MS_REMOUNT | MS_BIND | MS_NOSUID | (MS_RDONLY if read_only else 0)
    flags |= 0 if device else MS_NODEV
    with contextlib.suppress(OSError):
        locked = os.statvfs(source).f_flag
        flags |= MS_NODEV if locked & os.ST_NODEV else 0
        flags |= MS_NOEXEC if locked & os.ST_NOEXEC else 0
    return mount(None, target, None, flags, None)


def private_copy(source: str, target: str) -> bool:
    """The working copy on a tmpfs of its own, bounded like /tmp: what the submission writes
    never reaches the machine's disk, and the grader's copy stays as it was."""
    os.makedirs(target, exist_ok=True)
    if not mount("tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV, f"size={TMP_SIZE},mode=0755"):
        return False
    import shutil

    shutil.copytree(source, target, symlinks=True, dirs_exist_ok=True)
    return True


def make_dev(dev: str) -> None:
    """The few devices a program reads or writes, and the links to its own descriptors."""
    os.makedirs(dev, exist_ok=True)
    mount("tmpfs", dev, "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=0755,size=64k")
    for name in DEVICES:
        if os.path.exists("/dev/" + name):
            bind("/dev/" + name, f"{dev}/{name}", read_only=False)
    for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"),
                         ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2")):  # fmt: skip
        os.symlink(target, f"{dev}/{name}")


def pivot(root: str) -> bool:
    """The new root becomes /, the old one is detached: nothing outside remains reachable."""
    import platform

    number = SYS_PIVOT_ROOT.get(platform.machine())
    syscall = getattr(LIBC, "syscall", None)
    if number is None or syscall is None:
        return False
    os.chdir(root)
    if syscall(number, b".", b".") != 0:  # the old root stays stacked beneath, at "."
        return False
    if not call("umount2", b".", MNT_DETACH):
        return False
    os.chdir("/")
    return mount(None, "/", None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV, None)


def become_unprivileged(workdir: Path, in_view: bool) -> bool:
    """The submission runs as an unprivileged user, owning only its working copy: root's
    power over files by their mode (/proc/sys, the machine's settings, among them) is gone,
    and the process limit counts its threads.

    In its own view that user is nobody. Without a view, the children of every case and every
    submission share the machine's file system, so each gets a user of its own, from a range
    no account uses, derived from its process id (unique among live processes there): none can
    read another's copy or signal another. The grader's own files must not be readable to
    others then (docs/platforms.md)."""
    if os.geteuid() != 0:
        return False
    uid = NOBODY if in_view else ISOLATED_UIDS + os.getpid()
    try:
        if not in_view:
            for parent in (workdir.parent, workdir.parent.parent):  # the case's, the sandbox's
                os.chmod(parent, 0o711)  # passable to reach the copy, not listable
            os.chmod(workdir, 0o700)
        for folder, dirs, files in os.walk(workdir):
            for name in [*dirs, *files]:
                os.lchown(os.path.join(folder, name), uid, uid)
        os.chown(workdir, uid, uid)
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)
    except OSError:
        return False
    set_limit(resource.RLIMIT_NPROC, MAX_PROCESSES)  # its threads (with its siblings, as nobody)
    return os.geteuid() == uid


def program_filter() -> Any:
    """The seccomp filter every case's child loads, built once: None where libseccomp or its
    binding is missing. Threads stay possible; nothing else that makes or becomes a process."""
    try:
        import pyseccomp as seccomp
    except (ImportError, OSError, AttributeError):
        return None
    import errno
    import socket

    refused = seccomp.ERRNO(errno.EPERM)
    try:
        rules = seccomp.SyscallFilter(seccomp.ALLOW)
        for name in ("execve", "execveat", "fork", "vfork", "ptrace", "process_vm_readv",
                     "process_vm_writev", "unshare", "setns", "mount", "umount2", "pivot_root",
                     "chroot", "bpf", "perf_event_open", "keyctl", "add_key", "request_key",
                     "userfaultfd", "io_uring_setup", "kexec_load", "init_module",
                     "finit_module", "delete_module", "open_by_handle_at", "name_to_handle_at",
                     "move_mount", "open_tree", "fsopen", "fsmount", "fspick",
                     "mount_setattr", "memfd_create", "memfd_secret", "shmget", "msgget",
                     "semget", "mq_open", "pidfd_open", "pidfd_getfd", "kcmp"):  # fmt: skip
            with contextlib.suppress(Exception):  # a name this architecture lacks
                rules.add_rule(refused, name)
        # clone() makes a thread only with CLONE_THREAD; clone3's flags are out of a filter's
        # sight, so it is "not implemented" and the C library falls back to clone().
        rules.add_rule(refused, "clone", seccomp.Arg(0, seccomp.MASKED_EQ, CLONE_THREAD, 0))
        rules.add_rule(seccomp.ERRNO(errno.ENOSYS), "clone3")
        # Memory no address-space limit counts: nameless files, shared memory, big pipes.
        rules.add_rule(refused, "fcntl", seccomp.Arg(1, seccomp.EQ, F_SETPIPE_SZ))
        rules.add_rule(
            seccomp.ERRNO(errno.EAFNOSUPPORT), "socket", seccomp.Arg(0, seccomp.NE, socket.AF_UNIX)
        )
    except Exception:
        return None
    return rules


def forbid(rules: Any) -> bool:
    """Load the filter into this process, for good (it is inherited and cannot be removed)."""
    try:
        rules.load()
    except Exception:
        return False
    return True


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
    return dropped and effective_capabilities() in (0, None)  # None: no /proc in its view


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
    set_limit(resource.RLIMIT_NOFILE, MAX_OPEN_FILES)  # pipes' buffers are memory too


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
    """The grader's own modules leave sys.modules (their files are not in the view either),
    and the grader's token counting leaves the child's memory: a submission that walks the
    harness's frames to its modules' globals finds no count to pass off as its own."""
    counting = "mock_api.tokens"
    for name in [m for m in sys.modules if m.partition(".")[0] in GRADER_PACKAGES]:
        module = sys.modules.pop(name)
        namespace = getattr(module, "__dict__", {})
        if name == counting:
            namespace.clear()
            continue
        for key, value in list(namespace.items()):
            if getattr(value, "__module__", None) == counting:
                del namespace[key]


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
