"""The memory of tiktoken's encode in a case's child (grader/sandbox/encode_memo.py): the same
answers as tiktoken, call for call, only sooner. Tested on a wrapper of its own, so this test
process keeps tiktoken as it is."""

from __future__ import annotations

import gc
import sys
from collections.abc import Callable
from typing import Any

import pytest
import tiktoken
from hypothesis import given, settings
from hypothesis import strategies as st

from grader.sandbox import encode_memo
from mock_api.tokens import load_encoding

ENCODING = load_encoding("o200k_base")
LONG = "A chat resends its whole history on every turn. " * 40


@pytest.fixture
def memo() -> encode_memo.Memo:
    return encode_memo.Memo()


def wrapped(memo: encode_memo.Memo, name: str = "encode") -> Callable[..., list[int]]:
    method = memo.wrap(getattr(tiktoken.Encoding, name))
    return lambda *args, **kwargs: method(ENCODING, *args, **kwargs)


OPTIONS: list[dict[str, Any]] = [
    {},
    {"disallowed_special": ()},
    {"disallowed_special": set()},
    {"allowed_special": "all"},
    {"allowed_special": {"<|endoftext|>"}},
    {"allowed_special": ["<|endoftext|>"], "disallowed_special": ()},
    {"allowed_special": frozenset(), "disallowed_special": ["<|endoftext|>"]},
    {"disallowed_special": ("<|endoftext|>",)},
]


@settings(max_examples=60, deadline=None)
@given(
    text=st.text(max_size=300) | st.sampled_from([LONG, "<|endoftext|>" + LONG, "", "한국어 😀"]),
    options=st.sampled_from(OPTIONS),
)
def test_each_call_answers_what_tiktoken_answers(text: str, options: dict[str, Any]) -> None:
    encode = wrapped(encode_memo.Memo())
    for _ in range(2):  # the first call fills the memory, the second answers from it
        assert outcome(encode, text, options) == outcome(ENCODING.encode, text, options)


def outcome(encode: Callable[..., list[int]], text: str, options: dict[str, Any]) -> object:
    """The tokens, or the error as tiktoken words it."""
    try:
        return encode(text, **options)
    except (ValueError, TypeError) as exc:
        return (type(exc), str(exc))


def test_a_repeat_is_answered_from_memory(memo: encode_memo.Memo) -> None:
    calls: list[str] = []

    def counted(encoding: tiktoken.Encoding, text: str, **options: Any) -> list[int]:
        calls.append(text)
        return tiktoken.Encoding.encode(encoding, text, **options)

    encode = memo.wrap(counted)
    first = encode(ENCODING, LONG, disallowed_special=())
    assert encode(ENCODING, LONG, disallowed_special=()) == first
    # A set is remembered by its type and names: an empty set asked twice is encoded once.
    assert encode(ENCODING, LONG, disallowed_special=set()) == first
    assert encode(ENCODING, LONG, disallowed_special=set()) == first
    assert calls == [LONG, LONG]  # the tuple's call and the set's, each once
    assert memo.entries() == 2


def test_the_answer_is_a_new_list_each_time(memo: encode_memo.Memo) -> None:
    encode = wrapped(memo)
    first = encode(LONG)
    first.append(-1)  # a submission may change what it was given
    second = encode(LONG)
    assert second == ENCODING.encode(LONG) and second is not first


def test_an_error_is_raised_again_and_never_remembered(memo: encode_memo.Memo) -> None:
    encode = wrapped(memo)
    for _ in range(2):
        with pytest.raises(ValueError, match="disallowed special token"):
            encode("<|endoftext|> in a user's line")
    assert memo.entries() == 0
    # The same text with other options is another question, with its own answer.
    assert encode("<|endoftext|> in a user's line", allowed_special="all")[0] == 199999
    assert encode("<|endoftext|> in a user's line", disallowed_special=())[0] != 199999


def test_encode_ordinary_is_remembered_apart_from_encode(memo: encode_memo.Memo) -> None:
    text = "<|endoftext|>" + LONG
    ordinary = wrapped(memo, "encode_ordinary")
    special = wrapped(memo)
    assert ordinary(text) == ENCODING.encode_ordinary(text)
    with pytest.raises(ValueError):
        special(text)  # not the ordinary answer, although the text was seen
    assert special(text, allowed_special="all") == ENCODING.encode(text, allowed_special="all")


def test_calls_it_cannot_compare_are_passed_on(memo: encode_memo.Memo) -> None:
    class Text(str):
        pass

    encode = wrapped(memo)
    assert encode(Text(LONG)) == ENCODING.encode(LONG)
    names = ["<|endoftext|>"]
    assert encode(LONG, disallowed_special=names) == ENCODING.encode(LONG, disallowed_special=names)
    with pytest.raises(TypeError):
        encode(LONG, allowed_special=names)  # as tiktoken does, although a set of it would do
    with pytest.raises(TypeError):
        encode(LONG, surprise=True)

    class Names(set):  # type: ignore[type-arg]
        pass

    assert encode(LONG, disallowed_special=Names()) == ENCODING.encode(LONG, disallowed_special=())
    assert memo.entries() == 0


def test_the_memory_is_bounded(memo: encode_memo.Memo, monkeypatch: pytest.MonkeyPatch) -> None:
    """In bytes, the text and the entry's own cost included, not only the tokens."""
    tokens = len(ENCODING.encode(LONG))
    size = sys.getsizeof(LONG) + 4 * tokens + encode_memo.ENTRY_BYTES
    monkeypatch.setattr(encode_memo, "MAX_BYTES", size + 10)
    encode = wrapped(memo)
    encode(LONG)
    encode(LONG + " more")  # would pass the bound: answered, not kept
    assert memo.entries() == 1 and memo.bytes == size
    assert encode(LONG + " more") == ENCODING.encode(LONG + " more")


def test_running_out_of_memory_stops_the_memory_not_the_call(memo: encode_memo.Memo) -> None:
    encode = wrapped(memo)

    class Full(dict):  # type: ignore[type-arg]
        def __setitem__(self, key: object, value: object) -> None:
            raise MemoryError

    encode("warm " + LONG)
    plain, with_sets = memo.tables[id(ENCODING)]
    memo.tables[id(ENCODING)] = (Full(plain), with_sets)
    assert encode(LONG) == ENCODING.encode(LONG)  # the submission's answer, as tiktoken's
    assert memo.full
    assert encode("warm " + LONG) == ENCODING.encode("warm " + LONG)  # what it had, it keeps


def test_other_encoding_classes_and_call_shapes_go_to_tiktoken(memo: encode_memo.Memo) -> None:
    """A subclass may compare encodings its own way (by name, say), and ``self`` may come by
    keyword: tiktoken answers those, as if nothing were remembered."""

    class ByName(tiktoken.Encoding):
        def __eq__(self, other: object) -> bool:
            return isinstance(other, tiktoken.Encoding) and other.name == self.name

        __hash__ = None  # type: ignore[assignment]

    by_name = ByName.__new__(ByName)
    by_name.__dict__.update(ENCODING.__dict__)
    encode = memo.wrap(tiktoken.Encoding.encode)
    assert encode(by_name, LONG) == ENCODING.encode(LONG)
    assert encode(self=ENCODING, text=LONG) == ENCODING.encode(LONG)
    with pytest.raises(TypeError):
        encode(encoding=ENCODING, text=LONG)  # as tiktoken: it has no such parameter
    assert memo.entries() == 0


def test_a_dropped_encoding_takes_its_entries_along(memo: encode_memo.Memo) -> None:
    own = tiktoken.Encoding(
        name="own",
        pat_str=ENCODING._pat_str,
        mergeable_ranks=ENCODING._mergeable_ranks,
        special_tokens=ENCODING._special_tokens,
    )
    encode = memo.wrap(tiktoken.Encoding.encode)
    assert encode(own, LONG) == ENCODING.encode(LONG)
    assert memo.entries() == 1
    del own
    gc.collect()
    assert memo.tables == {}
