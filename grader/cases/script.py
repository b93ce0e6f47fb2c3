"""From a case to a script: the exact inputs a submission is given, generated reproducibly.

A case says "ten lines of 1,500 Korean tokens"; its script holds those ten lines, which of
them can never fit the budget, and the mock's reply policy. Everything derives from the case
(and its seed), so a failure can be replayed exactly.
"""

from __future__ import annotations

import random
import zlib
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from grader.cases.parse import Case
from grader.cases.textgen import SPECIAL, generate_text
from grader.i18n import N_
from mock_api.core import MockConfig
from mock_api.replies import FixedReplies, ReplyPolicy, TokenReplies
from mock_api.tokens import count_request_tokens

Message = dict[str, Any]
SPECIAL_KIND = N_("text containing <|endoftext|>")

PARSED_OBJECT_BYTES = 320  # what a parsed message or part object costs, about


@dataclass(frozen=True)
class ConversationScript:
    """main() is given these lines on standard input; the mock answers what it sends."""

    kind: ClassVar[Literal["conversation"]] = "conversation"
    case: Case
    system_messages: tuple[Message, ...]
    lines: tuple[str, ...]
    oversize: frozenset[int]  # indexes of lines that cannot fit even with no history

    def reply_policy(self) -> ReplyPolicy:
        if self.case.reply_texts:
            return FixedReplies(list(self.case.reply_texts))
        return TokenReplies(self.case.reply_tokens or 40)

    @property
    def request_cap(self) -> int:
        """The largest request body answered: all a correct REPL could send (16 bytes a token
        of the budget is generous even for escaped Korean), at least 64 KB."""
        return max(64 * 1024, self.case.budget * 16)

    @property
    def journal_cap(self) -> int:
        """The most the grader keeps of this case's requests, in bytes as ``kept_cost`` counts
        them: every line's request, and ten retries, each as large as a correct one can be
        (its body, and a parsed object for each message: at most one per 3 tokens, and two a
        line). Whatever a submission sends, the grader's memory stays within this."""
        lines = len(self.lines)
        messages = min(2 * lines + 4, self.case.budget // 3 + 2)
        return (lines + 10) * (self.request_cap + PARSED_OBJECT_BYTES * messages)

    def mock_config(self) -> MockConfig:
        # A large window: an over-budget request is answered, and judged by under_budget.
        return MockConfig(
            replies=self.reply_policy(),
            context_window=10_000_000,
            max_body_bytes=self.request_cap,
        )

    def samples(self, function: str) -> list[Any]:
        return []  # main() is the only function called

    def inputs(self) -> dict[str, Any]:
        """What the child is given to run it, as the case message carries it."""
        return {"lines": list(self.lines), "system_prompt": self.case.system}


@dataclass(frozen=True)
class TrimSample:
    label: str
    messages: list[Message]
    budget: int


@dataclass(frozen=True)
class FunctionScript:
    """count_tokens and trim_history are called on these samples; nothing reads input, and
    nothing is sent, so no mock answers and no request is kept."""

    kind: ClassVar[Literal["functions"]] = "functions"
    lines: ClassVar[tuple[str, ...]] = ()
    journal_cap: ClassVar[int] = 0
    case: Case
    count_samples: list[list[Message]] = field(default_factory=list)
    trim_samples: list[TrimSample] = field(default_factory=list)

    def mock_config(self) -> None:
        return None

    def samples(self, function: str) -> list[Any]:
        """The inputs ``function`` is called on, in order."""
        return self.count_samples if function == "count_tokens" else self.trim_samples

    def inputs(self) -> dict[str, Any]:
        """What the child is given to run it, as the case message carries it."""
        return {
            "lines": [],
            "count_samples": self.count_samples,
            "trim_samples": [
                {"messages": s.messages, "budget": s.budget} for s in self.trim_samples
            ],
        }


Script = ConversationScript | FunctionScript


def make_script(case: Case, seed: int | None = None) -> Script:
    if case.kind == "functions":
        return function_script(case, case.seed if seed is None else seed)
    return conversation_script(case)


def case_seed(case: Case) -> int:
    return zlib.crc32(case.id.encode())


def conversation_script(case: Case) -> ConversationScript:
    rng = random.Random(case_seed(case))
    lines: list[str] = []
    for line in case.lines:
        for _ in range(line.repeat):
            if line.text is not None:
                lines.append(line.text)
            else:
                assert line.tokens is not None
                lines.append(generate_text(line.tokens, line.language, rng, case.model))
    system = ({"role": "system", "content": case.system},)
    oversize = frozenset(
        i
        for i, text in enumerate(lines)
        if count_request_tokens([*system, {"role": "user", "content": text}], case.model)
        > case.budget
    )
    return ConversationScript(case, system, tuple(lines), oversize)


def function_script(case: Case, seed: int) -> FunctionScript:
    rng = random.Random(seed)
    model = case.model

    def text(tokens: int, language: str | None = None) -> str:
        return generate_text(tokens, language or rng.choice(case.languages), rng, model)

    count_samples: list[list[Message]] = [
        [{"role": "user", "content": "Hello!"}],
        [
            {"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": "Explain black holes in one paragraph."},
        ],
        [{"role": "developer", "content": text(12)}, {"role": "user", "content": text(30)}],
        [{"role": "user", "content": "안녕하세요! 블랙홀을 설명해 줘 🌌"}],
        [{"role": "user", "content": f"What does {SPECIAL} mean?"}],
        [{"role": "user", "name": "minji", "content": "hi"}],
        [{"role": "user", "content": [{"type": "text", "text": text(20)}]}],
        [{"role": "assistant", "content": ""}],
    ]
    for _ in range(6):
        count_samples.append(conversation(rng, text, n=rng.randint(1, 8), systems=1))

    budget = case.budget
    trim_samples: list[TrimSample] = []
    kinds = [  # marked for the catalog: a report names the kind of the history it shows
        N_("random history"),
        N_("history exactly at the budget"),
        N_("many short messages"),
        N_("long messages"),
        N_("several system and developer messages"),
        N_("Korean and emoji text"),
        SPECIAL_KIND,
        N_("newest message alone too large (ValueError)"),
        N_("only the system message and one line"),
    ]
    for i in range(max(case.histories, len(kinds))):
        kind = kinds[i % len(kinds)]
        trim_samples.append(trim_sample(kind, rng, text, budget, model))
    # Two more, drawn last so the ones above stay as they were: over the API's usual 8,000 (a
    # trim that keeps to a constant of its own instead of max_input_tokens shows itself only
    # there), and a token over its budget (a count a few tokens short keeps it whole).
    trim_samples += [trim_sample(k, rng, text, budget, model) for k in (LONG_KIND, OVER_KIND)]
    return FunctionScript(case, count_samples, trim_samples)


LONG_KIND = N_("history of more than 8,000 tokens")
OVER_KIND = N_("history one token over the budget")


def conversation(
    rng: random.Random, text: Any, n: int, systems: int, size: tuple[int, int] = (5, 60)
) -> list[Message]:
    """A system prompt (or several, some ``developer``), then alternating user and assistant."""
    messages: list[Message] = [
        {"role": rng.choice(["system", "developer"]) if k else "system", "content": text(15)}
        for k in range(systems)
    ]
    for k in range(n):
        role = "user" if k % 2 == 0 else "assistant"
        messages.append({"role": role, "content": text(rng.randint(*size))})
    if messages[-1]["role"] != "user":
        messages.append({"role": "user", "content": text(rng.randint(*size))})
    return messages


def trim_sample(kind: str, rng: random.Random, text: Any, budget: int, model: str) -> TrimSample:
    scale = max(budget // 100, 4)
    if kind == "history exactly at the budget":
        messages = conversation(rng, text, rng.randint(4, 12), 1, (scale, scale * 4))
        return TrimSample(kind, messages, count_request_tokens(messages, model))
    if kind == "many short messages":
        messages = conversation(rng, text, rng.randint(150, 400), 1, (1, 4))
    elif kind == "long messages":
        messages = conversation(rng, text, rng.randint(6, 14), 1, (budget // 5, budget // 2))
    elif kind == "several system and developer messages":
        messages = conversation(
            rng, text, rng.randint(10, 40), rng.randint(2, 3), (scale, scale * 5)
        )
        # one more developer note in the middle of the conversation
        middle = rng.randint(3, len(messages) - 2)
        messages.insert(middle, {"role": "developer", "content": text(10)})
    elif kind == "Korean and emoji text":
        messages = conversation(
            rng,
            lambda n: text(n, rng.choice(["ko", "emoji"])),
            rng.randint(10, 40),
            1,
            (scale, scale * 5),
        )
    elif kind == SPECIAL_KIND:
        messages = conversation(
            rng, lambda n: text(n, "mixed"), rng.randint(10, 40), 1, (scale, scale * 5)
        )
        messages[-1]["content"] += f" {SPECIAL}"
    elif kind == "newest message alone too large (ValueError)":
        messages = conversation(rng, text, rng.randint(2, 8), 1, (scale, scale * 3))
        messages[-1]["content"] = text(budget + 20)
    elif kind == "only the system message and one line":
        messages = conversation(rng, text, 1, 1, (scale, scale * 2))
    elif kind == LONG_KIND:
        messages = conversation(rng, text, rng.randint(30, 40), 1, (300, 500))
    elif kind == OVER_KIND:
        messages = conversation(rng, text, rng.randint(4, 12), 1, (scale, scale * 4))
        return TrimSample(kind, messages, count_request_tokens(messages, model) - 1)
    else:
        messages = conversation(rng, text, rng.randint(5, 60), 1, (scale, scale * 8))
    return TrimSample(kind, messages, budget)
