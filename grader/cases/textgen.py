"""Deterministic text of a given token length, in the languages the lesson's students write in."""

from __future__ import annotations

import random

from mock_api.tokens import text_tokens

WORDS: dict[str, tuple[str, ...]] = {
    "en": tuple(
        [
            "the",
            "history",
            "of",
            "every",
            "chat",
            "is",
            "sent",
            "again",
            "with",
            "each",
            "request",
            "so",
            "the",
            "model",
            "remembers",
            "what",
            "was",
            "said",
            "before",
            "a",
            "budget",
            "of",
            "tokens",
            "keeps",
            "the",
            "request",
            "small",
            "and",
            "the",
            "system",
            "message",
            "stays",
            "first",
            "while",
            "older",
            "turns",
            "are",
            "dropped",
            "when",
            "the",
            "total",
            "grows",
            "too",
            "large",
            "students",
            "count",
            "tokens",
            "with",
            "tiktoken",
            "and",
            "trim",
            "from",
            "the",
            "oldest",
            "side",
        ]
    ),
    "ko": tuple(
        [
            "안녕하세요",
            "오늘",
            "날씨",
            "대화",
            "기록",
            "토큰",
            "모델",
            "메시지",
            "시스템",
            "사용자",
            "답변",
            "질문",
            "예산",
            "가장",
            "오래된",
            "것부터",
            "삭제",
            "유지",
            "요청",
            "응답",
            "한국어",
            "학생",
            "연습",
            "문제",
            "설명",
            "이해",
            "블랙홀",
            "우주",
            "빛",
            "시간",
            "공간",
            "중력",
            "별",
            "은하",
        ]
    ),
    "emoji": tuple(
        [
            "🎉",
            "😀",
            "🚀",
            "🌏",
            "🔥",
            "✨",
            "🍀",
            "🐍",
            "📚",
            "💡",
            "🤖",
            "🧠",
            "🌙",
            "☕",
            "🎧",
            "🧩",
        ]
    ),
}
SPECIAL = "<|endoftext|>"
FILLER = " ok"


def generate_text(tokens: int, language: str, rng: random.Random, model: str) -> str:
    """A line of ``tokens`` tokens (exactly, but for rare BPE merges) in ``language``."""
    words = mixed_words() if language == "mixed" else WORDS[language]
    parts: list[str] = []
    estimate = 0
    # Words are pre-tokenized apart, so their counts nearly add up; fix the total exactly after.
    while estimate < tokens:
        word = rng.choice(words)
        parts.append(word)
        estimate += text_tokens(" " + word, model)
    text = " ".join(parts)
    while len(parts) > 1 and text_tokens(text, model) > tokens:
        parts.pop()
        text = " ".join(parts)
    for _ in range(4):
        missing = tokens - text_tokens(text, model)
        if missing <= 0:
            break
        text += FILLER * missing
    return text


def mixed_words() -> tuple[str, ...]:
    return (*WORDS["en"], *WORDS["ko"], *WORDS["emoji"], SPECIAL)
