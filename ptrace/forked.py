"""Work done in a forked child, whose result comes back through a pipe: what
must not stay in the process (LLVM's state and aborts, the compile cache's
audit hook)."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable

PYTHON_FAILED = 70  # the child's status when Python code failed in it


def in_child(work: Callable[[], bytes], errors_to: int | None = None) -> tuple[int, bytes]:
    """`work()` run in a forked child: its wait status and the bytes it
    returned. Only os._exit leaves the child: an exception there is written
    to its standard error (`errors_to`, a descriptor, if given) and ends it
    with PYTHON_FAILED."""
    for stream in (sys.stdout, sys.stderr):  # (nothing buffered is written twice)
        with contextlib.suppress(Exception):
            stream.flush()
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child
        code = 0
        try:
            os.close(read_end)
            if errors_to is not None:
                os.dup2(errors_to, 2)
            with os.fdopen(write_end, "wb") as out:
                out.write(work())
        except BaseException as error:  # a bug of ours: the parent decides
            os.write(2, f"{type(error).__name__}: {error}".encode())
            code = PYTHON_FAILED
        finally:
            os._exit(code)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        data = pipe.read()
    _, status = os.waitpid(pid, 0)
    return status, data
