"""What remembering tiktoken's encode in a case's child (grader/sandbox/encode_memo.py) saves a
submission, case by case.

    python benchmarks/encode_memo_bench.py [--runs 3] [NAME ...]

Each submission (the reference and the corpus in tests/corpus/ by default) runs the built-in
functions case and the long_chat conversation in a fresh process, with and without the
memory, in turn; a run is the CPU time of the submission's own code (the samples through
count_tokens and trim_history; main() fed the case's lines, answered by the in-process mock),
the median of the runs is printed. The sandbox is left out: it is the same with and without.
"""

from __future__ import annotations

import argparse
import copy
import importlib.util
import io
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from contextlib import redirect_stdout, suppress
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CASES = ("functions", "long_chat")
TIMEOUT = 15  # seconds a run may take: a submission that loops for ever is left out


def measure(path: str, memo: bool) -> dict[str, float]:
    """In this process: CPU seconds of each case's run of the submission at ``path``."""
    from grader.cases import BUILTIN_CASES, load_cases
    from grader.grading import make_scripts
    from grader.sandbox import encode_memo
    from mock_api.core import ChatCompletionsMock
    from mock_api.intercept import intercept
    from mock_api.tokens import load_encoding

    cases = [c for c in load_cases(BUILTIN_CASES) if c.id in CASES]
    scripts = make_scripts(cases)
    load_encoding("o200k_base")
    if memo:
        encode_memo.install()
    os.environ["OPENAI_API_KEY"] = "sk-bench"
    spec = importlib.util.spec_from_file_location("chat_repl", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["chat_repl"] = module
    spec.loader.exec_module(module)
    seconds = {}
    for case, script in zip(cases, scripts, strict=True):
        started = time.process_time()
        if script.kind == "functions":
            for messages in script.count_samples:
                with suppress(Exception):
                    module.count_tokens(messages, model=case.model)
            for sample in script.trim_samples:
                with suppress(Exception):
                    module.trim_history(
                        copy.deepcopy(sample.messages), max_input_tokens=sample.budget,
                        model=case.model,
                    )  # fmt: skip
        else:
            sys.stdin = io.StringIO("".join(line + "\n" for line in script.lines))
            mock, quiet = intercept(ChatCompletionsMock()), redirect_stdout(io.StringIO())
            with mock, quiet, suppress(BaseException):
                module.main(
                    system_prompt=case.system, model=case.model, max_input_tokens=case.budget
                )
        seconds[case.id] = time.process_time() - started
    return seconds


def run(path: Path, memo: bool) -> dict[str, float]:
    command = [sys.executable, __file__, "--measure", str(path)] + (["--memo"] if memo else [])
    done = subprocess.run(
        command, cwd=REPO, capture_output=True, text=True, check=True, timeout=TIMEOUT
    )
    return json.loads(done.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    parser.add_argument("--memo", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("names", nargs="*", help="corpus submissions (default: all)")
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, args.memo)))
        return
    corpus = REPO / "tests" / "corpus"
    names = args.names or sorted(p.parent.name for p in corpus.glob("*/chat_repl.py"))
    paths = {"(reference)": REPO / "solution" / "chat_repl.py"} | {
        name: corpus / name / "chat_repl.py" for name in names
    }
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}, load average {os.getloadavg()[0]:.1f}, "
          f"median of {args.runs} runs, CPU ms")  # fmt: skip
    header = ["submission"] + [f"{c} {w}" for c in CASES for w in ("before", "memo")] + ["ratio"]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    totals = {False: 0.0, True: 0.0}
    for name, path in paths.items():
        if not path.exists():
            continue
        runs: dict[bool, list[dict[str, float]]] = {False: [], True: []}
        for _ in range(args.runs):
            for memo in (False, True):
                with suppress(subprocess.CalledProcessError, subprocess.TimeoutExpired):
                    runs[memo].append(run(path, memo))
        if not runs[False] or not runs[True]:
            print(f"| {name} | (does not load, or does not finish in {TIMEOUT} s) |")
            continue
        cells, sums = [], {False: 0.0, True: 0.0}
        for case in CASES:
            for memo in (False, True):
                median = statistics.median(r.get(case, 0.0) for r in runs[memo]) * 1000
                sums[memo] += median
                cells.append(f"{median:,.0f}")
        for memo in (False, True):
            totals[memo] += sums[memo]
        print(f"| {name} | " + " | ".join(cells) + f" | {sums[True] / sums[False]:.2f}x |")
    print(f"\nall: {totals[False]:,.0f} ms before, {totals[True]:,.0f} ms with the memory "
          f"({totals[True] / totals[False]:.2f}x)")  # fmt: skip


if __name__ == "__main__":
    main()
