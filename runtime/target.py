"""The process a run is about: an existing one (-p PID) or a command (-c CMD).

A command is forked before the probes attach but held before its exec, so
it cannot run a single instruction untraced: the child blocks reading a
pipe until `release()`. (subprocess cannot do this: it waits for the exec.)
The run ends when the process ends; the command ends when the run does, even
a run killed with SIGKILL.
"""

from __future__ import annotations

import os
import shlex
import signal
import time

from ptrace.runtime.errors import RuntimeFailure

FINISH_TIMEOUT_S = 2.0
PR_SET_PDEATHSIG = 1


class Target:
    def __init__(self, pid: int, child: bool = False, go: int | None = None,
                 binary: str = ""):
        self.pid = pid
        # Its program's file (a held command's, which it has not run yet).
        self.binary = binary or f"/proc/{pid}/exe"
        self._child = child  # we forked it, so we reap it
        self._go = go  # write end of the pipe a held child waits on
        self._exited = False

    @classmethod
    def existing(cls, pid: int) -> Target:
        if pid <= 0 or not os.path.exists(f"/proc/{pid}"):
            raise RuntimeFailure(f"there is no process {pid}")
        return cls(pid)

    @classmethod
    def command(cls, command: str) -> Target:
        argv = shlex.split(command)
        if not argv:
            raise RuntimeFailure("-c needs a command")
        import shutil  # (with bz2, lzma, …: only for -c)

        binary = shutil.which(argv[0])
        if binary is None:
            raise RuntimeFailure(f"cannot run {argv[0]}: no such program")
        wait, go = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: wait for the go, then become the command
            try:
                os.close(go)
                _end_with_parent()
                if os.read(wait, 1):
                    os.close(wait)
                    os.execvp(argv[0], argv)
            finally:
                os._exit(127)
        os.close(wait)
        return cls(pid, child=True, go=go, binary=os.path.abspath(binary))

    def release(self) -> None:
        """Let a held command go on to exec (no-op for an existing process)."""
        if self._go is not None:
            os.write(self._go, b"x")
            os.close(self._go)
            self._go = None

    def alive(self) -> bool:
        if self._child:
            return not self._reap()
        try:
            with open(f"/proc/{self.pid}/stat") as f:
                return f.read().rsplit(")", 1)[-1].split()[0] != "Z"
        except OSError:
            return False

    def _reap(self) -> bool:
        """Whether our child has exited (collecting it if so)."""
        if not self._exited:
            done, _status = os.waitpid(self.pid, os.WNOHANG)
            self._exited = done == self.pid
        return self._exited

    def finish(self) -> None:
        """At the end of a run: a held command exits without running, one still
        running is terminated (then killed), and the child is reaped."""
        if not self._child:
            return
        if self._go is not None:
            os.close(self._go)  # EOF: the held child exits without running
            self._go = None
        if not self._reap():
            os.kill(self.pid, signal.SIGTERM)
        deadline = time.monotonic() + FINISH_TIMEOUT_S
        while not self._reap():
            if time.monotonic() > deadline:
                os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)
                self._exited = True
            else:
                time.sleep(0.01)


def _end_with_parent() -> None:
    """In the forked child: be sent SIGTERM when ptrace dies, as ptrace would send it
    at the end of a run, so that a ptrace killed with SIGKILL leaves no command
    running. (The setting lasts across exec, not across a set-user-ID one.) A
    ptrace that died before the setting was made closed the pipe: the child's
    read sees its end and the child exits without running the command."""
    import ctypes

    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
