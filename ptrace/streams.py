"""The command's standard streams when the environment is hostile: closed, full,
or a pipe whose reader went away.

- A standard stream that was closed when ptrace started gets /dev/null on its
  descriptor, so that no file, map or program ptrace opens takes descriptor 0,
  1 or 2 (a command run by -c or system() would inherit it as its stream);
  `closed_at_start` says which were closed.
- The run's output goes through a `CheckedOutput`: the first write or flush
  that fails stops the run with `OutputFailed` (a broken pipe is a
  `BrokenPipeError`, the reader having gone away), and nothing more is
  written to that stream.
- Messages go through a `QuietErrors`: a standard error that cannot be
  written to loses them, since there is nowhere left to say so.
"""

from __future__ import annotations

import errno
import io
import os
import sys
from typing import TextIO

STANDARD_NAMES = {0: "standard input", 1: "standard output", 2: "standard error"}


def reopen_closed() -> frozenset[int]:
    """Put /dev/null on each standard descriptor that is closed; which they were.
    Call it first, before anything opens a file."""
    closed = set()
    for fd in STANDARD_NAMES:
        try:
            os.fstat(fd)
        except OSError:
            null = os.open(os.devnull, os.O_RDWR)
            if null != fd:
                os.dup2(null, fd)
                os.close(null)
            closed.add(fd)
    if 2 in closed or sys.stderr is None:  # print(file=None) would write to stdout
        sys.stderr = open(os.devnull, "w")  # noqa: SIM115 (for the whole process)
    return frozenset(closed)


class OutputFailed(Exception):
    """The run's output could not be written; the run stops."""

    def __init__(self, where: str, error: OSError):
        super().__init__(f"cannot write to {where}: {error.strerror or error}")
        self.where, self.error = where, error


class StreamWrapper(io.TextIOBase):
    """A text stream in front of another: writable, with the other's descriptor
    and terminal. Subclasses decide what a write does."""

    def __init__(self, stream: TextIO):
        super().__init__()
        self.stream = stream

    def writable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self.stream.fileno()

    def isatty(self) -> bool:
        return self.stream.isatty()


class CheckedOutput(StreamWrapper):
    """A text stream that stops the run at its first failure to write.

    The failure is raised once, as `OutputFailed` (or `BrokenPipeError` for a
    pipe without reader); from then on writes are dropped, and the stream's
    descriptor points at /dev/null so that what the stream still buffers
    cannot fail again when it is flushed or closed, at exit included.
    """

    def __init__(self, stream: TextIO, where: str):
        super().__init__(stream)
        self.where = where
        self.failed: OSError | None = None

    def write(self, text: str, /) -> int:
        if self.failed is None:
            try:
                self.stream.write(text)
            except OSError as error:
                self._fail(error)
        return len(text)

    def flush(self) -> None:
        if self.failed is None:
            try:
                self.stream.flush()
            except OSError as error:
                self._fail(error)

    def _fail(self, error: OSError) -> None:
        self.failed = error
        _point_at_null(self.stream)
        if error.errno == errno.EPIPE:
            raise BrokenPipeError(error.errno, error.strerror)
        raise OutputFailed(self.where, error) from None


class QuietErrors(StreamWrapper):
    """Standard error that drops what it cannot write."""

    def write(self, text: str, /) -> int:
        try:
            self.stream.write(text)
        except OSError:
            _point_at_null(self.stream)
        return len(text)

    def flush(self) -> None:
        try:
            self.stream.flush()
        except OSError:
            _point_at_null(self.stream)


def _point_at_null(stream: TextIO) -> None:
    """Make a stream's descriptor /dev/null: what it buffers goes nowhere, quietly."""
    try:
        fd = stream.fileno()
    except (OSError, ValueError):
        return
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, fd)
    os.close(null)
