"""The two loops: the developer's `python -m pytest -q`, and the student's `grade --watch`.

    python benchmarks/loop_bench.py [--runs 1] [--saves 5] [--no-suite]

Prints a table. The targets: the suite in 40 s or less on the machine's cores (pytest-xdist,
as pyproject.toml runs it), shown beside the same suite in one process; and `grade --watch`
showing the fresh report a few seconds (under 5 s) after a save of the reference solution,
all built-in cases. The load average is printed too: on a shared machine it decides much.
"""

from __future__ import annotations

import argparse
import os
import platform
import queue
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SUITE_TARGET = 40.0
SAVE_TARGET = 5.0


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def adopt_orphans() -> bool:
    """Make this process the reaper of its descendants' orphans (Linux), so that their CPU is
    counted too: a grading worker's zygote and the cases' children outlive the worker that
    started them and would otherwise be reaped, and counted, by init."""
    if not sys.platform.startswith("linux"):
        return False
    import ctypes

    pr_set_child_subreaper = 36
    libc = ctypes.CDLL(None, use_errno=True)
    return libc.prctl(pr_set_child_subreaper, 1, 0, 0, 0) == 0


def reap_orphans(seconds: float = 30.0) -> None:
    """Wait for every orphan adopted while the suite ran (bounded: a leak must not hang us)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            time.sleep(0.05)


def suite(workers: str, runs: int) -> list[tuple[float, float, float]]:
    """(wall, CPU, load average at the start) of each run of the whole suite; CPU counts every
    process the run started, its orphans included."""
    results = []
    for _ in range(runs):
        load = os.getloadavg()[0]
        cpu, started = children_cpu(), time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", workers],
            cwd=REPO, capture_output=True, text=True, check=False,
        )  # fmt: skip
        wall = time.perf_counter() - started
        reap_orphans()
        results.append((wall, children_cpu() - cpu, load))
        if done.returncode != 0:
            print(done.stdout[-3000:], file=sys.stderr)
            raise SystemExit(f"the suite failed with -n {workers}")
    return results


def watch_saves(saves: int) -> list[float]:
    """Seconds from each save (a real change) to the fresh report's end."""
    folder = Path(tempfile.mkdtemp(prefix="loop-bench-")) / "alice"
    shutil.copytree(REPO / "solution", folder, ignore=shutil.ignore_patterns("__pycache__"))
    program = folder / "chat_repl.py"
    process = subprocess.Popen(
        [sys.executable, "-c", "from grader.cli import grade; grade()", str(folder), "--watch"],
        cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(
        target=lambda: [lines.put(x) for x in process.stderr or []], daemon=True
    ).start()

    def graded(within: float) -> None:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            try:
                if "graded at" in lines.get(timeout=max(deadline - time.monotonic(), 0.01)):
                    return
            except queue.Empty:
                break
        raise SystemExit(f"grade --watch showed no report within {within:.0f} s")

    seconds = []
    try:
        graded(120)
        for n in range(saves):
            time.sleep(0.5)
            started = time.perf_counter()
            program.write_text(program.read_text() + f"\n# save {n}\n")
            graded(60)
            seconds.append(time.perf_counter() - started)
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)
        shutil.rmtree(folder.parent, ignore_errors=True)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1, help="runs of the suite, each way")
    parser.add_argument("--saves", type=int, default=5, help="saves timed under --watch")
    parser.add_argument("--no-suite", dest="suite", action="store_false")
    args = parser.parse_args()
    counted = "every descendant" if adopt_orphans() else "waited-for children only"
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"load average {load} at the start; CPU of {counted}")  # fmt: skip
    print()
    print("| what | median s | min s | max s | CPU s (median) | load at start | target |")
    print("|---|---:|---:|---:|---:|---|---|")
    verdicts = []
    if args.suite:
        for workers, name in (("auto", "every core"), ("0", "one process")):
            runs = suite(workers, args.runs)
            wall = [w for w, _, _ in runs]
            median = statistics.median(wall)
            target = f"≤ {SUITE_TARGET:.0f} s" if workers == "auto" else "(for comparison)"
            cpu = statistics.median(c for _, c, _ in runs)
            loads = "-".join(f"{x:.1f}" for x in sorted({round(x, 1) for _, _, x in runs}))
            print(f"| `pytest -q -n {workers}` ({name}) | {median:.1f} | {min(wall):.1f} | "
                  f"{max(wall):.1f} | {cpu:.1f} | {loads} | {target} |")  # fmt: skip
            if workers == "auto":
                verdicts.append(("suite", median <= SUITE_TARGET, median))
    saves = watch_saves(args.saves)
    median = statistics.median(saves)
    print(f"| `grade solution --watch`: save to report | {median:.2f} | {min(saves):.2f} | "
          f"{max(saves):.2f} | | | < {SAVE_TARGET:.0f} s |")  # fmt: skip
    verdicts.append(("re-grade after a save", median < SAVE_TARGET, median))
    print()
    for what, met, value in verdicts:
        print(f"{what}: {'met' if met else 'NOT met'} ({value:.1f} s)")


if __name__ == "__main__":
    main()
