"""How long `grade solution/` takes, against just importing what any submission imports.

    python benchmarks/grade_bench.py [--runs 5]

Prints a table. The target: grading the reference with the whole built-in suite takes under
3x `python -c "import openai, tiktoken"` on the same machine (medians of the runs).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TARGET = 3.0


def timed(command: list[str], runs: int) -> list[float]:
    seconds = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, cwd=REPO, check=False, capture_output=True)
        seconds.append(time.perf_counter() - started)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    grade = [sys.executable, "-c", "from grader.cli import grade; grade()", "solution/"]
    baseline = [sys.executable, "-c", "import openai, tiktoken"]
    subprocess.run(grade, cwd=REPO, capture_output=True, check=False)  # warm the file cache
    rows = [
        ("python -c 'import openai, tiktoken'", timed(baseline, args.runs)),
        ("grade solution/", timed(grade, args.runs)),
    ]
    base = statistics.median(rows[0][1])
    print(f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"{args.runs} runs each")  # fmt: skip
    print()
    print("| command | median s | min s | max s | ratio to import |")
    print("|---|---:|---:|---:|---:|")
    for name, seconds in rows:
        median = statistics.median(seconds)
        print(f"| `{name}` | {median:.2f} | {min(seconds):.2f} | {max(seconds):.2f} | "
              f"{median / base:.2f}x |")  # fmt: skip
    ratio = statistics.median(rows[1][1]) / base
    print()
    print(f"target: under {TARGET:.0f}x — {'met' if ratio < TARGET else 'NOT met'} ({ratio:.2f}x)")


if __name__ == "__main__":
    main()
