"""How fast the reference trim_history is as the history grows. Prints a table; not a test.

    python benchmarks/trim_bench.py                  # 1k, 10k, 100k messages, 8,000 tokens
    python benchmarks/trim_bench.py --sizes 1000 --repeat 3

For each history it times:

- floor: counting once, with tiktoken and no cache, just the messages that are kept. Any trim
  has to encode at least those, so this is the least work there is.
- cold: trim_history with its caches emptied (the first turn of a REPL, or a fresh process),
  timed in turn with the floor so that a burst of load from other jobs falls on both.
- turn: one REPL turn on the full history: a reply and a new line appended, trim_history again
  with the caches warm from the turns before. `encoded` is how many messages that turn encoded.
- window turn: the same turn on the history the reference REPL keeps (the messages still
  sendable; dropped ones can never fit again, so it forgets them).
- langchain: langchain_core's trim_messages(strategy="last", include_system=True) with the same
  formula as its token counter (uncached, like the floor), on messages converted beforehand.
  Skipped, with a note, when langchain-core is not installed (pip install -e '.[bench]').

Times are the best of --repeat runs, in milliseconds: as timeit's documentation advises, since
slower runs measure other processes getting in the way (the machine is shared), not the code.
The turn columns are medians over --turns turns.
"""

from __future__ import annotations

import argparse
import datetime
import gc
import os
import platform
import random
import statistics
import time
from collections.abc import Callable
from typing import Any

import tiktoken

from mock_api.offline import seed_tiktoken_cache
from solution import chat_repl
from solution.chat_repl import trim_history

MODEL = "gpt-5.4"
WORDS = tuple(
    " ".join(
        [
            "the model sees only this request so the app resends the history every turn and",
            "trims it by tokens not turns keeping the system message 토큰 예산 안에서 오래된",
            "메시지부터 버리고 시스템 메시지는 보존해 🙂 black holes form when massive stars",
        ]
    ).split(" ")
)

Message = dict[str, Any]


def text(rng: random.Random, index: int, words: int) -> str:
    """Unique text (its index first), so no two messages share a cache entry by accident."""
    return f"#{index} " + " ".join(rng.choices(WORDS, k=words))


def make_history(size: int, shape: str, seed: int = 3) -> list[Message]:
    """A system message, then `size` user/assistant messages.

    chat: questions of 8-40 words, answers of 30-150; short: every message 1-4 words.
    """
    rng = random.Random(seed)
    history: list[Message] = [{"role": "system", "content": "You are a helpful assistant."}]
    for i in range(size):
        user = i % 2 == 0
        if shape == "short":
            words = rng.randint(1, 4)
        else:
            words = rng.randint(8, 40) if user else rng.randint(30, 150)
        history.append({"role": "user" if user else "assistant", "content": text(rng, i, words)})
    return history


def plain_count(messages: list[Message], enc: tiktoken.Encoding) -> int:
    """The cookbook formula with tiktoken alone: no cache, every string encoded."""
    total = 3
    for message in messages:
        total += 3 + len(enc.encode_ordinary(message["role"]))
        total += len(enc.encode_ordinary(message["content"]))
    return total


def clear_caches() -> None:
    chat_repl.cached_text_tokens.cache_clear()


def encoded_so_far() -> int:
    """Texts encoded so far: roles are encoded once, so after warm-up these are contents."""
    return chat_repl.cached_text_tokens.cache_info().misses


def timed_ms(run: Callable[[], object], before: Callable[[], None] | None = None) -> float:
    """Wall time of one run, in ms; the cyclic GC is off while timing (as timeit does), or a
    collection of the 100k-message history lands in a random sample."""
    if before:
        before()
    gc.collect()
    gc.disable()
    try:
        start = time.perf_counter()
        run()
        return (time.perf_counter() - start) * 1000
    finally:
        gc.enable()


def best_ms(
    run: Callable[[], object], repeat: int, before: Callable[[], None] | None = None
) -> float:
    """Best wall time of `run`, after one untimed warm-up."""
    timed_ms(run, before)
    return min(timed_ms(run, before) for _ in range(repeat))


def paired_best_ms(
    first: Callable[[], object],
    second: Callable[[], object],
    repeat: int,
    before_second: Callable[[], None] | None = None,
) -> tuple[float, float]:
    """Best wall times of two runs timed in turn, so that load from other jobs on a shared
    machine falls on both alike and their ratio holds."""
    timed_ms(first)
    timed_ms(second, before_second)
    pairs = [(timed_ms(first), timed_ms(second, before_second)) for _ in range(repeat)]
    return min(a for a, _ in pairs), min(b for _, b in pairs)


def repl_turns(history: list[Message], budget: int, turns: int, window: bool) -> tuple[float, int]:
    """Median ms and max messages encoded per turn, over `turns` simulated REPL turns."""
    rng = random.Random(99)
    history = list(history)
    clear_caches()
    history = trim_history(history, budget, MODEL) if window else history
    trim_history(history, budget, MODEL)  # the turn before: caches warm
    times, encoded = [], []
    gc.collect()
    gc.disable()
    try:
        for turn in range(turns):
            history.append({"role": "assistant", "content": text(rng, 10**7 + turn, 60)})
            history.append({"role": "user", "content": text(rng, 2 * 10**7 + turn, 20)})
            misses = encoded_so_far()
            start = time.perf_counter()
            sent = trim_history(history, budget, MODEL)
            times.append(time.perf_counter() - start)
            encoded.append(encoded_so_far() - misses)
            if window:
                history = list(sent)  # what the reference REPL keeps: the sendable messages
    finally:
        gc.enable()
    return statistics.median(times) * 1000, max(encoded)


def langchain_runner(
    history: list[Message], budget: int, enc: tiktoken.Encoding
) -> Callable[[], list[Any]] | None:
    """A callable running LangChain's trim_messages, and its result length; None if missing."""
    try:
        from langchain_core.messages import BaseMessage, convert_to_messages, trim_messages
    except ImportError:
        return None
    roles = {"system": "system", "human": "user", "ai": "assistant"}

    def counter(messages: list[BaseMessage]) -> int:
        total = 3
        for message in messages:
            total += 3 + len(enc.encode_ordinary(roles[message.type]))
            total += len(enc.encode_ordinary(message.content))  # type: ignore[arg-type]
        return total

    converted = convert_to_messages(history)

    def run() -> list[BaseMessage]:
        return trim_messages(
            converted,
            max_tokens=budget,
            token_counter=counter,
            strategy="last",
            include_system=True,
        )

    return run


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            cpu = next(line.split(":", 1)[1].strip() for line in info if "model name" in line)
    except (OSError, StopIteration):
        pass
    return (
        f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"tiktoken {tiktoken.__version__}, {platform.system()} {platform.release()}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000])
    parser.add_argument("--shapes", nargs="+", default=["chat", "short"])
    parser.add_argument("--budget", type=int, default=8000)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--turns", type=int, default=20)
    parser.add_argument("--no-langchain", action="store_true", help="skip LangChain's column")
    args = parser.parse_args()

    seed_tiktoken_cache()
    enc = chat_repl.encoding_for(MODEL)
    enc.encode_ordinary("warm up")
    print(f"{datetime.date.today()}  {machine()}")
    print(f"budget {args.budget:,} input tokens, {MODEL}; best of {args.repeat} runs, in ms\n")
    header = (
        "| shape | messages | kept | floor | cold | cold/floor | turn | encoded/turn "
        "| window turn | langchain | langchain/floor |"
    )
    print(header)
    print("|" + "---|" * (header.count("|") - 1))
    notes = []
    for shape in args.shapes:
        for size in args.sizes:
            history = make_history(size, shape)
            clear_caches()
            kept = trim_history(history, args.budget, MODEL)
            assert plain_count(kept, enc) <= args.budget
            floor, cold = paired_best_ms(
                lambda kept=kept: plain_count(kept, enc),
                lambda h=history: trim_history(h, args.budget, MODEL),
                args.repeat,
                clear_caches,
            )
            turn, encoded = repl_turns(history, args.budget, args.turns, window=False)
            window_turn, _ = repl_turns(history, args.budget, args.turns, window=True)
            lc_cell = lc_ratio = "n/a"
            runner = None if args.no_langchain else langchain_runner(history, args.budget, enc)
            if runner is not None:
                lc_kept = len(runner())
                lc = best_ms(runner, max(1, args.repeat if size < 50_000 else 3))
                lc_cell, lc_ratio = f"{lc:,.1f}", f"{lc / floor:,.0f}x"
                if abs(lc_kept - len(kept)) > 1:
                    notes.append(f"{shape}/{size}: LangChain kept {lc_kept}, we kept {len(kept)}")
            print(
                f"| {shape} | {size:,} | {len(kept)} | {floor:.2f} | {cold:.2f} "
                f"| {cold / floor:.2f}x | {turn:.2f} | {encoded} | {window_turn:.3f} "
                f"| {lc_cell} | {lc_ratio} |"
            )
    if args.no_langchain:
        notes.append("LangChain skipped (--no-langchain)")
    elif langchain_runner([], args.budget, enc) is None:
        notes.append(
            "LangChain skipped: langchain-core is not installed (pip install -e '.[bench]')"
        )
    for note in notes:
        print(f"\nnote: {note}")


if __name__ == "__main__":
    main()
