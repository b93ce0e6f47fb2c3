"""The reference solution: count_tokens and trim_history against their contract, and the REPL.

The REPL runs in-process here with its unmodified ``OpenAI()`` intercepted by mock_api; the
subprocess runs against the loopback server are in test_solution_e2e.py.
"""

from __future__ import annotations

import builtins
import copy
import io
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mock_api import ChatCompletionsMock, Fault, FixedReplies, MockConfig, intercept
from mock_api.tokens import count_request_tokens
from solution import chat_repl
from solution.chat_repl import BudgetError, count_tokens, main, trim_history

MODEL = "gpt-5.4"
PINNED = ("system", "developer")
PROXY_VARS = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy")

# --- strategies -------------------------------------------------------------------------------

# Text a chat really sees: ASCII, Korean, emoji, and the special-token strings a user can type.
pieces = st.sampled_from(
    [
        "hello",
        " world",
        "안녕하세요",
        " 블랙홀",
        "을 설명해 줘.",
        "🙂",
        "👩‍💻",
        "🇰🇷",
        "<|endoftext|>",
        "<|im_start|>",
        "<|fim_prefix|>",
        "\n",
        "  ",
        "1234567",
        "é",
        "",
    ]
)
texts = st.one_of(
    st.lists(pieces, max_size=12).map("".join),
    st.text(max_size=40),
)
roles = st.sampled_from(["system", "developer", "user", "assistant"])


@st.composite
def messages(draw: st.DrawFn, role: st.SearchStrategy[str] = roles) -> dict[str, Any]:
    message: dict[str, Any] = {"role": draw(role)}
    shape = draw(st.sampled_from(["text", "text", "text", "parts", "none"]))
    if shape == "text":
        message["content"] = draw(texts)
    elif shape == "parts":
        message["content"] = [
            {"type": "text", "text": t} for t in draw(st.lists(texts, min_size=1, max_size=3))
        ]
    else:
        message["content"] = None
    if draw(st.booleans()) and draw(st.booleans()):
        message["name"] = draw(st.sampled_from(["alice", "김철수", "bot_7"]))
    if draw(st.integers(0, 9)) == 0:
        message["tool_call_id"] = draw(st.sampled_from(["call_1", "call_abc"]))
    return message


histories = st.lists(messages(), max_size=25)
plain_histories = st.lists(
    st.builds(lambda r, t: {"role": r, "content": t}, roles, texts), min_size=1, max_size=40
)


# --- a slow, obviously correct reference to compare with --------------------------------------


def naive_trim(history: list[dict[str, Any]], budget: int, model: str = MODEL) -> list[Any]:
    """Drop the oldest non-pinned message until the whole request fits, recounting each time."""
    others = [i for i, m in enumerate(history) if m["role"] not in PINNED]
    for start in range(len(others) + 1):
        keep = set(others[start:])
        result = [m for i, m in enumerate(history) if m["role"] in PINNED or i in keep]
        if count_request_tokens(result, model) <= budget:
            if others and not keep:
                break  # only the pinned messages fit: the newest message does not
            return result
    raise ValueError("does not fit")


def check_trim_contract(history: list[dict[str, Any]], result: list[Any], budget: int) -> None:
    """Every rule of the contract, checked directly on one result."""
    assert count_request_tokens(result, MODEL) <= budget
    assert all(any(r is m for m in history) for r in result), "messages must be the same dicts"
    positions = [next(i for i, m in enumerate(history) if m is r) for r in result]
    assert positions == sorted(positions), "order must be kept"
    pinned = [i for i, m in enumerate(history) if m["role"] in PINNED]
    assert set(pinned) <= set(positions), "every system/developer message is kept"
    others = [i for i, m in enumerate(history) if m["role"] not in PINNED]
    kept = [i for i in positions if i not in pinned]
    assert kept == others[len(others) - len(kept) :], "the kept others are the newest ones"
    if others:
        assert kept, "the newest message is always sent"
    if len(kept) < len(others):  # maximal: one more older message would not fit
        one_more = [history[i] for i in sorted([*positions, others[-len(kept) - 1]])]
        assert count_request_tokens(one_more, MODEL) > budget


# --- count_tokens -----------------------------------------------------------------------------


def test_worked_example_from_the_readme() -> None:
    # system: 3 + "system" 1 + "You are a helpful assistant." 6 = 10
    # user:   3 + "user" 1 + "안녕하세요! Hello!" 5 = 9;  reply priming 3;  total 22
    example = [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": "안녕하세요! Hello!"},
    ]
    assert count_tokens(example) == 22
    assert count_tokens(example[:1]) == 13
    assert count_tokens([]) == 3


def test_name_costs_one_more_than_its_text() -> None:
    plain = {"role": "user", "content": "hi"}
    named = {**plain, "name": "alice"}
    name_tokens = len(chat_repl.encoding_for(MODEL).encode("alice"))
    assert count_tokens([named]) - count_tokens([plain]) == 1 + name_tokens


def test_special_token_text_is_ordinary_text() -> None:
    message = {"role": "user", "content": "before <|endoftext|> after <|im_start|>"}
    assert count_tokens([message]) == count_request_tokens([message], MODEL)
    assert count_tokens([message]) > count_tokens([{"role": "user", "content": "before after"}])


def test_list_content_counts_its_text_parts() -> None:
    parts = {
        "role": "user",
        "content": [
            {"type": "text", "text": "안녕"},
            {"type": "image_url", "image_url": {"url": "https://example.invalid/x.png"}},
            {"type": "text", "text": " 🙂"},
        ],
    }
    assert count_tokens([parts]) == count_request_tokens([parts], MODEL)


@pytest.mark.parametrize("model", ["gpt-5.4", "gpt-4o", "gpt-4.1-mini", "gpt-4", "no-such-model"])
def test_count_agrees_with_the_mock_for_models(model: str) -> None:
    history = [
        {"role": "developer", "content": "Be brief."},
        {"role": "user", "content": "블랙홀을 한 문단으로 설명해 줘. 🙂", "name": "김철수"},
        {"role": "assistant", "content": None, "tool_calls": [{"id": "call_1"}]},
        {"role": "tool", "content": "42", "tool_call_id": "call_1"},
    ]
    assert count_tokens(history, model) == count_request_tokens(history, model)


@settings(max_examples=300, deadline=None)
@given(histories)
def test_count_agrees_with_the_mock(history: list[dict[str, Any]]) -> None:
    assert count_tokens(history) == count_request_tokens(history, MODEL)


def test_count_of_a_message_is_cached_across_calls() -> None:
    chat_repl.cached_text_tokens.cache_clear()
    history = [{"role": "user", "content": f"message {i}"} for i in range(10)]
    count_tokens(history)
    assert chat_repl.cached_text_tokens.cache_info().misses == 11  # 10 contents, and "user"
    count_tokens(history)
    assert chat_repl.cached_text_tokens.cache_info().misses == 11


def test_count_rejects_a_message_that_is_not_a_dict() -> None:
    with pytest.raises(TypeError, match="must be a dict"):
        count_tokens(["hello"])  # type: ignore[list-item]


# --- trim_history -----------------------------------------------------------------------------


def conversation(turns: int, words: int = 5) -> list[dict[str, Any]]:
    history: list[dict[str, Any]] = [{"role": "system", "content": "You are terse."}]
    for i in range(turns):
        history.append({"role": "user", "content": f"question {i} " + "word " * words})
        history.append({"role": "assistant", "content": f"answer {i} " + "한국어 " * words})
    return history


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(histories, st.integers(0, 400))
def test_trim_matches_the_naive_reference(history: list[dict[str, Any]], budget: int) -> None:
    before = copy.deepcopy(history)
    try:
        expected = naive_trim(history, budget)
    except ValueError:
        with pytest.raises(ValueError):
            trim_history(history, budget)
    else:
        result = trim_history(history, budget)
        assert result == expected
        check_trim_contract(history, result, budget)
    assert history == before, "trim_history must not change its argument"


@settings(max_examples=200, deadline=None)
@given(plain_histories, st.data())
def test_trim_contract_near_the_full_count(
    history: list[dict[str, Any]], data: st.DataObject
) -> None:
    full = count_request_tokens(history, MODEL)
    budget = data.draw(st.integers(max(0, full - 60), full + 5), label="budget")
    try:
        result = trim_history(history, budget)
    except ValueError:
        with pytest.raises(ValueError):
            naive_trim(history, budget)
        return
    check_trim_contract(history, result, budget)
    if budget >= full:
        assert result == history


def test_a_history_exactly_at_the_budget_is_sent_whole() -> None:
    history = conversation(6)
    full = count_tokens(history)
    assert trim_history(history, full) == history
    fewer = trim_history(history, full - 1)
    assert fewer[0] is history[0]
    assert fewer[1:] == history[len(history) - len(fewer) + 1 :]
    assert len(fewer) < len(history)


def test_many_short_messages() -> None:
    history = [{"role": "system", "content": "s"}] + [
        {"role": "user" if i % 2 else "assistant", "content": str(i)} for i in range(20_000)
    ]
    result = trim_history(history, 8000)
    check_trim_contract(history, result, 8000)
    assert 1000 < len(result) < 2000
    assert result[-1] is history[-1]


def test_long_messages_are_dropped_whole() -> None:
    long = "긴 메시지 " * 500
    history = [
        {"role": "system", "content": "s"},
        {"role": "user", "content": long},
        {"role": "assistant", "content": long},
        {"role": "user", "content": "short question"},
    ]
    budget = count_tokens([history[0], history[2], history[3]])
    assert trim_history(history, budget) == [history[0], history[2], history[3]]
    assert trim_history(history, budget - 1) == [history[0], history[3]]


def test_several_system_and_developer_messages_stay_where_they_stand() -> None:
    history = [
        {"role": "system", "content": "rule one"},
        {"role": "user", "content": "old question " * 20},
        {"role": "developer", "content": "rule two"},
        {"role": "assistant", "content": "old answer " * 20},
        {"role": "user", "content": "new question"},
        {"role": "system", "content": "rule three"},
        {"role": "assistant", "content": "new answer"},
    ]
    pinned = [history[0], history[2], history[5]]
    budget = count_tokens([*pinned, history[4], history[6]])
    assert trim_history(history, budget) == [history[0], history[2], *history[4:]]
    check_trim_contract(history, trim_history(history, budget + 100), budget + 100)


def test_nothing_but_pinned_messages() -> None:
    history = [{"role": "system", "content": "a"}, {"role": "developer", "content": "b"}]
    assert trim_history(history, count_tokens(history)) == history
    with pytest.raises(ValueError):
        trim_history(history, count_tokens(history) - 1)
    assert trim_history([], 3) == []


def test_korean_emoji_and_special_token_text() -> None:
    history = [{"role": "system", "content": "한국어로 답해."}]
    for i in range(30):
        history.append({"role": "user", "content": f"{i}번째 질문 🙂👩‍💻 <|endoftext|>"})
        history.append({"role": "assistant", "content": f"답 {i} 🇰🇷 <|im_end|>"})
    for budget in (60, 200, 500):
        check_trim_contract(history, trim_history(history, budget), budget)
        assert trim_history(history, budget) == naive_trim(history, budget)


def test_too_long_newest_message_raises_a_clear_value_error() -> None:
    history = [{"role": "system", "content": "s"}, {"role": "user", "content": "x " * 200}]
    with pytest.raises(ValueError, match=r"over the budget of 100"):
        trim_history(history, 100)
    with pytest.raises(BudgetError) as caught:
        trim_history(history, 100)
    assert caught.value.needed == count_tokens(history) and caught.value.budget == 100


def test_system_message_alone_over_the_budget_raises() -> None:
    history = [{"role": "system", "content": "rule " * 100}, {"role": "user", "content": "hi"}]
    with pytest.raises(ValueError):
        trim_history(history, 50)


def test_a_trailing_pinned_message_does_not_hide_the_newest_other() -> None:
    history = [
        {"role": "user", "content": "x " * 300},
        {"role": "system", "content": "late rule"},
    ]
    with pytest.raises(ValueError):
        trim_history(history, 50)


@pytest.mark.parametrize(
    ("bad", "error", "match"),
    [
        ("not a list", TypeError, "list of dicts"),
        ([{"content": "no role"}], ValueError, r"messages\[0\] has no 'role'"),
        ([{"role": "user", "content": "x"}, "text"], TypeError, r"messages\[1\] must be a dict"),
    ],
)
def test_bad_histories_get_clear_errors(bad: Any, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        trim_history(bad, 100)


def test_bad_budget_type() -> None:
    with pytest.raises(TypeError, match="max_input_tokens must be an int"):
        trim_history([], "8000")  # type: ignore[arg-type]


def test_tuples_are_accepted_and_a_list_comes_back() -> None:
    history = tuple(conversation(2))
    assert trim_history(history, 8000) == list(history)


def counting_encoder(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record every text the solution encodes, with a fresh cache."""
    encoded: list[str] = []
    real = chat_repl.text_tokens

    def spy(text: str, model: str) -> int:
        encoded.append(text)
        return real(text, model)

    chat_repl.cached_text_tokens.cache_clear()
    monkeypatch.setattr(chat_repl, "text_tokens", spy)
    return encoded


def test_trimming_encodes_only_what_it_keeps(monkeypatch: pytest.MonkeyPatch) -> None:
    history = conversation(25_000)  # 50,001 messages
    encoded = counting_encoder(monkeypatch)
    result = trim_history(history, 2000)
    contents = [t for t in encoded if t not in ("system", "user", "assistant")]
    # the kept messages, and the one older message that did not fit; never the rest
    assert len(contents) == len(result) + 1


def test_each_turn_encodes_only_the_new_messages(monkeypatch: pytest.MonkeyPatch) -> None:
    history = conversation(200)
    encoded = counting_encoder(monkeypatch)
    trim_history(history, 1500)
    for turn in range(20):
        history.append({"role": "assistant", "content": f"reply {turn}"})
        history.append({"role": "user", "content": f"line {turn}"})
        encoded.clear()
        trim_history(history, 1500)
        assert encoded == [f"line {turn}", f"reply {turn}"]


# --- the REPL, in-process ---------------------------------------------------------------------


@pytest.fixture
def api_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """What OpenAI() reads: a key, no base URL, no proxy; tiktoken already seeded."""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-key")
    for var in ("OPENAI_BASE_URL", "OPENAI_ORG_ID", "OPENAI_PROJECT_ID", *PROXY_VARS):
        monkeypatch.delenv(var, raising=False)


def feed(monkeypatch: pytest.MonkeyPatch, lines: list[str]) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("".join(f"{line}\n" for line in lines)))


@pytest.fixture
def run_repl(api_env: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    def run(lines: list[str], config: MockConfig | None = None, **kwargs: Any) -> Any:
        mock = ChatCompletionsMock(config or MockConfig(replies=FixedReplies(["ok."])))
        feed(monkeypatch, lines)
        with intercept(mock):
            assert main(**kwargs) is None
        return mock.journal

    yield run


def user_lines(entry: Any) -> list[str]:
    return [m["content"] for m in entry.messages if m["role"] == "user"]


@pytest.mark.openai_compat  # the reference REPL under openai 2.x too
def test_repl_sends_the_history_and_keeps_replies(run_repl: Any, capsys: Any) -> None:
    journal = run_repl(["first", "second", "third"], system_prompt="Be terse.")
    assert [e.status for e in journal] == [200, 200, 200]
    assert journal[2].messages == [
        {"role": "system", "content": "Be terse."},
        {"role": "user", "content": "first"},
        {"role": "assistant", "content": "ok."},
        {"role": "user", "content": "second"},
        {"role": "assistant", "content": "ok."},
        {"role": "user", "content": "third"},
    ]
    out = capsys.readouterr().out
    assert out.count("ok.\n") == 3
    assert f"{journal[2].prompt_tokens:,} / 8,000 input tokens, 0 messages dropped" in out


def test_repl_trims_every_request_to_the_budget(run_repl: Any, capsys: Any) -> None:
    lines = [f"line number {i} " + "단어 " * 8 for i in range(30)]
    config = MockConfig(replies=FixedReplies(["a reply of some length " * 3]))
    journal = run_repl(lines, config, max_input_tokens=150)
    assert len(journal) == 30
    for number, entry in enumerate(journal):
        assert entry.messages[0]["role"] == "system"
        assert entry.prompt_tokens <= 150
        assert entry.messages[-1] == {"role": "user", "content": lines[number]}
        assert count_request_tokens(entry.messages, MODEL) == entry.prompt_tokens
    assert len(journal[-1].messages) < 2 * 30
    assert "messages dropped" in capsys.readouterr().out


@pytest.mark.openai_compat  # the reference REPL under openai 2.x too
def test_an_oversize_line_is_refused_and_never_sent(run_repl: Any, capsys: Any) -> None:
    huge = "too long " * 200
    journal = run_repl(["hello", huge, "after"], max_input_tokens=200)
    assert [user_lines(e)[-1] for e in journal] == ["hello", "after"]
    assert all(huge not in user_lines(e) for e in journal)
    assert user_lines(journal[1]) == ["hello", "after"]
    captured = capsys.readouterr()
    assert "too long to send" in captured.err and "not sent" in captured.err
    assert "Traceback" not in captured.err


def test_quit_and_end_of_input_end_the_repl(run_repl: Any) -> None:
    assert [user_lines(e)[-1] for e in run_repl(["a", "/quit", "b"])] == ["a"]
    assert [user_lines(e)[-1] for e in run_repl(["a", "b"])] == ["a", "b"]
    assert run_repl([]) == []


def test_ctrl_c_ends_the_repl_cleanly(api_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(*args: Any) -> str:
        raise KeyboardInterrupt

    monkeypatch.setattr(builtins, "input", interrupted)
    with intercept(ChatCompletionsMock()):
        assert main() is None


def test_blank_lines_and_unknown_commands_are_not_sent(run_repl: Any, capsys: Any) -> None:
    journal = run_repl(["", "   ", "/nope", "/etc/hosts is a file?", "real"])
    assert [user_lines(e)[-1] for e in journal] == ["/etc/hosts is a file?", "real"]
    assert "unknown command /nope" in capsys.readouterr().err


def test_tokens_history_and_reset(run_repl: Any, capsys: Any) -> None:
    journal = run_repl(["one", "/tokens", "/history", "/reset", "/history", "two"])
    assert journal[1].messages == [
        {"role": "system", "content": chat_repl.DEFAULT_SYSTEM_PROMPT},
        {"role": "user", "content": "two"},
    ]
    out = capsys.readouterr().out
    tokens = count_tokens([*journal[0].messages, {"role": "assistant", "content": "ok."}])
    assert f"history: 3 messages, {tokens:,} input tokens (budget 8,000" in out
    assert "history cleared" in out
    assert out.count("     user [") == 1  # /history after /reset shows the system prompt only


def test_history_lists_dropped_messages(run_repl: Any, capsys: Any) -> None:
    run_repl([f"line {i} " + "x " * 20 for i in range(6)] + ["/history"], max_input_tokens=90)
    out = capsys.readouterr().out
    assert "older messages dropped)" in out


@pytest.mark.openai_compat  # the reference REPL under openai 2.x too
def test_streaming_prints_deltas_and_reports_usage(run_repl: Any, capsys: Any) -> None:
    journal = run_repl(["hi", "again"], MockConfig(), stream=True)
    assert all(e.body["stream"] is True for e in journal)
    assert all(e.body["stream_options"] == {"include_usage": True} for e in journal)
    assert journal[1].messages[2] == {"role": "assistant", "content": journal[0].reply}
    out = capsys.readouterr().out
    assert journal[0].reply + "\n" in out
    assert f"({journal[1].prompt_tokens:,} / 8,000 input tokens" in out


def test_an_empty_system_prompt_sends_no_system_message(run_repl: Any) -> None:
    journal = run_repl(["hi"], system_prompt="")
    assert journal[0].messages == [{"role": "user", "content": "hi"}]


# --- API errors: one line each, the history as it was, the REPL goes on -----------------------


@pytest.mark.openai_compat  # the reference REPL under openai 2.x too
def test_rate_limit_after_retries(run_repl: Any, capsys: Any) -> None:
    faults = {n: Fault("rate_limit") for n in (2, 3, 4)}  # the SDK tries 3 times
    journal = run_repl(["one", "two", "three"], MockConfig(FixedReplies(["ok."]), faults=faults))
    assert [e.status for e in journal] == [200, 429, 429, 429, 200]
    assert user_lines(journal[4]) == ["one", "three"]
    err = capsys.readouterr().err
    assert err.count("error:") == 1 and "rate limited" in err and "Traceback" not in err


def test_authentication_error(run_repl: Any, capsys: Any) -> None:
    journal = run_repl(["one", "two"], MockConfig(api_key="sk-the-right-one"))
    assert [e.status for e in journal] == [401, 401]
    err = capsys.readouterr().err
    assert err.count("authentication failed") == 2 and "OPENAI_API_KEY" in err


def test_context_length_exceeded(run_repl: Any, capsys: Any) -> None:
    config = MockConfig(FixedReplies(["ok."]), context_window=30)
    journal = run_repl(["short", "a much longer line " * 5, "short again"], config)
    assert [e.status for e in journal] == [200, 400, 400]
    err = capsys.readouterr().err
    assert err.count("context window") == 2 and "--max-input-tokens" in err
    assert user_lines(journal[2]) == ["short", "short again"]


def test_timeouts(run_repl: Any, capsys: Any) -> None:
    faults = {n: Fault("timeout") for n in (1, 2, 3)}
    journal = run_repl(["slow", "fast"], MockConfig(FixedReplies(["ok."]), faults=faults))
    assert user_lines(journal[3]) == ["fast"]
    assert "timed out" in capsys.readouterr().err


def test_connection_refused(api_env: None, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    with socket.socket() as closed:  # a bound, never-listening loopback port refuses at once
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
        monkeypatch.setenv("OPENAI_BASE_URL", f"http://127.0.0.1:{port}/v1")
        feed(monkeypatch, ["hello"])
        main()
    err = capsys.readouterr().err
    assert "cannot reach the API" in err and "Traceback" not in err


def test_missing_key_in_main(monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    feed(monkeypatch, ["hello"])
    main()
    assert "cannot create the OpenAI client" in capsys.readouterr().err


# --- the command line, in-process -------------------------------------------------------------


def test_cli_mock(api_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY")
    result = CliRunner().invoke(
        chat_repl.cli, ["--mock", "--max-input-tokens", "100"], input="hello\n/tokens\n"
    )
    assert result.exit_code == 0, result.output
    assert "via the built-in mock" in result.output
    assert "/ 100 input tokens, 0 messages dropped" in result.output


def test_cli_without_a_key_points_to_mock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    result = CliRunner().invoke(chat_repl.cli, [], input="hello\n")
    assert result.exit_code == 2
    assert "OPENAI_API_KEY is not set" in result.output and "--mock" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--max-input-tokens", "0"], "0 is not in the range"),
        (["--max-input-tokens", "lots"], "'lots' is not a valid integer"),
        (["--max-input-tokens", "10"], "leaves no room"),
        (["--model", "text-davinci-003"], "not available offline"),  # never fetched
    ],
)
def test_cli_bad_options(args: list[str], message: str) -> None:
    result = CliRunner().invoke(chat_repl.cli, ["--mock", *args], input="")
    assert result.exit_code == 2
    assert message in result.output
