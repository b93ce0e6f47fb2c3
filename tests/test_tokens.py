"""Token accounting, checked against the cookbook formula written out again with tiktoken alone.

``cookbook_count`` below deliberately shares no code with ``mock_api.tokens``: it picks the
encoding itself and encodes with ``encode_ordinary``, so a slip in either shows up as a mismatch.
"""

from __future__ import annotations

import string
from typing import Any

import pytest
import tiktoken
import tiktoken.load
from hypothesis import given, settings
from hypothesis import strategies as st

from mock_api.tokens import count_request_tokens, encoding_for, encoding_name_for, text_tokens

MODELS = ["gpt-5.4", "gpt-4o", "gpt-4.1", "gpt-3.5-turbo", "acme-chat-unreleased-7"]
ROLES = ["system", "developer", "user", "assistant", "tool"]


def cookbook_count(messages: list[dict[str, Any]], model: str) -> int:
    """OpenAI cookbook, "How to count tokens with tiktoken", for current chat models."""
    try:
        encoding = tiktoken.encoding_for_model(model)
    except KeyError:
        encoding = tiktoken.get_encoding("o200k_base")
    tokens_per_message, tokens_per_name = 3, 1
    num_tokens = 0
    for message in messages:
        num_tokens += tokens_per_message
        for key, value in message.items():
            if key == "content" and isinstance(value, list):
                texts = [part["text"] for part in value if part.get("type") == "text"]
            else:
                texts = [value]
            for text in texts:
                num_tokens += len(encoding.encode_ordinary(text))
            if key == "name":
                num_tokens += tokens_per_name
    return num_tokens + 3  # every reply is primed with <|start|>assistant<|message|>


KOREAN = "안녕하세요! 토큰 예산을 지키면서 오래된 대화부터 잘라 내세요."
EMOJI = "Family 👨‍👩‍👧‍👦, wave 👋🏽, flag 🇰🇷."

EXAMPLES: dict[str, list[dict[str, Any]]] = {
    "plain": [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "What is a token?"},
    ],
    "korean": [
        {"role": "developer", "content": "한국어로 답하세요."},
        {"role": "user", "content": KOREAN},
    ],
    "emoji": [{"role": "user", "content": EMOJI}, {"role": "assistant", "content": "🙂"}],
    "names": [
        {"role": "system", "name": "example_user", "content": "New synergies will help."},
        {"role": "user", "name": "kim-minji", "content": KOREAN},
    ],
    "list content": [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "First part. "},
                {"type": "text", "text": EMOJI},
                {"type": "text", "text": KOREAN},
            ],
        }
    ],
    "special-token text": [{"role": "user", "content": "ends here <|endoftext|> or not"}],
}


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_count_matches_cookbook(name: str, model: str) -> None:
    messages = EXAMPLES[name]
    assert count_request_tokens(messages, model) == cookbook_count(messages, model)


def test_smallest_request_by_hand() -> None:
    """3 (message) + 1 ("user") + 1 ("hi") + 3 (priming): the formula's constants, pinned."""
    assert count_request_tokens([{"role": "user", "content": "hi"}], "gpt-4o") == 8


def test_name_costs_its_text_plus_one() -> None:
    bare = [{"role": "user", "content": "hi"}]
    named = [{"role": "user", "name": "kim", "content": "hi"}]
    extra = count_request_tokens(named, "gpt-4o") - count_request_tokens(bare, "gpt-4o")
    assert extra == len(tiktoken.get_encoding("o200k_base").encode_ordinary("kim")) + 1


def test_list_content_counts_text_parts_only() -> None:
    enc = tiktoken.get_encoding("o200k_base")
    messages = [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": KOREAN},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
            ],
        }
    ]
    expected = 3 + len(enc.encode_ordinary("user")) + len(enc.encode_ordinary(KOREAN)) + 3
    assert count_request_tokens(messages, "gpt-4o") == expected


@pytest.mark.parametrize(
    ("model", "encoding"),
    [
        ("gpt-5.4", "o200k_base"),
        ("gpt-4o", "o200k_base"),
        ("gpt-4.1", "o200k_base"),
        ("gpt-3.5-turbo", "cl100k_base"),
        ("gpt-4", "cl100k_base"),
        ("acme-chat-unreleased-7", "o200k_base"),
    ],
)
def test_encoding_per_model(model: str, encoding: str) -> None:
    assert encoding_for(model).name == encoding


def test_the_model_matters() -> None:
    """cl100k and o200k split Korean differently, so the model argument is really used."""
    messages = [{"role": "user", "content": KOREAN}]
    assert count_request_tokens(messages, "gpt-3.5-turbo") != count_request_tokens(
        messages, "gpt-4o"
    )


def test_endoftext_is_ordinary_text() -> None:
    enc = tiktoken.get_encoding("o200k_base")
    with pytest.raises(ValueError):
        enc.encode("<|endoftext|>")  # the trap: tiktoken's default refuses special tokens
    assert text_tokens("<|endoftext|>", "gpt-4o") == len(enc.encode_ordinary("<|endoftext|>")) > 1
    assert text_tokens("<|endoftext|>", "gpt-3.5-turbo") > 1


@pytest.mark.parametrize("model", ["text-davinci-003", "davinci", "gpt2", "code-davinci-002"])
def test_legacy_models_fall_back_without_downloading(
    model: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Their encodings are not bundled; loading them would make tiktoken fetch a URL."""
    assert tiktoken.encoding_name_for_model(model) not in ("o200k_base", "cl100k_base")

    def no_download(blobpath: str) -> bytes:
        raise AssertionError(f"tiktoken tried to download {blobpath}")

    monkeypatch.setattr(tiktoken.load, "read_file", no_download)
    assert encoding_name_for(model) == "o200k_base"
    messages = [{"role": "user", "content": "hello"}]
    assert count_request_tokens(messages, model) == cookbook_count(messages, "gpt-4o")


TEXTS = st.one_of(
    st.text(max_size=40),
    st.sampled_from([KOREAN, EMOJI, "<|endoftext|>", "<|fim_prefix|>x<|fim_suffix|>", "", " "]),
)
MESSAGES = st.lists(
    st.fixed_dictionaries(
        {
            "role": st.sampled_from(ROLES),
            "content": st.one_of(
                TEXTS, st.lists(st.builds(lambda t: {"type": "text", "text": t}, TEXTS), max_size=3)
            ),
        },
        optional={"name": st.text(string.ascii_letters + "_-", min_size=1, max_size=12)},
    ),
    min_size=1,
    max_size=6,
)


@settings(max_examples=150, deadline=None)
@given(messages=MESSAGES, model=st.sampled_from(MODELS))
def test_random_messages_match_cookbook(messages: list[dict[str, Any]], model: str) -> None:
    assert count_request_tokens(messages, model) == cookbook_count(messages, model)
