"""The grader's words in Korean and English: the catalogs match the code, every message has a
Korean translation with the same placeholders, the compiled catalog is the committed one, and
``grade --lang ko`` speaks Korean throughout, in every format."""

from __future__ import annotations

import json
import re
import string
import subprocess
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po
from conftest import GradeHere

from grader import i18n

REPO = Path(__file__).resolve().parent.parent
LOCALE = REPO / "grader" / "locale"
PO = LOCALE / "ko" / "LC_MESSAGES" / "trimlab.po"
MO = PO.with_suffix(".mo")
NAMES = {"case {case}", "functions", "conversation"}  # names, the same in both languages
KEYWORDS = {"_": None, "N_": None, "ngettext": (1, 2)}
UPDATE = (
    "pybabel extract -k N_ -k _ -k ngettext:1,2 --no-location --sort-output --omit-header "
    "-o grader/locale/trimlab.pot grader/ && pybabel update -i grader/locale/trimlab.pot "
    "-d grader/locale -D trimlab -w 100, then translate, then: pybabel compile -d grader/locale "
    "-D trimlab"
)


def in_code() -> set[str | tuple[str, ...]]:
    found: set[str | tuple[str, ...]] = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        str(REPO / "grader"), keywords=KEYWORDS, comment_tags=()
    ):
        found.add(message)
    return found


def ids(catalog: object) -> set[str | tuple[str, ...]]:
    return {m.id for m in catalog if m.id}  # type: ignore[attr-defined]


def fields(text: str) -> set[str]:
    return {f"{name}!{conv}:{spec}" for _lit, name, spec, conv in string.Formatter().parse(text)
            if name is not None}  # fmt: skip


def test_the_catalogs_hold_exactly_the_messages_in_the_code() -> None:
    code = in_code()
    template = read_po((LOCALE / "trimlab.pot").open("rb"))
    korean = read_po(PO.open("rb"))
    assert ids(template) == code, f"the .pot is out of date; run: {UPDATE}"
    assert ids(korean) == code, f"the Korean .po is out of date; run: {UPDATE}"


def test_every_message_has_a_korean_translation_with_the_same_placeholders() -> None:
    korean = read_po(PO.open("rb"))
    for message in korean:
        if not message.id:
            continue
        assert not message.fuzzy, message.id
        originals = message.id if isinstance(message.id, tuple) else (message.id,)
        translations = message.string if isinstance(message.string, tuple) else (message.string,)
        assert all(translations), f"no Korean for {message.id!r}"
        for translation in translations:
            assert fields(translation) == fields(originals[-1]), message.id
            assert re.search(r"[가-힣]", translation) or message.id in NAMES, message.id


def entries(catalog: object) -> dict[object, object]:
    """id -> translation, plural forms as tuples whichever reader made them."""

    def plain(value: object) -> object:
        return tuple(value) if isinstance(value, (list, tuple)) else value

    return {plain(m.id): plain(m.string) for m in catalog if m.id}  # type: ignore[attr-defined]


def test_the_compiled_catalog_is_the_committed_po() -> None:
    korean = entries(read_po(PO.open("rb")))
    assert entries(read_mo(MO.open("rb"))) == korean, (
        f"grader/locale/ko/LC_MESSAGES/trimlab.mo is stale; run: {UPDATE}"
    )


@pytest.mark.parametrize(
    ("environment", "language"),
    [
        ({"LANG": "ko_KR.UTF-8"}, "ko"),
        ({"LC_ALL": "en_US.UTF-8", "LANG": "ko_KR.UTF-8"}, "en"),
        ({"LC_ALL": "", "LC_MESSAGES": "ko_KR", "LANG": "C"}, "ko"),
        ({"LANG": "C.UTF-8"}, "en"),
        ({}, "en"),
    ],
)
def test_the_default_language_follows_the_locale(
    environment: dict[str, str], language: str
) -> None:
    assert i18n.language_from_environment(environment) == language


def test_korean_is_used_and_english_comes_back() -> None:
    try:
        i18n.use("ko")
        assert i18n._("all checks passed") == "모든 check 통과"
        assert i18n.ngettext("{n} check failed", "{n} checks failed", 2) == "check {n} 개 실패"
    finally:
        i18n.use("en")
    assert i18n._("all checks passed") == "all checks passed"


def english_fragments() -> list[str]:
    """The longest literal run of every English message: none may show in a Korean report."""
    fragments = []
    for message in in_code():
        text = message[0] if isinstance(message, tuple) else message
        runs = [lit for lit, *_rest in string.Formatter().parse(text)]
        longest = max(runs, key=len).strip(" :;,.")
        if len(longest) >= 16:
            fragments.append(longest)
    return fragments


# The locale of a Korean user's shell: nothing else decides the language.
KOREAN_LOCALE = {"LANG": "ko_KR.UTF-8", "LC_ALL": None, "LC_MESSAGES": None}


def test_grade_speaks_korean_throughout_when_the_locale_is_korean(
    tmp_path: Path, grade_here: GradeHere
) -> None:
    def grade_ko(*args: str) -> subprocess.CompletedProcess[str]:
        return grade_here(*args, env=KOREAN_LOCALE)

    done = grade_ko("tests/corpus/system_last")
    assert done.returncode == 1, done.stderr
    assert "system_last 채점 결과" in done.stdout and "힌트:" in done.stdout
    leaked = [f for f in english_fragments() if f in done.stdout]
    assert not leaked, leaked

    report = tmp_path / "report.json"
    done = grade_ko("tests/corpus/system_last", "--format", "json", "--output", str(report))
    data = json.loads(report.read_text(encoding="utf-8"))
    assert data["language"] == "ko"
    failed = [c for c in data["checks"] if c["status"] == "failed"]
    assert failed and all(re.search(r"[가-힣]", c["message"] + c["help"]) for c in failed)

    results = tmp_path / "results.json"
    grade_ko("tests/corpus/system_last", "--case", "short_chat", "--format", "gradescope",
             "--output", str(results))  # fmt: skip
    gradescope = json.loads(results.read_text(encoding="utf-8"))
    assert "보이는 check" in gradescope["output"]
    assert any("힌트:" in test["output"] for test in gradescope["tests"])

    english = grade_ko("--lang", "en", "tests/corpus/system_last", "--case", "short_chat")
    assert "Grading system_last" in english.stdout
    assert not re.search(r"[가-힣]", english.stdout.replace("당신은", ""))


# A Korean particle depends on the sound that ends the word before it (이/가, 을/를, 은/는,
# 와/과). After a placeholder that sound is unknown, so a translation writes both forms
# ("을(를)"), rewords, or names the placeholder below: what every value of it ends with.
ENDS = {
    "where": "consonant",  # "request 3 (3 번째 줄)"
    "function": "vowel",  # count_tokens, trim_history
    "entry": "vowel",  # chat_repl.py
    "size": "vowel",  # "20 MB"
    "most": "vowel",
    "right": "vowel",  # o200k_base, cl100k_base ("로" fits both)
}
PARTICLES = {"이": "consonant", "을": "consonant", "은": "consonant", "과": "consonant",
             "가": "vowel", "를": "vowel", "는": "vowel", "와": "vowel"}  # fmt: skip
AFTER_PLACEHOLDER = re.compile(r"\{(\w+)[^}]*\} ?(이|가|을|를|은|는|와|과)(?=[\s,.:;)]|$)")


def test_no_particle_guesses_the_sound_a_placeholder_ends_with() -> None:
    catalog = read_po(PO.open("rb"))
    guesses = []
    for message in catalog:
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        for text in strings:
            for match in AFTER_PLACEHOLDER.finditer(text or ""):
                name, particle = match.groups()
                if ENDS.get(name) != PARTICLES[particle]:
                    guesses.append(f"{match.group(0)!r} in {text!r}")
    assert not guesses, "\n".join(guesses)
