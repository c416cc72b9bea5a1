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
from typing import TYPE_CHECKING, NoReturn

if TYPE_CHECKING:
    from collections.abc import Callable
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


def write_out(text: str) -> int:
    """Write a listing or help to standard output; a failure raises OutputFailed."""
    if sys.stdout is None:
        raise OutputFailed("standard output", OSError(errno.EBADF, "it is closed"))
    out = CheckedOutput(sys.stdout, "standard output")
    out.write(text)
    out.flush()
    return 0


def finish(work: Callable[[], int]) -> int:
    """The exit status of a command's work: an interrupt is 130, a reader that
    went away (ptrace … | head) 0, output that cannot be written an error."""
    try:
        return work()
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # not an error of ours
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OutputFailed as error:
        print(f"ptrace: error: {error}", file=sys.stderr)
        return 1


def entry_point(main: Callable[[], int]) -> NoReturn:
    """Run the command's main and exit with its status. A standard stream that
    was closed gets /dev/null; standard error that cannot be written to drops
    what it cannot write; internal errors say so, briefly, and exit 2."""
    reopen_closed()
    sys.stderr = QuietErrors(sys.stderr)
    try:
        code = main()
    except SystemExit:
        raise
    except KeyboardInterrupt:  # before main() could take it: quietly, as finish() does
        code = 130
    except BaseException as error:  # a bug: say so instead of showing a traceback
        if os.environ.get("PTRACE_DEBUG"):
            raise
        print(f"ptrace: internal error: {type(error).__name__}: {error}\n"
              "This is a bug in ptrace; please report it with the script that caused it "
              "(set PTRACE_DEBUG=1 to see the traceback).", file=sys.stderr)
        code = 2
    sys.exit(code)
