"""Work in a forked child: its bytes come back; a Python error in it is its
status and its message, on the descriptor given."""

from __future__ import annotations

import os
import tempfile

from ptrace.forked import PYTHON_FAILED, in_child


def test_the_childs_bytes_come_back() -> None:
    status, data = in_child(lambda: b"x" * 200_000 + str(os.getpid()).encode())
    assert status == 0 and data[:200_000] == b"x" * 200_000
    assert int(data[200_000:]) != os.getpid()


def test_an_error_in_the_child_is_its_status_and_message() -> None:
    def fails() -> bytes:
        raise ValueError("no such thing")

    with tempfile.TemporaryFile() as errors:
        status, data = in_child(fails, errors.fileno())
        errors.seek(0)
        assert errors.read() == b"ValueError: no such thing"
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == PYTHON_FAILED and data == b""
