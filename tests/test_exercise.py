"""The student's starting point: the stubs point to the README, and the scaffold around them works.

The scaffold's main() is tested with the reference functions put in place of the TODOs, which is
what a student's finished exercise amounts to.
"""

from __future__ import annotations

import importlib.util
import inspect
import io
import os
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from mock_api import ChatCompletionsMock, FixedReplies, MockConfig, intercept
from mock_api.tokens import count_request_tokens
from solution import chat_repl as reference

REPO = Path(__file__).resolve().parent.parent
EXERCISE = REPO / "exercise"
PROXY_VARS = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy")
CHECK_IDS = (
    "loads",
    "count_tokens",
    "trim_function",
    "system_kept",
    "under_budget",
    "oldest_first",
    "not_over_trimmed",
    "history_kept",
    "oversize_handled",
    "repl_exits",
)


def load_exercise() -> ModuleType:
    """A fresh copy of exercise/chat_repl.py, loaded from its file as the grader loads it."""
    spec = importlib.util.spec_from_file_location("exercise_chat_repl", EXERCISE / "chat_repl.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def exercise() -> ModuleType:
    return load_exercise()


def test_the_stubs_point_to_the_readme(exercise: ModuleType) -> None:
    history = [{"role": "user", "content": "hi"}]
    with pytest.raises(NotImplementedError, match=r"count_tokens .*exercise/README\.md.*Step 1"):
        exercise.count_tokens(history)
    with pytest.raises(NotImplementedError, match=r"trim_history .*exercise/README\.md.*Step 2"):
        exercise.trim_history(history)


def test_the_contract_names_and_signatures(exercise: ModuleType) -> None:
    for name in ("count_tokens", "trim_history", "main"):
        assert callable(getattr(exercise, name))
    inspect.signature(exercise.main).bind(system_prompt="s", model="m", max_input_tokens=1)
    inspect.signature(exercise.count_tokens).bind([], model="m")
    inspect.signature(exercise.trim_history).bind([], max_input_tokens=1, model="m")
    assert inspect.signature(exercise.trim_history).parameters["max_input_tokens"].default == 8000
    assert inspect.signature(exercise.count_tokens).parameters["model"].default == "gpt-5.4"


def test_the_encoding_helper(exercise: ModuleType) -> None:
    assert exercise.encoding_for("gpt-5.4").name == "o200k_base"
    assert exercise.encoding_for("a-model-from-next-year").name == "o200k_base"
    assert exercise.encoding_for("gpt-4").name == "cl100k_base"


@pytest.fixture
def finished(exercise: ModuleType, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """The exercise with the TODOs done (by the reference), and OpenAI() reading only a key."""
    monkeypatch.setattr(exercise, "count_tokens", reference.count_tokens)
    monkeypatch.setattr(exercise, "trim_history", reference.trim_history)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-key")
    for var in ("OPENAI_BASE_URL", "OPENAI_ORG_ID", "OPENAI_PROJECT_ID", *PROXY_VARS):
        monkeypatch.delenv(var, raising=False)
    return exercise


def run_main(
    module: ModuleType, monkeypatch: pytest.MonkeyPatch, lines: list[str], **kwargs: Any
) -> list[Any]:
    monkeypatch.setattr("sys.stdin", io.StringIO("".join(f"{line}\n" for line in lines)))
    mock = ChatCompletionsMock(MockConfig(replies=FixedReplies(["a fairly short reply."])))
    with intercept(mock):
        assert module.main(**kwargs) is None
    return mock.journal


def test_the_scaffold_keeps_history_trims_and_refuses_oversize(
    finished: ModuleType, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    lines = [f"question {i} " + "말 " * 10 for i in range(12)]
    lines.insert(5, "huge " * 500)
    script = [*lines, "/quit", "not sent"]
    journal = run_main(finished, monkeypatch, script, system_prompt="S", max_input_tokens=200)
    sent_lines = [line for line in lines if not line.startswith("huge")]
    assert [e.messages[-1]["content"] for e in journal] == sent_lines
    for entry in journal:
        assert entry.messages[0] == {"role": "system", "content": "S"}
        assert count_request_tokens(entry.messages, "gpt-5.4") <= 200
    assert journal[1].messages[2] == {"role": "assistant", "content": "a fairly short reply."}
    assert len(journal[-1].messages) < 2 * len(sent_lines)
    out = capsys.readouterr().out
    assert "error: that line is too long to send" in out
    assert out.count("a fairly short reply.") == len(sent_lines)


def test_the_scaffold_ends_at_end_of_input(
    finished: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert len(run_main(finished, monkeypatch, ["one", "", "two"])) == 2
    assert run_main(finished, monkeypatch, []) == []


def test_running_the_stub_says_what_to_do() -> None:
    env = {k: v for k, v in os.environ.items() if k not in PROXY_VARS}
    # A key so OpenAI() can be built, and a base URL on loopback that nothing listens on:
    # the stub raises before any request, and nothing could leave the machine anyway.
    env.update(OPENAI_API_KEY="sk-test-key", OPENAI_BASE_URL="http://127.0.0.1:9/v1")
    result = subprocess.run(
        [sys.executable, str(EXERCISE / "chat_repl.py")],
        input="hello\n",
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert result.returncode == 1
    assert "TODO: implement trim_history — see exercise/README.md, 'Step 2'" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_readme_is_in_korean_and_english_and_matches_the_code() -> None:
    readme = (EXERCISE / "README.md").read_text("utf-8")
    assert re.search(r"[가-힣]{20}", readme.replace(" ", "")), "a Korean half"
    for phrase in ("Step 1", "Step 2", "mock-openai serve", "grade exercise/", "<|endoftext|>"):
        assert phrase in readme
    for var in ("OPENAI_BASE_URL", "OPENAI_API_KEY", "TIKTOKEN_CACHE_DIR"):
        assert var in readme
    for check_id in CHECK_IDS:
        assert f"`{check_id}`" in readme
    example = [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": "안녕하세요! Hello!"},
    ]
    total = reference.count_tokens(example)
    assert total == 22
    assert f"= {total}" in readme, "the worked example's total"
