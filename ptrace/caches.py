"""Where ptrace keeps what it caches between runs: $XDG_CACHE_HOME/ptrace, else
~/.cache/ptrace. A cache only saves time: one that cannot be read or written
is ignored."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path


def cache_file(name: str) -> Path | None:
    """The path of a cache file (its directory may not exist yet), or None where
    there is no home directory to keep it in."""
    root = os.environ.get("XDG_CACHE_HOME", "")
    try:
        cache = Path(root) if os.path.isabs(root) else Path.home() / ".cache"
    except RuntimeError:  # no home directory
        return None
    return cache / "ptrace" / name


def owned(stat: os.stat_result) -> bool:
    """Written by this user only: what loading runs code (a pickle, compiled code)
    is loaded only from such files and directories."""
    return stat.st_uid == os.geteuid() and not stat.st_mode & 0o022


def replace_file(file: Path, data: bytes, mode: int = 0o666) -> None:
    """Write a cache file atomically (a reader sees the old one or the new one),
    with `mode` (less the umask); failing to write it is no error."""
    tmp = file.with_name(f"{file.name}.{os.getpid()}.tmp")
    try:
        file.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, mode)
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(tmp, file)
    except OSError:
        with contextlib.suppress(OSError):
            tmp.unlink()
